"""Bytes from the BPF side -> Python values, driven by the front end's types.

Event records (``semantic.model.EventLayout``: ``u64 id`` then C-aligned fields) and map
keys/values are decoded here into the values :mod:`.formatting`, :mod:`.aggregations` and
:mod:`.json` print: ``int``, ``bytes`` (strings, up to the NUL), ``Buffer`` (``buf()``), tuples,
and ``str`` for values the runtime renders itself (kstack/ustack, ksym/usym, ntop, macaddr,
strftime, username, strerror, cgroup paths, probe names).
"""

from __future__ import annotations

import errno as _errno
import os
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..._log import get_logger
from ...errors import BPFError
from .formatting import Buffer
from ..types import (
    ArrayType, BufType, InetType, IntType, KsymType, MacAddrType, PointerType, RecordType, SpecialU64Type, StackMode,
    StackType, StringType, TupleType, Type, U64Kind, UsymType,
)

log = get_logger("pybpf.trace.runtime.decode")


class DecodeError(BPFError):
    """A record is shorter than its layout, or of a type the runtime cannot print."""


def _unknown(address: int) -> str:
    return f"0x{address:x}" if address else "0"


class Symbolizer:
    """Turns addresses into names; tests replace it. The default reads kallsyms and /proc/PID/maps."""

    def ksym(self, address: int, *, offset: bool = False) -> str:
        from ...stacks import ksym
        try:
            s = ksym(address)
        except BPFError as exc:
            log.debug("ksym(%#x): %s", address, exc)
            return _unknown(address)
        if not s.known:
            return _unknown(address)
        return f"{s.name}+{s.offset}" if offset else s.name

    def usym(self, address: int, pid: int, *, offset: bool = False) -> str:
        from ...stacks import usym
        try:
            s = usym(pid, address)
        except (BPFError, OSError) as exc:
            log.debug("usym(%d, %#x): %s", pid, address, exc)
            return _unknown(address)
        if not s.known:
            return _unknown(address)
        return f"{s.name}+{s.offset}" if offset else s.name


#: struct codes of the integers, by (bits, signed)
INT_CODES = {(8, True): "b", (8, False): "B", (16, True): "h", (16, False): "H", (32, True): "i",
              (32, False): "I", (64, True): "q", (64, False): "Q"}


def _int(raw: bytes, off: int, size: int, signed: bool) -> int:
    if off + size > len(raw):
        raise DecodeError(f"record of {len(raw)} bytes is too short for a {size}-byte value at offset {off}; "
                          "the program and the runtime disagree on the event layout")
    return int.from_bytes(raw[off:off + size], "little", signed=signed)


def format_stack(frames: Sequence[str], *, indent: int = 8) -> str:
    """bpftrace's stack text: a newline, then each frame indented on its own line."""
    pad = " " * indent
    return "\n" + "".join(f"{pad}{f}\n" for f in frames)


