"""CompileError carries the compiler's diagnostics, located in the user's files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pybpf.cc
from pybpf.cc import Diagnostic, Severity, parse_diagnostics
from pybpf.errors import CompileError

BROKEN = """\
#include <bpf/bpf_helpers.h>

SEC("xdp")
int prog(void *ctx)
{
	return undeclared_thing;
}
"""


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "cache"))


def test_error_in_source_text_reports_its_line() -> None:
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile(BROKEN)
    err = info.value
    errors = [m for m in err.messages if m.is_error]
    assert errors[0] == Diagnostic("<source>", 6, 9, Severity.ERROR, "use of undeclared identifier 'undeclared_thing'")
    assert "<source>:6:9: error: use of undeclared identifier" in str(err)
    assert "pybpf-cc-" not in err.diagnostics  # the temporary file is not shown
    assert err.command and "-c" in err.command


def test_source_text_name_is_used_in_diagnostics() -> None:
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile(BROKEN, name="counter.bpf.c")
    assert info.value.messages[0].file == "counter.bpf.c"
    assert info.value.messages[0].line == 6


def test_error_in_file_reports_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.bpf.c"
    path.write_text(BROKEN)
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile(path)
    first = info.value.messages[0]
    assert (Path(first.file).resolve(), first.line) == (path.resolve(), 6)


def test_error_in_included_header_names_the_header(tmp_path: Path) -> None:
    (tmp_path / "bad.h").write_text("int ok;\nint broken = ;\n")
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile('#include "bad.h"\nint x;\n', include_dirs=[tmp_path])
    first = [m for m in info.value.messages if m.is_error][0]
    assert Path(first.file).name == "bad.h"
    assert first.line == 2


def test_several_errors_are_all_kept() -> None:
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile("int a = ;\nint b = ;\nint c = ;\n")
    assert [m.line for m in info.value.messages if m.is_error] == [1, 2, 3]


def test_missing_include_is_a_fatal_error() -> None:
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile('#include "no_such_header.h"\n')
    assert info.value.messages[0].severity is Severity.FATAL
    assert "no_such_header.h" in info.value.messages[0].message


def test_warnings_do_not_fail_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pybpf.cc"):
        obj = pybpf.cc.compile("#warning careful\nint x;\n", cflags=["-Wall"])
    assert obj.exists()
    assert any("<source>:1:2: warning: careful" in r.getMessage() for r in caplog.records)


def test_unreadable_path_is_a_compile_error(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="cannot read"):
        pybpf.cc.compile(tmp_path / "missing.bpf.c")
    with pytest.raises(CompileError, match="cannot read"):
        pybpf.cc.compile(str(tmp_path / "missing.bpf.c"))


def test_parse_diagnostics() -> None:
    text = (
        "In file included from /tmp/x/prog.bpf.c:1:\n"
        "/tmp/x/prog.bpf.c:3:5: warning: unused variable 'a' [-Wunused-variable]\n"
        "    3 | int a;\n"
        "/usr/inc/h.h:10: error: something without a column\n"
        "prog.c:1:1: note: declared here\n"
        "1 warning and 1 error generated.\n"
    )
    got = parse_diagnostics(text, rename={"/tmp/x/prog.bpf.c": "<source>"})
    assert got == [
        Diagnostic("<source>", 3, 5, Severity.WARNING, "unused variable 'a' [-Wunused-variable]"),
        Diagnostic("/usr/inc/h.h", 10, 0, Severity.ERROR, "something without a column"),
        Diagnostic("prog.c", 1, 1, Severity.NOTE, "declared here"),
    ]
    assert str(got[0]) == "<source>:3:5: warning: unused variable 'a' [-Wunused-variable]"


_names = st.text(st.characters(blacklist_characters=":\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=30)


@given(
    file=_names.filter(lambda s: s.strip() == s and s != ""),
    line=st.integers(1, 10**6),
    column=st.integers(1, 10**4),
    severity=st.sampled_from(list(Severity)),
    message=st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=80),
)
def test_diagnostic_text_round_trips(file: str, line: int, column: int, severity: Severity, message: str) -> None:
    diag = Diagnostic(file, line, column, severity, message)
    assert parse_diagnostics(f"noise\n{diag}\n   | context\n") == [diag]


@given(st.text(max_size=400))
def test_parse_diagnostics_never_raises(text: str) -> None:
    for d in parse_diagnostics(text):
        assert d.line >= 0 and isinstance(d.severity, Severity)
