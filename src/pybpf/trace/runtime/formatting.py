"""printf semantics: bpftrace's ``printf``/``system``/``cat`` format strings applied to decoded arguments.

bpftrace hands every integer argument to C's printf as a 64-bit value (sign-extended when its type
is signed), so the length modifier decides the width it is read at: none -> 32 bits, ``h`` -> 16,
``hh`` -> 8, ``l``/``ll``/``z``/``j``/``t`` -> 64; ``%d``/``%i`` read it signed, ``%u %x %X %o``
unsigned.  ``%c`` prints the low byte, ``%p`` is ``0x...`` (``(nil)`` for 0), ``%s`` takes a
string, ``%r`` a buffer with non-printable bytes as ``\\xNN``, ``%rx`` every byte as ``\\xNN``, ``%rh``
bytes as hex pairs separated by spaces.  Flags ``-+ #0``, width and precision behave as in C.

The format string reaches this module already unescaped (the lexer turns ``\\n``, ``\\x41``,
``\\101``... into characters).

>>> format_printf("%-5s|%5d|%lu|%x|%c", [b"ab", -3, -1, 255, 65])
'ab   |   -3|18446744073709551615|ff|A'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import BPFError

_SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<prec>\d+))?"
                   r"(?P<len>hh|h|ll|l|z|j|t)?(?P<conv>rx|rh|[diouxXcspr%])")

#: bits an integer is read at, by length modifier
LENGTH_BITS = {None: 32, "h": 16, "hh": 8, "l": 64, "ll": 64, "z": 64, "j": 64, "t": 64}


class Buffer(bytes):
    """The bytes of a ``buf()`` value: printed with ``\\xNN`` escapes for non-printable bytes."""


class PrintfError(BPFError):
    """An argument does not fit its conversion (a front-end check should have caught it)."""


def _to_bytes(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    raise PrintfError(f"expected a string or buffer argument, got {type(v).__name__} {v!r}; "
                      "check the printf argument types")


def _c_str(v: Any) -> bytes:
    """A C string: up to the first NUL."""
    return _to_bytes(v).split(b"\0", 1)[0]


def _int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    raise PrintfError(f"expected an integer argument, got {type(v).__name__} {v!r}; "
                      "check the printf argument types")


def _at_width(v: int, bits: int, signed: bool) -> int:
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def _pad(text: str, flags: str, width: int | None, zero_ok: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if zero_ok and "0" in flags:
        sign = text[0] if text[:1] in "+- " else ""
        body = text[len(sign):]
        prefix = body[:2] if body[:2] in ("0x", "0X") else ""
        return sign + prefix + body[len(prefix):].rjust(width - len(sign) - len(prefix), "0")
    return text.rjust(width)


_DIGITS = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}


def _integer(m: re.Match[str], v: Any) -> str:
    conv, flags, prec = m["conv"], m["flags"], m["prec"]
    signed = conv in "di"
    n = _at_width(_int(v), LENGTH_BITS[m["len"]], signed)
    digits = format(abs(n), _DIGITS[conv])
    if prec is not None:
        digits = digits.rjust(int(prec), "0") if not (int(prec) == 0 and n == 0) else ""
    if "#" in flags and n:
        digits = {"x": "0x" + digits, "X": "0X" + digits, "o": digits if digits.startswith("0") else "0" + digits
                  }.get(conv, digits)
    sign = "-" if n < 0 else ("+" if "+" in flags and signed else (" " if " " in flags and signed else ""))
    return _pad(sign + digits, flags, _width(m), zero_ok=prec is None)


def _width(m: re.Match[str]) -> int | None:
    return int(m["width"]) if m["width"] else None


def _char(m: re.Match[str], v: Any) -> str:
    return _pad(bytes([_int(v) & 0xFF]).decode("latin-1"), m["flags"], _width(m))


def _pointer(m: re.Match[str], v: Any) -> str:
    n = _int(v) & 0xFFFFFFFFFFFFFFFF
    return _pad(f"0x{n:x}" if n else "(nil)", m["flags"], _width(m))


def _string(m: re.Match[str], v: Any) -> str:
    data = _c_str(v)
    if m["prec"] is not None:
        data = data[:int(m["prec"])]
    return _pad(data.decode("utf-8", "surrogateescape"), m["flags"], _width(m))


def escape_buffer(data: bytes) -> str:
    """``%r``: printable ASCII as is, every other byte as ``\\xNN``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in data)


