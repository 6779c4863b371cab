"""printf records straight from their bytes to text: the per-event hot path of ``pybpf trace``.

A printf event's layout and format string are known before the first record arrives, so each
is compiled once into a :class:`struct.Struct` and a Python %-format string; a record is then
one ``unpack_from`` and one ``%``. The struct reads each integer at the width its conversion
reads it: in a little-endian field the low bytes come first, so reading ``%d``'s 32 bits at the
field's offset is the 64-bit value truncated as C's printf would. Conversions that Python's ``%``
does not print exactly as C (``#``, precision, ``%p``, buffers...) and fields of other types take
the general way (decoded value -> :mod:`.formatting`'s converter), as text in a ``%s`` slot.

The text is the same as :func:`.formatting.format_printf` of the decoded fields (tested on
random formats and values).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from typing import Any

from ..layouts import EventField
from ..types import IntType, PointerType, StringType, Type
from .decode import INT_CODES, DecodeError, Decoder
from .formatting import LENGTH_BITS, compile_format, conversion, split_format

#: a compiled printf record: its bytes -> its text
Renderer = Callable[[bytes], str]

#: integer conversions Python's % prints as C does, with the flags for which that holds
#: (C's ``#`` and precision differ for 0; ``+``/space mean nothing to C's unsigned conversions)
_INT_FLAGS = {"d": frozenset("-+ 0"), "i": frozenset("-+ 0"), "u": frozenset("-0"), "x": frozenset("-0"),
              "X": frozenset("-0")}
_PY_INT_CONV = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X"}


def _c_string(v: bytes) -> str:
    return v.partition(b"\0")[0].decode("utf-8", "surrogateescape")


class _Slot:
    """How one argument is read: a struct code at an offset, then maybe a converter; or, for the
    general way, a function of the whole record (``code`` is then empty)."""

    __slots__ = ("offset", "code", "convert", "text")

    def __init__(self, offset: int, code: str = "", convert: Callable[[Any], Any] | None = None,
                 text: Callable[[bytes], str] | None = None) -> None:
        self.offset = offset
        self.code = code
        self.convert = convert
        self.text = text


def _int_bits(t: Type) -> tuple[int, bool] | None:
    if type(t) is IntType:
        return t.bits, t.signed
    if type(t) is PointerType:
        return 64, False
    return None


def _plain(m: re.Match[str], f: EventField) -> tuple[str, _Slot] | None:
    """(Python %-spec, slot) when Python's ``%`` prints this conversion of this field exactly."""
    conv, flags, width = m["conv"], m["flags"], m["width"] or ""
    if m["prec"] is not None:
        return None
    ints = _int_bits(f.type)
    if ints is not None and conv in _INT_FLAGS and _INT_FLAGS[conv].issuperset(flags):
        bits, field_signed = ints
        signed = conv in "di"
        read = LENGTH_BITS[m["len"]]
        if read <= bits:
            code = INT_CODES[(read, signed)]  # the low bytes: truncated as C reads it
        elif not field_signed or signed:
            code = INT_CODES[(bits, field_signed)]  # widening keeps the value
        else:
            return None  # a negative value read wider as unsigned: the general way masks it
        return f"%{flags}{width}{_PY_INT_CONV[conv]}", _Slot(f.offset, code)
    if ints is not None and conv == "c" and set(flags) <= {"-"}:
        return f"%{flags}{width}c", _Slot(f.offset, "B")  # the low byte
    if type(f.type) is StringType and conv == "s" and set(flags) <= {"-"}:
        return f"%{flags}{width}s", _Slot(f.offset, f"{f.type.size}s", _c_string)
    return None


def _text_of(get: Callable[[bytes], Any], piece: Callable[[Any], str]) -> Callable[[bytes], str]:
    """The general way for one argument: decode it from the record, then convert it."""
    return lambda raw: piece(get(raw))


