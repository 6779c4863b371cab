"""printf-style formatting as trace_printk / snprintf do it (the kernel's subset: %d %i %u %x
%X %o %c %s %p %%, with h/hh/l/ll/z length modifiers, flags, width and precision)."""

from __future__ import annotations

import re
from typing import Callable

from ..memory import VMError

_SPEC = re.compile(rb"%([-+ #0]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXocsp%])")
M64 = (1 << 64) - 1


def format_bpf(fmt: bytes, args: list[int], read_str: Callable[[int], bytes]) -> bytes:
    """Format ``fmt`` with u64 ``args`` (``%s`` arguments are addresses read with ``read_str``)."""
    out = bytearray()
    pos = 0
    it = iter(args)
    for m in _SPEC.finditer(fmt):
        out += fmt[pos:m.start()]
        pos = m.end()
        flags, width, prec, length, conv = m.groups()
        if conv == b"%":
            out += b"%"
            continue
        try:
            arg = next(it)
        except StopIteration:
            raise VMError(f"format {fmt!r} has more conversions than arguments ({len(args)})") from None
        bits = 64 if length in (b"l", b"ll", b"z") else 32
        if length == b"h":
            bits = 16
        elif length == b"hh":
            bits = 8
        pyflags = flags.decode()
        spec = f"{pyflags}{width.decode()}"
        if conv in (b"d", b"i"):
            v = arg & ((1 << bits) - 1)
            v = v - (1 << bits) if v >> (bits - 1) else v
            text = f"%{spec}d" % v
        elif conv in (b"u", b"x", b"X", b"o"):
            v = arg & ((1 << bits) - 1)
            text = f"%{spec}{conv.decode()}" % v
        elif conv == b"c":
            text = f"%{spec}c" % chr(arg & 0xFF)
        elif conv == b"p":
            text = f"%{spec}s" % f"0x{arg & M64:x}"
        else:  # %s
            s = read_str(arg).decode("latin-1")
            if prec:
                s = s[:int(prec)]
            text = f"%{spec}s" % s
        out += text.encode("latin-1")
    out += fmt[pos:]
    return bytes(out)
