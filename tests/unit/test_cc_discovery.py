"""Compiler discovery and the flags pybpf.cc passes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pybpf.cc import discovery
from pybpf.cc.discovery import Compiler, CompilerKind, discover_compiler, find_compiler, target_arch
from pybpf.cc.driver import compiler_flags
from pybpf.errors import CompileError, CompilerNotFoundError


def _fake_clang(directory: Path, targets: str) -> Path:
    """A `clang` shell script answering -print-targets with `targets` and --version."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "clang"
    path.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  -print-targets) printf '  Registered Targets:\\n{targets}\\n' ;;\n"
        "  --version) echo 'clang version 99.0.0 (fake)' ;;\n"
        "  *) echo 'fake clang cannot compile' >&2; exit 1 ;;\n"
        "esac\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(autouse=True)
def _fresh_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "cache"))
    discovery._probe_clang.cache_clear()
    discovery._probe_zig.cache_clear()


def test_clang_with_bpf_target_on_path_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clang = _fake_clang(tmp_path / "bin", "    bpf    - BPF (host endian)\\n    bpfel  - BPF (little endian)")
    monkeypatch.setenv("PATH", str(clang.parent))
    found = discover_compiler()
    assert found.kind is CompilerKind.CLANG
    assert found.command == (str(clang),)
    assert found.version == "clang version 99.0.0 (fake)"
    assert find_compiler() == [str(clang)]


def test_clang_without_bpf_target_falls_back_to_ziglang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clang = _fake_clang(tmp_path / "bin", "    x86-64 - 64-bit X86: EM_X86_64")
    monkeypatch.setenv("PATH", str(clang.parent))
    found = discover_compiler()
    assert found.kind is CompilerKind.ZIG
    assert found.command == (discovery._zig_binary(), "cc")  # the wheel's binary, no Python start-up
    assert found.version.startswith("zig clang version")


def test_no_clang_uses_ziglang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert discover_compiler().kind is CompilerKind.ZIG


def test_neither_compiler_raises_with_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(discovery, "_zig_binary", lambda: None)
    with pytest.raises(CompilerNotFoundError, match=r"pip install 'pybpf\[c\]'") as info:
        discover_compiler()
    assert isinstance(info.value, CompileError)


def test_compile_without_any_compiler_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pybpf.cc

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(discovery, "_zig_binary", lambda: None)
    with pytest.raises(CompilerNotFoundError):
        pybpf.cc.compile("int x;")


@pytest.mark.parametrize(
    ("kind", "triple"), [(CompilerKind.CLANG, "bpfel"), (CompilerKind.ZIG, "bpfel-freestanding")]
)
def test_target_and_default_flags(kind: CompilerKind, triple: str) -> None:
    flags = compiler_flags(Compiler(kind, ("cc",), "v"))
    assert flags[:2] == ["-target", triple]
    assert "-O2" in flags and "-g" in flags
    assert f"-D__TARGET_ARCH_{target_arch()}" in flags
    assert "-D__BPF_TRACING__" in flags


def test_user_defines_and_cflags_come_after_defaults() -> None:
    flags = compiler_flags(
        Compiler(CompilerKind.ZIG, ("cc",), "v"),
        include_dirs=["rel/dir"],
        defines={"A": "1", "B": None},
        cflags=["-O1", "-mcpu=v4"],
    )
    assert flags[-4:] == ["-DA=1", "-DB", "-O1", "-mcpu=v4"]
    assert flags.index("-O2") < flags.index("-O1")
    # user include dirs are made absolute and searched before pybpf's own headers
    user = flags.index(os.path.abspath("rel/dir"))
    ours = flags.index(str(Path(discovery.__file__).parent / "include"))
    assert user < ours


@pytest.mark.parametrize(
    ("machine", "arch"), [("x86_64", "x86"), ("AMD64", "x86"), ("aarch64", "arm64"), ("arm64", "arm64")]
)
def test_target_arch_from_host(machine: str, arch: str) -> None:
    assert target_arch(machine) == arch


def test_unknown_host_arch_says_what_to_do() -> None:
    with pytest.raises(CompileError, match="__TARGET_ARCH_"):
        target_arch("riscv64")


def test_compiler_version_is_remembered_across_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "cache"))
    clang = _fake_clang(tmp_path / "bin", "    bpfel  - BPF (little endian)")
    monkeypatch.setenv("PATH", str(clang.parent))
    first = discover_compiler()
    discovery._probe_clang.cache_clear()  # as in a new process

    def no_run(cmd: list[str]) -> None:
        raise AssertionError(f"ran {cmd}")

    monkeypatch.setattr(discovery, "_run", no_run)
    assert discover_compiler() == first
    # a replaced binary is probed again
    clang.write_text(clang.read_text() + "# changed\n")
    discovery._probe_clang.cache_clear()
    with pytest.raises(AssertionError, match="ran"):
        discover_compiler()