def _struct_of(slots: Sequence[_Slot], size: int) -> struct.Struct | None:
    """One struct reading every slot's value (a general slot gets an empty ``0s`` placeholder),
    padded to the record size so a short record fails to unpack; None if slots overlap."""
    parts = ["<"]
    pos = 0
    for s in slots:
        code = s.code or "0s"
        if s.offset < pos:
            return None
        if s.offset > pos:
            parts.append(f"{s.offset - pos}x")
        parts.append(code)
        pos = s.offset + struct.calcsize("<" + code)
    if size > pos:
        parts.append(f"{size - pos}x")
    return struct.Struct("".join(parts))


def _layout(fmt: str, fields: Sequence[EventField], size: int,
            decoder: Decoder | None) -> tuple[str, list[_Slot], struct.Struct] | None:
    """(Python %-format, slots, struct) of the one-unpack way of rendering ``fmt`` over ``fields``;
    None when they do not match or slots overlap, or when (``decoder`` None) a conversion needs
    the general way."""
    literals, specs, tail = split_format(fmt)
    if len(specs) != len(fields):
        return None
    pieces: list[str] = []
    slots: list[_Slot] = []
    for lit, m, f in zip(literals, specs, fields):
        plain = _plain(m, f)
        if plain is None:
            if decoder is None:
                return None
            pieces.append("%s")
            slots.append(_Slot(f.offset, text=_text_of(decoder.getter(f.type, f.offset), conversion(m))))
        else:
            pieces.append(plain[0])
            slots.append(plain[1])
        pieces[-1] = lit.replace("%", "%%") + pieces[-1]
    layout = _struct_of(slots, size)
    if layout is None:
        return None
    return "".join(pieces) + tail.replace("%", "%%"), slots, layout


#: a printf event rendered without pybpf: (struct format, Python %-format, the indices of the
#: unpacked values that are C strings: cut at the first NUL, decoded as UTF-8 with surrogateescape)
Recipe = tuple[str, str, tuple[int, ...]]


def printf_recipe(fmt: str, fields: Sequence[EventField], size: int) -> Recipe | None:
    """The :data:`Recipe` of a printf event when every conversion is rendered the plain way, else
    None. ``pybpf trace`` keeps it with a cached program: the first events of a later launch are
    printed before this module is imported (:mod:`pybpf.trace.quick`)."""
    laid = _layout(fmt, fields, size, None)
    if laid is None:
        return None
    pyfmt, slots, layout = laid
    if any(s.convert not in (None, _c_string) for s in slots):
        return None
    return layout.format, pyfmt, tuple(i for i, s in enumerate(slots) if s.convert is _c_string)


def compile_printf(fmt: str, fields: Sequence[EventField], size: int, decoder: Decoder) -> Renderer:
    """The renderer of the printf records of one event layout: ``fmt`` applied to ``fields``.

    A record shorter than ``size`` raises :class:`DecodeError`.
    """
    laid = _layout(fmt, fields, size, decoder)
    if laid is None:
        return _general(fmt, fields, size, decoder)  # which reports a mismatch as format_printf does
    pyfmt, slots, layout = laid
    unpack = layout.unpack_from
    post = [(i, s.convert) for i, s in enumerate(slots) if s.convert is not None]
    texts = [(i, s.text) for i, s in enumerate(slots) if s.text is not None]

    def short(raw: bytes) -> DecodeError:
        return DecodeError(f"record of {len(raw)} bytes is shorter than its layout ({size} bytes); "
                           "the program and the runtime disagree on the event layout")

    if not post and not texts:
        def render_plain(raw: bytes) -> str:
            try:
                return pyfmt % unpack(raw)
            except struct.error:
                raise short(raw) from None
        return render_plain

    def render(raw: bytes) -> str:
        try:
            values = list(unpack(raw))
        except struct.error:
            raise short(raw) from None
        for i, convert in post:
            values[i] = convert(values[i])
        for i, text in texts:
            values[i] = text(raw)
        return pyfmt % tuple(values)
    return render


def _general(fmt: str, fields: Sequence[EventField], size: int, decoder: Decoder) -> Renderer:
    """Decode every field, then :func:`.formatting.format_printf` (what the fast way equals)."""
    decode = decoder.compile([(f.type, f.offset) for f in fields], size)
    apply = compile_format(fmt)
    return lambda raw: apply(decode(raw))
