"""Finding a C compiler that can target eBPF: a ``clang`` on PATH, else the ``ziglang`` package."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from ..errors import CompileError, CompilerNotFoundError
from .cache import cache_dir, write_atomic

log = logging.getLogger("pybpf.cc")

INSTALL_HINT = (
    "no C compiler for eBPF: install the 'c' extra (pip install 'pybpf[c]'), "
    "or put a clang with the bpf target on PATH"
)


class CompilerKind(str, Enum):
    """Which driver runs clang."""

    CLANG = "clang"  # a clang binary on PATH
    ZIG = "zig"  # clang inside the ziglang wheel, run as ``<ziglang>/zig cc`` (no Python in between)


#: the target triple each driver wants for little-endian eBPF
_TARGET: dict[CompilerKind, str] = {
    CompilerKind.CLANG: "bpfel",
    CompilerKind.ZIG: "bpfel-freestanding",
}

#: host machine (``platform.machine()``) -> the ``__TARGET_ARCH_*`` the tracing headers select
_ARCH: dict[str, str] = {
    "x86_64": "x86",
    "amd64": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
}


@dataclass(frozen=True)
class Compiler:
    """A C compiler command able to emit eBPF objects."""

    kind: CompilerKind
    command: tuple[str, ...]
    version: str

    @property
    def target_flags(self) -> tuple[str, ...]:
        return ("-target", _TARGET[self.kind])


def target_arch(machine: str | None = None) -> str:
    """The ``__TARGET_ARCH_<arch>`` suffix for ``machine`` (default: this host)."""
    machine = (machine or platform.machine()).lower()
    try:
        return _ARCH[machine]
    except KeyError:
        raise CompileError(
            f"pybpf's tracing headers know x86_64 and arm64, not {machine!r}; "
            "pass defines={'__TARGET_ARCH_<arch>': None} for another architecture"
        ) from None


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("running %s failed: %s", cmd, exc)
        return None


def _persisted(binary: str, stamp: tuple[int, int], probe: Callable[[], str]) -> str:
    """``probe()``'s answer for this exact binary, remembered across processes in the cache
    (``compilers.json``), so a cache hit in a new process runs no compiler at all."""
    key = f"{binary}:{stamp[0]}:{stamp[1]}"
    path = cache_dir() / "compilers.json"
    try:
        known = json.loads(path.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), str):
        return str(known[key])
    answer = probe()
    known[key] = answer
    try:
        write_atomic(path, json.dumps(known, indent=0, sort_keys=True).encode())
    except OSError as exc:
        log.debug("cannot remember the compiler version in %s: %s", path, exc)
    return answer


def _clang_version(path: str) -> str:
    """The version line of the clang at ``path``, or "" when it has no bpf target."""
    targets = _run([path, "-print-targets"])
    if targets is None or targets.returncode != 0 or "bpfel" not in targets.stdout:
        log.info("%s has no bpf target; not using it", path)
        return ""
    version = _run([path, "--version"])
    return version.stdout.splitlines()[0] if version and version.stdout else "clang"


def _zig_version(python: str) -> str:
    version = _run([python, "-m", "ziglang", "cc", "--version"])
    if version is None or version.returncode != 0 or not version.stdout:
        raise CompilerNotFoundError(f"the ziglang package is installed but does not run; {INSTALL_HINT}")
    return "zig " + version.stdout.splitlines()[0]


@functools.lru_cache(maxsize=8)
def _probe_clang(path: str, stamp: tuple[int, int]) -> str | None:
    """The version line of the clang at ``path`` if it has the bpf target, else None."""
    return _persisted(path, stamp, lambda: _clang_version(path)) or None


@functools.lru_cache(maxsize=2)
def _probe_zig(zig: str, stamp: tuple[int, int]) -> str:
    return _persisted(zig, stamp, lambda: _zig_version(sys.executable))


def _stamp(path: str) -> tuple[int, int]:
    """(mtime, size) of a file, so a replaced compiler is probed again."""
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _zig_binary() -> str | None:
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        for name in ("zig", "zig.exe"):
            candidate = os.path.join(loc, name)
            if os.path.exists(candidate):
                return candidate
    return None


def discover_compiler() -> Compiler:
    """The compiler :func:`pybpf.cc.compile` uses.

    A ``clang`` on PATH that lists ``bpfel`` in ``clang -print-targets`` is preferred;
    otherwise the clang inside the ``ziglang`` wheel (its ``zig cc``). Results
    are cached per process (keyed by the binary's mtime and size).

    Raises:
        CompilerNotFoundError: neither is available; the message says what to install.
    """
    clang = shutil.which("clang")
    if clang:
        version = _probe_clang(clang, _stamp(clang))
        if version is not None:
            return Compiler(CompilerKind.CLANG, (clang,), version)
    zig = _zig_binary()
    if zig is None:
        raise CompilerNotFoundError(INSTALL_HINT)
    version = _probe_zig(zig, _stamp(zig))
    # the wheel's binary itself: ``python -m ziglang cc`` only execs it, after a Python start-up
    return Compiler(CompilerKind.ZIG, (zig, "cc"), version)


def find_compiler() -> list[str]:
    """The command that runs a clang with the BPF target (see :func:`discover_compiler`)."""
    return list(discover_compiler().command)
