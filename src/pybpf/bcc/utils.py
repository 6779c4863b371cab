"""``bcc.utils``: the small helpers bcc scripts import (``printb``, ``ArgString``, ...)."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from typing import IO, Any


def printb(s: bytes | str, file: IO[str] | None = None, nl: int = 1) -> None:
    """Write ``s`` (bytes written as-is, no ``b'...'``) to ``file`` (stdout) and flush;
    ``nl=0`` leaves out the newline."""
    out = sys.stdout if file is None else file
    data = s if isinstance(s, (bytes, bytearray)) else str(s).encode()
    buf = getattr(out, "buffer", None)
    out.flush()
    if buf is not None:
        buf.write(bytes(data) + (b"\n" if nl else b""))
        buf.flush()
    else:
        out.write(bytes(data).decode(errors="replace") + ("\n" if nl else ""))
        out.flush()


class ArgString:
    """An argparse ``type=`` for arguments used as bytes in BPF text: ``str()`` and ``bytes()`` both work."""

    def __init__(self, s: str) -> None:
        self.s = s

    def __str__(self) -> str:
        return self.s

    def __bytes__(self) -> bytes:
        return self.s.encode()

    def __repr__(self) -> str:
        return f"ArgString({self.s!r})"


def _read_cpu_range(path: str) -> list[int]:
    cpus: list[int] = []
    with open(path) as f:
        for part in f.read().strip().split(","):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def get_online_cpus() -> list[int]:
    """The CPUs online now."""
    return _read_cpu_range("/sys/devices/system/cpu/online")


def get_possible_cpus() -> list[int]:
    """The CPUs the kernel could bring online (the per-CPU map slots)."""
    return _read_cpu_range("/sys/devices/system/cpu/possible")


def detect_language(candidates: list[str], pid: int) -> str | None:
    """The first of ``candidates`` (``"c"``, ``"java"``, ``"python"``...) whose name appears in the
    process's command or mapped libraries, or None."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
    except OSError:
        return None
    for lang in candidates:
        if lang in comm or f"lib{lang}" in maps:
            return lang
    return None


def warn_with_traceback(message: Any, category: type[Warning], filename: str, lineno: int,
                        file: IO[str] | None = None, line: str | None = None) -> None:
    """A ``warnings.showwarning`` that prints the stack too."""
    log = file if file is not None else sys.stderr
    traceback.print_stack(file=log)
    log.write(warnings.formatwarning(message, category, filename, lineno, line))


def warn(message: str) -> None:
    """Print a warning line to stderr (what bcc tools do for non-fatal problems)."""
    print(f"WARNING: {message}", file=sys.stderr)


def disable_stdout_buffering() -> None:
    """Line-buffer stdout (for tools whose output is piped)."""
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except AttributeError:
        os.environ["PYTHONUNBUFFERED"] = "1"


__all__ = ["ArgString", "detect_language", "disable_stdout_buffering", "get_online_cpus", "get_possible_cpus",
           "printb", "warn", "warn_with_traceback"]
