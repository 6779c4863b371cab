"""The object cache: location, hits without running the compiler, invalidation by headers."""

from __future__ import annotations

from pathlib import Path

import pytest

import pybpf.cc
from pybpf.cc import cache as cc_cache
from pybpf.cc import driver
from pybpf.cc.cache import cache_dir, parse_depfile

PROG = """
#include <bpf/bpf_helpers.h>
#include "value.h"
SEC("xdp") int prog(void *ctx) { return VALUE; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture
def cache(cc_cache_dir: Path) -> Path:
    return cc_cache_dir


@pytest.fixture
def calls(compiler_commands: list[list[str]]) -> list[list[str]]:
    """Every compiler command compile() runs."""
    return compiler_commands


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYBPF_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "pybpf"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "pybpf"
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"


def _imm_of_first_insn(obj: Path) -> int:
    from elftools.elf.elffile import ELFFile

    with obj.open("rb") as f:
        code = ELFFile(f).get_section_by_name("xdp").data()
    return int.from_bytes(code[4:8], "little", signed=True)


def test_second_compile_is_a_hit_that_runs_no_compiler(
    cache: Path, calls: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "value.h").write_text("#define VALUE 7\n")
    first = pybpf.cc.compile(PROG, include_dirs=[inc])
    assert len(calls) == 1
    assert first.is_relative_to(cache)
    assert _imm_of_first_insn(first) == 7

    def no_compiler(cmd: list[str]) -> None:
        raise AssertionError(f"compiler ran on a cache hit: {cmd}")

    monkeypatch.setattr(driver, "_run_compiler", no_compiler)
    second = pybpf.cc.compile(PROG, include_dirs=[inc])
    assert second == first
    out = pybpf.cc.compile(PROG, include_dirs=[inc], output=tmp_path / "out" / "prog.o")
    assert out == tmp_path / "out" / "prog.o"
    assert out.read_bytes() == first.read_bytes()


def test_changed_header_is_a_miss(cache: Path, calls: list[list[str]], tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "value.h").write_text("#define VALUE 7\n")
    assert _imm_of_first_insn(pybpf.cc.compile(PROG, include_dirs=[inc])) == 7
    (inc / "value.h").write_text("#define VALUE 9\n")
    assert _imm_of_first_insn(pybpf.cc.compile(PROG, include_dirs=[inc])) == 9
    assert len(calls) == 2


def test_changed_source_defines_or_flags_are_misses(cache: Path, calls: list[list[str]], tmp_path: Path) -> None:
    src = "int x;\nint f(void) { return VALUE; }\n"
    pybpf.cc.compile(src, defines={"VALUE": "1"})
    pybpf.cc.compile(src, defines={"VALUE": "2"})
    pybpf.cc.compile(src + "\n", defines={"VALUE": "2"})
    pybpf.cc.compile(src, defines={"VALUE": "2"}, cflags=["-mcpu=v4"])
    pybpf.cc.compile(src, defines={"VALUE": "2"}, cflags=["-mcpu=v4"])
    assert len(calls) == 4


def test_source_file_edit_is_a_miss(cache: Path, calls: list[list[str]], tmp_path: Path) -> None:
    path = tmp_path / "prog.bpf.c"
    path.write_text("int f(void) { return 1; }\n")
    pybpf.cc.compile(path)
    pybpf.cc.compile(str(path))
    path.write_text("int f(void) { return 2; }\n")
    pybpf.cc.compile(path)
    assert len(calls) == 2


def test_cache_disabled_always_compiles(cache: Path, calls: list[list[str]], tmp_path: Path) -> None:
    a = pybpf.cc.compile("int x;", cache=False)
    b = pybpf.cc.compile("int x;", cache=False, output=tmp_path / "b.o")
    assert len(calls) == 2
    assert not a.is_relative_to(cache) and a.exists() and b.exists()
    assert not (cache / "objects").exists()


def test_deleted_object_is_rebuilt(cache: Path, calls: list[list[str]]) -> None:
    obj = pybpf.cc.compile("int y;")
    obj.unlink()
    again = pybpf.cc.compile("int y;")
    assert again.exists()
    assert len(calls) == 2


def test_clear_removes_objects(cache: Path, calls: list[list[str]]) -> None:
    pybpf.cc.compile("int z;")
    cc_cache.ObjectCache().clear()
    pybpf.cc.compile("int z;")
    assert len(calls) == 2


def test_parse_depfile_handles_continuations_and_escaped_spaces() -> None:
    text = "out.o: /src/a\\ b.c /inc/x.h \\\n  /inc/y.h\n"
    assert parse_depfile(text) == ["/src/a b.c", "/inc/x.h", "/inc/y.h"]


def test_another_compiler_version_is_a_miss(cache: Path, calls: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    pybpf.cc.compile("int v;")
    real = driver.discover_compiler()
    monkeypatch.setattr(driver, "discover_compiler", lambda: dataclasses.replace(real, version=real.version + " (new)"))
    pybpf.cc.compile("int v;")
    pybpf.cc.compile("int v;")
    assert len(calls) == 2
