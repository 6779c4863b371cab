"""Marshal types back to a ``.BTF`` blob: :meth:`BTF.to_bytes` and :meth:`BTF.from_types`.

The output is what the kernel's ``BPF_BTF_LOAD`` accepts: a 24-byte header, the type
section, then the string section. When marshalling a parsed BTF its original string section
is kept as is and names re-use their original offsets, so BTF written by clang or pahole
comes back byte for byte. Struct/union members use the ``kind_flag`` bitfield encoding
exactly when some member is a bitfield, as compilers do.
"""

from __future__ import annotations

import logging
from array import array
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import BTFError
from . import _wire
from ._wire import info_word
from .types import (
    Array, Const, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncProto, Fwd, Int, Kind, Pointer,
    Restrict, Struct, Type, Typedef, TypeTag, Union_, Var, Volatile,
)

if TYPE_CHECKING:
    from .container import BTF

log = logging.getLogger("pybpf.btf")


class _Strings:
    """A string section being built; ``start`` is its first offset (non-zero for split BTF)."""

    def __init__(self, initial: bytes = b"\0", *, start: int = 0, known: dict[str, int] | None = None,
                 base: dict[str, int] | None = None) -> None:
        self.buf = bytearray(initial)
        self.start = start
        self.known = dict(known) if known is not None else ({"": 0} if start == 0 else {})
        self.base = base or {}

    def add(self, text: str) -> int:
        off = self.base.get(text)
        if off is not None:
            return off
        off = self.known.get(text)
        if off is None:
            if not text and self.start == 0:
                return 0
            raw = text.encode("utf-8", "surrogateescape")
            if b"\0" in raw:
                raise BTFError(f"BTF name {text!r} contains a NUL byte")
            off = self.start + len(self.buf)
            self.buf += raw + b"\0"
            self.known[text] = off
        return off


Encoder = Callable[[Any, _Strings, list[int]], None]


def _head(kind: Kind, vlen: int = 0, kind_flag: bool = False) -> int:
    return info_word(kind, vlen, kind_flag)


def _enc_int(t: Int, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.INT), t.size, (int(t.encoding) << 24) | (t.offset << 16) | t.bits)


def _enc_ref(t: Pointer | Const | Volatile | Restrict | Typedef, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(t.kind), t.type_id)


def _enc_type_tag(t: TypeTag, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.TYPE_TAG, 0, t.attribute), t.type_id)


def _enc_array(t: Array, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.ARRAY), 0, t.elem_type_id, t.index_type_id, t.nelems)


def _enc_composite(t: Struct | Union_, s: _Strings, out: list[int]) -> None:
    bitfields = any(m.bitfield_size for m in t.members)
    out += (s.add(t.name), _head(t.kind, len(t.members), bitfields), t.size)
    for m in t.members:
        if bitfields:
            if m.bit_offset >= 1 << 24 or m.bitfield_size > 255:
                raise BTFError(f"member {m.name!r} of {t.name or '(anon)'}: bit offset/size too large to encode")
            out += (s.add(m.name), m.type_id, (m.bitfield_size << 24) | m.bit_offset)
        else:
            out += (s.add(m.name), m.type_id, m.bit_offset)


def _enc_enum(t: Enum, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.ENUM, len(t.values), t.signed), t.size)
    for v in t.values:
        if not -(1 << 31) <= v.value < 1 << 32:
            raise BTFError(f"enum {t.name or '(anon)'} value {v.name}={v.value} does not fit 32 bits; use Enum64")
        out += (s.add(v.name), v.value & 0xFFFFFFFF)


def _enc_enum64(t: Enum64, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.ENUM64, len(t.values), t.signed), t.size)
    for v in t.values:
        if not -(1 << 63) <= v.value < 1 << 64:
            raise BTFError(f"enum {t.name or '(anon)'} value {v.name}={v.value} does not fit 64 bits")
        u = v.value & 0xFFFFFFFFFFFFFFFF
        out += (s.add(v.name), u & 0xFFFFFFFF, u >> 32)


def _enc_fwd(t: Fwd, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.FWD, 0, t.is_union), 0)


def _enc_func(t: Func, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.FUNC, int(t.linkage)), t.type_id)


def _enc_func_proto(t: FuncProto, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.FUNC_PROTO, len(t.params)), t.return_type_id)
    for p in t.params:
        out += (s.add(p.name), p.type_id)