@dataclass
class Decoder:
    """Decodes values of front-end types; ``probes`` names the ``probe`` builtin's indexes."""

    symbolizer: Symbolizer
    probes: Sequence[str] = ()
    #: indentation of stack frames: 8 in printf/print, 4 inside map keys (bpftrace's layouts)
    stack_indent: int = 8

    def value(self, t: Type, raw: bytes, off: int = 0) -> Any:
        """The value of type ``t`` stored at ``raw[off:]``."""
        handler = _HANDLERS.get(type(t))
        if handler is None:
            raise DecodeError(f"values of type {t} cannot be printed by the runtime yet")
        return handler(self, t, raw, off)

    def fields(self, types: Sequence[tuple[Type, int]], raw: bytes) -> list[Any]:
        """Each ``(type, offset)`` of an event layout, decoded."""
        return [self.value(t, raw, off) for t, off in types]

    def compile(self, types: Sequence[tuple[Type, int]], size: int) -> Callable[[bytes], list[Any]]:
        """:meth:`fields` specialised for one layout (the per-event hot path)."""
        getters = [self.getter(t, off) for t, off in types]

        def decode(raw: bytes) -> list[Any]:
            if len(raw) < size:
                raise DecodeError(f"record of {len(raw)} bytes is shorter than its layout ({size} bytes); "
                                  "the program and the runtime disagree on the event layout")
            return [g(raw) for g in getters]
        return decode

    def getter(self, t: Type, off: int) -> Callable[[bytes], Any]:
        """A function of a record's bytes: its value of type ``t`` at ``off`` (no length check)."""
        if isinstance(t, IntType):
            unpack = struct.Struct("<" + INT_CODES[(t.bits, t.signed)]).unpack_from
            return lambda raw: unpack(raw, off)[0]
        if isinstance(t, StringType):
            end = off + t.size
            return lambda raw: raw[off:end].split(b"\0", 1)[0]
        return lambda raw: self.value(t, raw, off)

    # -- handlers ------------------------------------------------------------------------

    def _int(self, t: IntType, raw: bytes, off: int) -> int:
        return _int(raw, off, t.size, t.signed)

    def _pointer(self, t: PointerType, raw: bytes, off: int) -> int:
        return _int(raw, off, 8, False)

    def _string(self, t: StringType, raw: bytes, off: int) -> bytes:
        return bytes(raw[off:off + t.size]).split(b"\0", 1)[0]

    def _buf(self, t: BufType, raw: bytes, off: int) -> Buffer:
        n = min(raw[off], t.capacity)
        return Buffer(raw[off + 1:off + 1 + n])

    def _tuple(self, t: TupleType, raw: bytes, off: int) -> tuple[Any, ...]:
        return tuple(self.value(e, raw, off + o) for e, o in zip(t.elems, t.offsets))

    def _array(self, t: ArrayType, raw: bytes, off: int) -> Any:
        if isinstance(t.elem, IntType) and t.elem.bits == 8:
            return bytes(raw[off:off + t.count]).split(b"\0", 1)[0]
        return [self.value(t.elem, raw, off + i * t.elem.size) for i in range(t.count)]

    def _record(self, t: RecordType, raw: bytes, off: int) -> Any:
        if t.fields is None:
            return Buffer(raw[off:off + t.size])
        return {f.name: self.value(f.type, raw, off + f.offset) for f in t.fields}

    def _stack(self, t: StackType, raw: bytes, off: int) -> str:
        nr = _int(raw, off, 8, False)
        pid = 0 if t.kernel else _int(raw, off + 8, 8, False)
        first = off + (8 if t.kernel else 16)
        addrs = [_int(raw, first + 8 * i, 8, False) for i in range(min(nr, t.limit))]
        return self.stack_text(t, addrs, pid=pid)

    def stack_text(self, t: StackType, addrs: Sequence[int], *, pid: int) -> str:
        """A stack as bpftrace prints it in ``t.mode`` (frames indented by ``stack_indent``)."""
        def name(a: int) -> str:
            if t.kernel:
                return self.symbolizer.ksym(a, offset=True)
            return self.symbolizer.usym(a, pid, offset=True)
        if t.mode is StackMode.PERF:
            return "\n" + "".join(f"\t{a:x} {name(a)}\n" for a in addrs)
        if t.mode is StackMode.RAW:
            return "\n" + "".join(f"{a:x}\n" for a in addrs)
        return format_stack([name(a) for a in addrs], indent=self.stack_indent)

    def _ksym(self, t: KsymType, raw: bytes, off: int) -> str:
        return self.symbolizer.ksym(_int(raw, off, 8, False))

    def _usym(self, t: UsymType, raw: bytes, off: int) -> str:
        return self.symbolizer.usym(_int(raw, off, 8, False), _int(raw, off + 8, 8, False))

    def _inet(self, t: InetType, raw: bytes, off: int) -> str:
        import ipaddress  # here, not at the top: start-up of every trace would pay for it
        import socket

        family = _int(raw, off, 8, False)
        addr = bytes(raw[off + 8:off + 24])
        if family == socket.AF_INET:
            return str(ipaddress.IPv4Address(addr[:4]))
        if family == socket.AF_INET6:
            return str(ipaddress.IPv6Address(addr))
        return ""

    def _mac(self, t: MacAddrType, raw: bytes, off: int) -> str:
        return ":".join(f"{b:02X}" for b in raw[off:off + 6])

    def _special(self, t: SpecialU64Type, raw: bytes, off: int) -> str:
        v = _int(raw, off, 8, False)
        return _SPECIAL[t.kind](self, t, v)


def _username(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _strerror(n: int) -> str:
    return os.strerror(n) if n in _errno.errorcode else f"Unknown error {n}"


def boot_time_ns() -> int:
    """Wall-clock time of boot in ns (CLOCK_REALTIME - CLOCK_BOOTTIME)."""
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def strftime(fmt: str, ns_since_boot: int, *, boot_ns: int | None = None) -> str:
    """``strftime(fmt, nsecs)``: local time of a boot-relative timestamp; ``%f`` is microseconds."""
    import datetime  # only programs that call strftime() pay for the import

    wall = (boot_time_ns() if boot_ns is None else boot_ns) + ns_since_boot
    dt = datetime.datetime.fromtimestamp(wall / 1e9)
    return dt.strftime(fmt.replace("%f", f"{(wall // 1000) % 1_000_000:06d}"))


def _cgroup_path(cgid: int) -> str:
    return str(cgid)


_SPECIAL: dict[U64Kind, Callable[[Decoder, SpecialU64Type, int], str]] = {
    U64Kind.TIMESTAMP: lambda d, t, v: strftime(t.fmt, v),
    U64Kind.USERNAME: lambda d, t, v: _username(v),
    U64Kind.STRERROR: lambda d, t, v: _strerror(v),
    U64Kind.CGROUP_PATH: lambda d, t, v: _cgroup_path(v),
    U64Kind.PROBE: lambda d, t, v: d.probes[v] if v < len(d.probes) else str(v),
}

_HANDLERS: dict[type, Callable[[Decoder, Any, bytes, int], Any]] = {
    IntType: Decoder._int, PointerType: Decoder._pointer, StringType: Decoder._string, BufType: Decoder._buf,
    TupleType: Decoder._tuple, ArrayType: Decoder._array, RecordType: Decoder._record, StackType: Decoder._stack,
    KsymType: Decoder._ksym, UsymType: Decoder._usym, InetType: Decoder._inet, MacAddrType: Decoder._mac,
    SpecialU64Type: Decoder._special,
}
