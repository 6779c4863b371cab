"""C to eBPF with nothing but pip packages: compiler discovery, flags, cache.

Minimal first version (the cc work item extends it with vmlinux.h, our headers and a cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import CompileError, CompilerNotFoundError


def find_compiler() -> list[str]:
    """The command that runs a clang with the BPF target: a clang on PATH, else ziglang's."""
    clang = shutil.which("clang")
    if clang:
        return [clang]
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise CompilerNotFoundError(
            "no C compiler for eBPF: install the 'c' extra (pip install 'pybpf[c]') "
            "or put a clang with the bpf target on PATH"
        ) from None
    return [sys.executable, "-m", "ziglang", "cc"]


def compile(  # noqa: A001 - the verb users expect
    source_or_path: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    cflags: Sequence[str] = (),
) -> Path:
    """Compile C (a path, or source text) into an eBPF object and return its path."""
    src = Path(os.fspath(source_or_path)) if _looks_like_path(source_or_path) else None
    workdir = Path(tempfile.mkdtemp(prefix="pybpf-cc-"))
    if src is None:
        src = workdir / "prog.bpf.c"
        src.write_text(str(source_or_path))
    out = Path(output) if output else workdir / (src.stem + ".o")
    cmd = [*find_compiler(), "-target", "bpfel-freestanding", "-O2", "-g", "-c", str(src), "-o", str(out)]
    for d in include_dirs:
        cmd += ["-I", os.fspath(d)]
    for k, v in (defines or {}).items():
        cmd.append(f"-D{k}" if v is None else f"-D{k}={v}")
    cmd += list(cflags)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileError(f"compiling {src} failed", diagnostics=proc.stderr, command=cmd)
    return out


def _looks_like_path(value: str | os.PathLike[str]) -> bool:
    if isinstance(value, os.PathLike):
        return True
    return "\n" not in value and len(value) < 4096 and value.endswith((".c", ".h")) and Path(value).exists()