def _enc_var(t: Var, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.VAR), t.type_id, int(t.linkage))


def _enc_datasec(t: Datasec, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.DATASEC, len(t.vars)), t.size)
    for v in t.vars:
        out += (v.type_id, v.offset, v.size)


def _enc_float(t: Float, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.FLOAT), t.size)


def _enc_decl_tag(t: DeclTag, s: _Strings, out: list[int]) -> None:
    out += (s.add(t.name), _head(Kind.DECL_TAG, 0, t.attribute), t.type_id, t.component_idx & 0xFFFFFFFF)


ENCODERS: dict[Kind, Encoder] = {
    Kind.INT: _enc_int, Kind.PTR: _enc_ref, Kind.ARRAY: _enc_array, Kind.STRUCT: _enc_composite,
    Kind.UNION: _enc_composite, Kind.ENUM: _enc_enum, Kind.FWD: _enc_fwd, Kind.TYPEDEF: _enc_ref,
    Kind.VOLATILE: _enc_ref, Kind.CONST: _enc_ref, Kind.RESTRICT: _enc_ref, Kind.FUNC: _enc_func,
    Kind.FUNC_PROTO: _enc_func_proto, Kind.VAR: _enc_var, Kind.DATASEC: _enc_datasec,
    Kind.FLOAT: _enc_float, Kind.DECL_TAG: _enc_decl_tag, Kind.TYPE_TAG: _enc_type_tag,
    Kind.ENUM64: _enc_enum64,
}


def _encode_types(types: Sequence[Type], strings: _Strings, first_id: int) -> array[int]:
    out: list[int] = []
    for i, t in enumerate(types):
        encoder = ENCODERS.get(t.kind)
        if encoder is None:
            raise BTFError(f"cannot marshal type #{first_id + i}: {t!r} is not a BTF type record")
        encoder(t, strings, out)
    try:
        return array("I", out)
    except OverflowError:
        bad = next(v for v in out if not 0 <= v < 1 << 32)
        raise BTFError(f"a field value {bad} does not fit the 32-bit BTF encoding") from None


def pack_sections(words: array[int], strings: bytes, byteorder: str = _wire.HOST_ORDER) -> bytes:
    """A BTF blob: header, the type section ``words`` (host order) and the string section."""
    if byteorder not in ("little", "big"):
        raise BTFError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
    if byteorder != _wire.HOST_ORDER:
        words = array("I", words)
        words.byteswap()
    type_bytes = words.tobytes()
    fmt = "<" if byteorder == "little" else ">"
    import struct

    header = struct.pack(
        fmt + "HBBIIIII", _wire.MAGIC, _wire.VERSION, 0, _wire.HEADER_SIZE,
        0, len(type_bytes), len(type_bytes), len(strings),
    )
    return header + type_bytes + strings


def marshal(btf: BTF, *, byteorder: str = _wire.HOST_ORDER, replace: Mapping[int, Type] | None = None,
            append: Sequence[Type] = ()) -> bytes:
    """The blob for ``btf`` (its own types only when it is split BTF).

    ``replace`` swaps types by id and ``append`` adds types after the last id; the original
    string section is kept (new names are appended), so string offsets stay valid.
    """
    table = btf._strings
    base_offsets = table.base.offsets() if table.base is not None else None
    strings = _Strings(table.data, start=table.start, known=table.offsets(), base=base_offsets)
    own = [t for _, t in btf.types(include_base=False)]
    for tid, t in (replace or {}).items():
        if not btf.type_id_start <= tid < len(btf):
            raise BTFError(f"cannot replace type id {tid}: this BTF's own ids are {btf.type_id_start}..{len(btf) - 1}")
        own[tid - btf.type_id_start] = t
    own.extend(append)
    words = _encode_types(own, strings, btf.type_id_start)
    return pack_sections(words, bytes(strings.buf), byteorder)


def marshal_types(types: Sequence[Type], *, base: BTF | None = None,
                  byteorder: str = _wire.HOST_ORDER) -> bytes:
    """A blob holding ``types`` with ids from 1 (or from ``len(base)`` for split BTF)."""
    if base is not None:
        strings = _Strings(b"", start=base._strings.end, base=base._strings.offsets())
        first = len(base)
    else:
        strings = _Strings()
        first = 1
    words = _encode_types(types, strings, first)
    return pack_sections(words, bytes(strings.buf), byteorder)