def _hex_escaped(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _hex_pairs(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


_BUFFER_STYLES: dict[str, Callable[[bytes], str]] = {"r": escape_buffer, "rx": _hex_escaped, "rh": _hex_pairs}


def _buffer(m: re.Match[str], v: Any) -> str:
    data = _to_bytes(v)
    text = _BUFFER_STYLES[m["conv"]](data)
    return _pad(text, m["flags"], _width(m))


_CONVERSIONS: dict[str, Callable[[re.Match[str], Any], str]] = {
    **{c: _integer for c in "diouxX"}, "c": _char, "p": _pointer, "s": _string,
    "r": _buffer, "rx": _buffer, "rh": _buffer,
}


def _fast(m: re.Match[str]) -> Callable[[Any], str] | None:
    """A specialised converter for the common plain conversions (no flags, no precision)."""
    if m["flags"] or m["prec"] is not None or m["conv"] not in "diuxXs":
        return None
    width = _width(m)
    conv = m["conv"]
    if conv == "s":
        def text(v: Any) -> str:
            if isinstance(v, bytes):
                return v.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            return _string(m, v)
        base: Callable[[Any], str] = text
    else:
        bits = LENGTH_BITS[m["len"]]
        mask = (1 << bits) - 1
        if conv in "di":
            lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)

            def signed(v: Any) -> str:
                if type(v) is int and lo <= v < hi:
                    return str(v)
                return str(_at_width(_int(v), bits, True))
            base = signed
        else:
            spec = {"u": "d", "x": "x", "X": "X"}[conv]

            def unsigned(v: Any) -> str:
                return format((v if type(v) is int else _int(v)) & mask, spec)
            base = unsigned
    if width is None:
        return base
    return lambda v: base(v).rjust(width)


def conversion(m: re.Match[str]) -> Callable[[Any], str]:
    """The converter of one conversion spec (a match of the spec pattern): argument -> its text."""
    return _fast(m) or functools.partial(_CONVERSIONS[m["conv"]], m)


def split_format(fmt: str) -> tuple[list[str], list[re.Match[str]], str]:
    """``fmt`` as (the literal text before each conversion, the conversions, the text after the
    last one); ``%%`` is already a plain ``%`` in the literal text."""
    literals: list[str] = []
    specs: list[re.Match[str]] = []
    pos = 0
    text: list[str] = []
    i = fmt.find("%")
    while i >= 0:
        text.append(fmt[pos:i])
        m = _SPEC.match(fmt, i)
        if m is None:
            raise PrintfError(f"invalid conversion {fmt[i:i + 2]!r} in format string {fmt!r}")
        if m["conv"] == "%":
            text.append("%")
        else:
            literals.append("".join(text))
            text = []
            specs.append(m)
        pos = m.end()
        i = fmt.find("%", pos)
    text.append(fmt[pos:])
    return literals, specs, "".join(text)


@functools.lru_cache(maxsize=1024)
def compile_format(fmt: str) -> Callable[[Sequence[Any]], str]:
    """``fmt`` parsed once: a function of the arguments (what :func:`format_printf` runs)."""
    literals, specs, tail = split_format(fmt)
    pieces = [conversion(m) for m in specs]
    n = len(pieces)

    def render(args: Sequence[Any]) -> str:
        if len(args) < n:
            raise PrintfError(f"not enough arguments for format string {fmt!r}")
        out = [x for lit, piece, arg in zip(literals, pieces, args) for x in (lit, piece(arg))]
        out.append(tail)
        return "".join(out)

    return render


def format_printf(fmt: str, args: Sequence[Any]) -> str:
    """``fmt`` with each conversion replaced by the next argument, as bpftrace's printf prints it.

    Integers are Python ints (any width; negative for negative signed values); strings are
    ``bytes`` (NUL-terminated or not) or ``str``; buffers are ``bytes``.
    """
    return compile_format(fmt)(args)
