"""ctypes types generated from BTF: the ``Key``/``Leaf`` classes of bcc tables and the record
class ``.event(data)`` casts to.

Layout follows the BTF exactly: members are placed at their BTF offsets with explicit padding
(``__pad_N`` byte arrays) and ``_pack_ = 1``, so ``ctypes.sizeof(cls)`` is the BTF size.
``char`` arrays become ``c_char * N`` (reading gives ``bytes`` up to the first NUL, as in
bcc); pointers become ``c_ulonglong``.
"""

from __future__ import annotations

import ctypes as ct
import itertools
from typing import Any, Callable

from ...btf.container import BTF
from ...btf.types import Array, Enum, Enum64, Float, Int, IntEncoding, Kind, Struct, Union_
from ...errors import BTFError

CType = Any  # a ctypes type (class)

_INTS: dict[tuple[int, bool], CType] = {
    (1, False): ct.c_uint8, (1, True): ct.c_int8, (2, False): ct.c_uint16, (2, True): ct.c_int16,
    (4, False): ct.c_uint32, (4, True): ct.c_int32, (8, False): ct.c_uint64, (8, True): ct.c_int64,
}
_FLOATS: dict[int, CType] = {4: ct.c_float, 8: ct.c_double, 16: ct.c_longdouble}
_counter = itertools.count(1)


def int_type(size: int, signed: bool) -> CType:
    """The ctypes integer of ``size`` bytes (16-byte integers become two-u64 arrays)."""
    if size == 16:
        return ct.c_uint64 * 2
    try:
        return _INTS[(size, signed)]
    except KeyError:
        return ct.c_uint8 * size


class CtypesBuilder:
    """Builds (and memoizes) ctypes types for the type ids of one BTF."""

    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self._done: dict[int, CType] = {}

    def build(self, type_id: int) -> CType:
        """The ctypes type of BTF type ``type_id`` (typedefs and qualifiers skipped)."""
        tid = self.btf.resolve(type_id)
        cached = self._done.get(tid)
        if cached is None:
            t = self.btf[tid]
            maker = self._MAKERS.get(t.kind)
            if maker is None:
                raise BTFError(f"BTF type {tid} ({t.kind.name}) has no ctypes equivalent for a table key or value")
            cached = self._done[tid] = maker(self, tid, t)
        return cached

    def _int(self, tid: int, t: Int) -> CType:
        if t.encoding & IntEncoding.BOOL:
            return ct.c_bool
        if t.size == 1 and (t.encoding & IntEncoding.CHAR or t.name == "char"):
            return ct.c_char
        return int_type(t.size, bool(t.encoding & IntEncoding.SIGNED))

    def _ptr(self, tid: int, t: Any) -> CType:
        return ct.c_ulonglong

    def _array(self, tid: int, t: Array) -> CType:
        return self.build(t.elem_type_id) * t.nelems

    def _enum(self, tid: int, t: Enum | Enum64) -> CType:
        return int_type(t.size, t.signed)

    def _float(self, tid: int, t: Float) -> CType:
        return _FLOATS.get(t.size, ct.c_uint8 * t.size)

    def _record(self, tid: int, t: Struct | Union_) -> CType:
        base = ct.Union if t.kind == Kind.UNION else ct.Structure
        name = t.name or f"anon_{next(_counter)}"
        cls: Any = type(name, (base,), {"_pack_": 1})
        self._done[tid] = cls  # recursive references (through pointers only) see the class
        fields: list[tuple[Any, ...]] = []
        anonymous: list[str] = []
        pos = 0  # next free byte (structs)
        pads = itertools.count(1)
        for m in t.members:
            mtype = self.build(m.type_id)
            mname = m.name
            if not mname:
                mname = f"__anon_{len(anonymous)}"
                anonymous.append(mname)
            if m.bitfield_size:
                fields.append((mname, mtype, m.bitfield_size))
                pos = max(pos, (m.bit_offset + m.bitfield_size + 7) // 8)
                continue
            off = m.bit_offset // 8
            if base is ct.Structure and off > pos:
                fields.append((f"__pad_{next(pads)}", ct.c_uint8 * (off - pos)))
            fields.append((mname, mtype))
            pos = max(pos, off + ct.sizeof(mtype)) if base is ct.Structure else pos
        if base is ct.Structure and t.size > pos:
            fields.append((f"__pad_{next(pads)}", ct.c_uint8 * (t.size - pos)))
        if anonymous:
            cls._anonymous_ = anonymous
        cls._fields_ = fields
        return cls

    _MAKERS: dict[Kind, Callable[..., CType]] = {
        Kind.INT: _int, Kind.PTR: _ptr, Kind.ARRAY: _array, Kind.ENUM: _enum, Kind.ENUM64: _enum,
        Kind.FLOAT: _float, Kind.STRUCT: _record, Kind.UNION: _record,
    }


def raw_type(size: int) -> CType:
    """The type used when a table has no BTF: an unsigned integer of ``size`` bytes, or bytes."""
    return _INTS.get((size, False), ct.c_uint8 * size)


def find_record(btf: BTF, name: str) -> int | None:
    """The id of struct/union/typedef ``name`` in ``btf`` (first match), or None."""
    for kind in (Kind.STRUCT, Kind.TYPEDEF, Kind.UNION):
        ids = btf.find(name, kind)
        if ids:
            return ids[0]
    return None


__all__ = ["CtypesBuilder", "find_record", "int_type", "raw_type"]
