"""trace_pipe reading the way bcc prints it, symbol lookups (bytes, as bcc returns them), the
syscall function prefix, and the record types ``.event()`` needs."""

from __future__ import annotations

import functools
import os
import platform
import re
import select
import sys
import time
from typing import Any

from ..errors import BPFError
from ..tracefs import root as tracefs_root

#: one trace_pipe event line: task-pid (tgid) [cpu] flags timestamp: event: message
_TRACE_LINE = re.compile(
    rb"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    rb"(?:(?P<flags>[^\s\[\]]{4,6})\s+)?(?P<ts>\d+\.\d+):\s+[^:\s]+:\s?(?P<msg>.*)$")

#: syscall entry function prefixes by machine (checked against kallsyms), then the generic one
_PREFIXES = {"x86_64": (b"__x64_sys_",), "aarch64": (b"__arm64_sys_",), "s390x": (b"__s390x_sys_",)}


class TraceReader:
    """``trace_pipe`` read line by line, raw (``trace_readline``) or as bcc's fields tuple."""

    def __init__(self) -> None:
        path = tracefs_root() / "trace_pipe"
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise BPFError(f"cannot open {path}: {exc.strerror}; reading it needs root") from exc
        self._buf = b""

    def _fill(self, block: bool) -> bool:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                chunk = None
            except InterruptedError:
                continue
            if chunk:
                self._buf += chunk
                return True
            if not block:
                return False
            select.select([self._fd], [], [])

    def readline(self, *, nonblocking: bool = False) -> bytes:
        while b"\n" not in self._buf:
            if not self._fill(block=not nonblocking):
                return b""
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def fields(self, *, nonblocking: bool = False) -> tuple[bytes, int, int, bytes, float, bytes] | tuple[None, ...]:
        while True:
            line = self.readline(nonblocking=nonblocking)
            if not line:
                if nonblocking:
                    return (None,) * 6
                continue
            if line.startswith(b"CPU:"):  # [LOST n EVENTS] notices
                continue
            m = _TRACE_LINE.match(line)
            if m is None:
                continue
            return (m["task"], int(m["pid"]), int(m["cpu"]), m["flags"] or b"", float(m["ts"]), m["msg"])

    def print_forever(self, fmt: str | None) -> None:
        out = sys.stdout
        while True:
            if fmt:
                fields = self.fields()
                shown = [f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in fields]
                text = fmt.format(*shown)
            else:
                text = self.readline().decode("utf-8", "replace")
            out.write(text + "\n")
            out.flush()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# ---- symbols -------------------------------------------------------------------------------------

def _format(name: str, offset: int, module: str | None, show_module: bool, show_offset: bool) -> bytes:
    text = name
    if show_offset:
        text += f"+{offset:#x}"
    if show_module:
        text += f" [{module or 'kernel'}]"
    return text.encode()


def ksym(addr: int, show_module: bool = False, show_offset: bool = False) -> bytes:
    """The kernel symbol at ``addr`` (``b"[unknown]"`` when none)."""
    from ..stacks import ksym as _ksym

    s = _ksym(addr)
    return _format(s.name, s.offset, s.module, show_module, show_offset)


def ksymname(name: str | bytes) -> int:
    """The address of kernel symbol ``name``, -1 when there is none."""
    from ..stacks import ksymname as _ksymname

    try:
        return _ksymname(name.decode() if isinstance(name, bytes) else name)
    except (KeyError, LookupError, BPFError):
        return -1


def sym(addr: int, pid: int, show_module: bool = False, show_offset: bool = False, demangle: bool = True) -> bytes:
    """The symbol at ``addr`` in process ``pid`` (a kernel symbol when ``pid`` < 0)."""
    if pid < 0:
        return ksym(addr, show_module, show_offset)
    from ..stacks import usym

    s = usym(pid, addr)
    return _format(s.name, s.offset, s.module, show_module, show_offset)


@functools.lru_cache(maxsize=1)
def _kallsyms_text() -> bytes:
    try:
        with open("/proc/kallsyms", "rb") as f:
            return f.read()
    except OSError:
        return b""


@functools.lru_cache(maxsize=1)
def syscall_prefix() -> bytes:
    """The prefix of syscall entry functions on this kernel (``b"__x64_sys_"``, else ``b"sys_"``)."""
    text = _kallsyms_text()
    for prefix in _PREFIXES.get(platform.machine(), ()):
        if b" " + prefix + b"bpf\n" in text:
            return prefix
    if not text:  # kallsyms unreadable: the usual prefix of the machine
        return _PREFIXES.get(platform.machine(), (b"sys_",))[0]
    return b"sys_"


def kprobe_functions(event_re: str | bytes) -> set[bytes]:
    """Traceable kernel functions matching the regex ``event_re``."""
    from .attach import kernel_functions_matching

    pattern = event_re.decode() if isinstance(event_re, bytes) else event_re
    return {n.encode() for n in kernel_functions_matching(pattern)}


def find_library(libname: str | bytes) -> bytes | None:
    """The path of library ``libname`` (``"c"`` -> ``/lib/x86_64-linux-gnu/libc.so.6``), None if not found."""
    from ..link._uprobe_resolve import find_library as _find

    try:
        return _find(libname.decode() if isinstance(libname, bytes) else libname).encode()
    except (BPFError, OSError):
        return None


def monotonic_time() -> int:
    """CLOCK_MONOTONIC in nanoseconds (what ``bpf_ktime_get_ns()`` returns)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


# ---- record types ---------------------------------------------------------------------------

def record_btf(built: Any, type_text: str, cflags: list[str]) -> tuple[Any, int]:
    """BTF holding ``type_text`` (a struct only used by local variables is not in the program's
    BTF): the program recompiled (cached) with one global of that type."""
    from ..cc import cache_dir
    from ..cc import compile as cc_compile
    from .build import vmlinux_dir
    from .build import read_spec
    from .tables.ctypes_btf import find_record

    source = built.result.c_source + f"\n{type_text} __pybpf_record_type __attribute__((used));\n"
    dirs = [*built.result.include_dirs, vmlinux_dir(cache_dir())]
    path = cc_compile(source, include_dirs=dirs, cflags=cflags, name=built.result.name)
    btf = read_spec(path).btf
    bare = type_text.split()[-1]
    tid = find_record(btf, bare) if btf is not None else None
    if tid is None:
        raise BPFError(f"the record type {type_text!r} is not in the program's BTF")
    return btf, tid


__all__ = ["TraceReader", "find_library", "kprobe_functions", "ksym", "ksymname", "monotonic_time", "record_btf",
           "sym", "syscall_prefix"]

