"""``pybpf trace`` command line: listing, errors shown as bpftrace shows them, the codegen seam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybpf.cli import main
from pybpf.trace.runtime import listing

FIELDS = {("sched", "sched_switch"): ["char prev_comm[16]", "pid_t prev_pid"], ("irq", "irq_handler_entry"): ["int irq"]}


@pytest.fixture
def fake_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = listing.probe_listing
    sources = listing.ListingSources(tracepoints=lambda: list(FIELDS), tracepoint_fields=lambda c, n: FIELDS[(c, n)],
                                     kprobe_functions=lambda: [], fentry_refusal=lambda: "no trampolines here",
                                     kernel_functions=lambda: ["vfs_read"])

    def probe_listing(pattern: str | None = None, *, verbose: bool = False, sources_: Any = None) -> Any:
        return real(pattern, verbose=verbose, sources=sources)

    monkeypatch.setattr(listing, "probe_listing", probe_listing)


def test_list_verbose(fake_listing: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-lv", "tracepoint:sched:*"]) == 0
    assert capsys.readouterr().out == "tracepoint:sched:sched_switch\n    char prev_comm[16]\n    pid_t prev_pid\n"


def test_list_marks_unattachable_btf_functions(fake_listing: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-l", "kfunc:vfs_*"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "fentry:vfs_read  (not attachable on this kernel)\n"
    assert "no trampolines here" in captured.err


def test_list_uprobe_without_binary(fake_listing: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-l", "uprobe:read*"]) == 1
    assert "uprobe:/path/to/binary:PATTERN" in capsys.readouterr().err


def test_no_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace"]) == 1
    assert "give -e 'PROGRAM' or a script file" in capsys.readouterr().err


def test_syntax_error_shown_like_bpftrace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-e", 'BEGIN { printf("hi" }']) == 1
    assert capsys.readouterr().err == ('stdin:1:21-22: ERROR: syntax error, unexpected }, expecting ) or ","\n'
                                       'BEGIN { printf("hi" }\n'
                                       "                    ~\n")


def test_script_file_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.bt"
    script.write_text("BEGIN { @x = ; }\n")
    assert main(["trace", str(script), "arg1"]) == 1
    assert capsys.readouterr().err.startswith(f"{script}:1:")


def test_missing_script_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(tmp_path / "nope.bt")]) == 1
    assert "cannot read script" in capsys.readouterr().err


def test_script_file_that_is_not_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bin.bt"
    script.write_bytes(b"BEGIN { \xff\xfe }")
    assert main(["trace", str(script)]) == 1
    assert f"cannot read script {script}: not UTF-8 text (byte 8)" in capsys.readouterr().err


def test_dry_run_prints_ir_and_instructions_without_loading(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--dry-run", "-e", 'BEGIN { printf("hi\\n"); }']) == 0
    out = capsys.readouterr().out
    ir_text, sep, asm = out.partition("\np0_BEGIN (raw_tracepoint/")
    assert sep, out
    assert 'target triple = "bpfel"' in ir_text and "define " in ir_text
    assert "exit" in asm and "call" in asm
