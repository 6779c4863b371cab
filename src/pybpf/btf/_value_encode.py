"""Encoding Python values to the bytes of a BTF type (see :mod:`pybpf.btf.values`).

Like decoding, encoding compiles each type once into a closure ``write(buf, offset, value)``
cached on the BTF object; compiling checks the layout (every member inside its parent), so
a writer never writes outside the buffer it is given.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from ..errors import BTFError
from .types import Array, Datasec, Enum, Enum64, Float, Int, Kind, Member, Pointer, Struct, Union_, Var
from .values import _FLOAT_FORMATS, _MAX_DEPTH, _ORDER, StructValue, _describe, _is_char, _resolved, value_size

if TYPE_CHECKING:
    from .container import BTF

Writer = Callable[[bytearray, int, Any], None]
Builder = Callable[["BTF", int, Any, int], Writer]
_RAW = (bytes, bytearray, memoryview)


def _check_int(value: Any, bits: int, signed: bool, what: str) -> int:
    """``value`` as an int that fits ``bits`` (either signedness is accepted), else BTFError."""
    if isinstance(value, bool):
        value = int(value)
    elif not isinstance(value, int):
        raise BTFError(f"{what} needs an int, got {type(value).__name__} {value!r}")
    if not (-(1 << (bits - 1)) if bits else 0) <= value < (1 << bits):
        raise BTFError(f"{value} does not fit {what} ({bits} bits)")
    return int(value)


def _int_writer(size: int, bits: int, offset: int, signed: bool, what: str,
                names: Mapping[str, int] | None = None) -> Writer:
    mask = (1 << bits) - 1

    def write_int(buf: bytearray, o: int, value: Any) -> None:
        if names is not None and isinstance(value, str):
            try:
                value = names[value]
            except KeyError:
                raise BTFError(f"{what} has no enumerator {value!r}") from None
        v = _check_int(value, bits, signed, what) & mask
        buf[o:o + size] = (v << offset).to_bytes(size, _ORDER)

    return write_int


def _w_int(btf: BTF, tid: int, t: Int, depth: int) -> Writer:
    return _int_writer(t.size, t.bits, t.offset, t.signed, _describe(t))


def _w_ptr(btf: BTF, tid: int, t: Pointer, depth: int) -> Writer:
    size = btf.pointer_size
    return _int_writer(size, size * 8, 0, False, "a pointer")


def _enum_names(t: Enum | Enum64) -> dict[str, int]:
    names: dict[str, int] = {}
    for v in t.values:
        names.setdefault(v.name, v.value)
    return names


def _w_enum(btf: BTF, tid: int, t: Enum | Enum64, depth: int) -> Writer:
    if t.size not in (1, 2, 4, 8):
        raise BTFError(f"{_describe(t)} has unsupported size {t.size}")
    return _int_writer(t.size, t.size * 8, 0, t.signed, _describe(t), _enum_names(t))


def _w_float(btf: BTF, tid: int, t: Float, depth: int) -> Writer:
    fmt = _FLOAT_FORMATS.get(t.size)
    size, what = t.size, _describe(t)
    if fmt is None:
        def write_raw_float(buf: bytearray, o: int, value: Any) -> None:
            if not isinstance(value, _RAW) or len(value) != size:
                raise BTFError(f"{what} of {size} bytes can only be given as raw bytes")
            buf[o:o + size] = value

        return write_raw_float
    pack_into = struct.Struct(fmt).pack_into

    def write_float(buf: bytearray, o: int, value: Any) -> None:
        try:
            pack_into(buf, o, value)
        except (struct.error, TypeError, OverflowError) as e:
            raise BTFError(f"{value!r} is not a valid {what}: {e}") from None

    return write_float


def _w_array(btf: BTF, tid: int, t: Array, depth: int) -> Writer:
    eid, elem = _resolved(btf, t.elem_type_id)
    n = t.nelems
    esize = btf.size_of(eid)
    takes_bytes = _is_char(elem) or isinstance(elem, Int) and elem.size == 1
    ew = _writer(btf, eid, depth + 1)

    def write_array(buf: bytearray, o: int, value: Any) -> None:
        if isinstance(value, (str, *_RAW)):
            if not takes_bytes:
                raise BTFError(f"an array of {n} needs a sequence, got {type(value).__name__}")
            data = value.encode() if isinstance(value, str) else bytes(value)
            if len(data) > n:
                raise BTFError(f"{len(data)} bytes do not fit char[{n}]")
            buf[o:o + len(data)] = data
            return
        if not isinstance(value, Sequence):
            raise BTFError(f"an array of {n} needs a sequence, got {type(value).__name__}")
        if len(value) > n:
            raise BTFError(f"{len(value)} elements do not fit an array of {n}")
        for i, v in enumerate(value):
            ew(buf, o + i * esize, v)

    return write_array


def _bitfield_writer(btf: BTF, m: Member, bit: int) -> Writer:
    t = btf[btf.resolve(m.type_id)]
    size = m.bitfield_size
    names = _enum_names(t) if isinstance(t, (Enum, Enum64)) else None
    signed = bool(getattr(t, "signed", False))
    first, end = bit // 8, (bit + size + 7) // 8
    shift, mask = bit % 8, (1 << size) - 1
    what = f"bitfield {m.name!r}"

    def write_bits(buf: bytearray, o: int, value: Any) -> None:
        if names is not None and isinstance(value, str):
            try:
                value = names[value]
            except KeyError:
                raise BTFError(f"{_describe(t)} has no enumerator {value!r}") from None
        v = _check_int(value, size, signed, what) & mask
        lo, hi = o + first, o + end
        word = int.from_bytes(buf[lo:hi], "little") & ~(mask << shift) | (v << shift)
        buf[lo:hi] = word.to_bytes(hi - lo, "little")

    return write_bits


#: One member's writer inside a struct/union: its name (None for an anonymous struct/union
#: member), the names it consumes from the value mapping, ``write(buf, offset, mapping)``
#: and its byte offset in the parent.
Entry = tuple[str | None, frozenset[str], Callable[[bytearray, int, Mapping[str, Any]], None], int]


def _named(name: str, w: Writer) -> Callable[[bytearray, int, Mapping[str, Any]], None]:
    return lambda buf, o, value: w(buf, o, value[name])


def _fields_writer(btf: BTF, owner: Struct | Union_, depth: int) -> tuple[frozenset[str], Callable[
        [bytearray, int, Mapping[str, Any]], None]]:
    """Names and writer of a struct/union's members, anonymous struct/union members flattened as in C.

    The writer takes only the names it knows from the mapping; for a union, only the first
    member (in declaration order) that is given is written, since they share the bytes.
    """
    if depth > _MAX_DEPTH:
        raise BTFError(f"{_describe(owner)} nests more than {_MAX_DEPTH} levels deep")
    size = owner.size
    entries: list[Entry] = []
    for m in owner.members:
        if m.bitfield_size:
            if (m.bit_offset + m.bitfield_size + 7) // 8 > size:
                raise BTFError(f"bitfield {m.name!r} of {_describe(owner)} lies outside its {size} bytes")
            if m.name:
                entries.append((m.name, frozenset((m.name,)), _named(m.name, _bitfield_writer(btf, m, m.bit_offset)), 0))
            continue
        mid, mt = _resolved(btf, m.type_id)
        if m.byte_offset + btf.size_of(mid) > size:
            raise BTFError(f"member {m.name!r} of {_describe(owner)} lies outside its {size} bytes")
        if m.name:
            entries.append((m.name, frozenset((m.name,)), _named(m.name, _writer(btf, mid, depth + 1)), m.byte_offset))
        elif isinstance(mt, (Struct, Union_)):
            names, write_inner = _fields_writer(btf, mt, depth + 1)
            entries.append((None, names, write_inner, m.byte_offset))
    known = frozenset().union(*(names for _, names, _, _ in entries))
    if owner.kind == Kind.UNION:
        def write_union(buf: bytearray, o: int, value: Mapping[str, Any]) -> None:
            for name, names, w, off in entries:
                if name in value if name is not None else any(n in value for n in names):
                    w(buf, o + off, value)
                    return

        return known, write_union

    def write_struct(buf: bytearray, o: int, value: Mapping[str, Any]) -> None:
        for name, names, w, off in entries:
            if name in value if name is not None else any(n in value for n in names):
                w(buf, o + off, value)

    return known, write_struct


def _w_composite(btf: BTF, tid: int, t: Struct | Union_, depth: int) -> Writer:
    known, write_fields = _fields_writer(btf, t, depth)
    what = _describe(t)

    def write_composite(buf: bytearray, o: int, value: Any) -> None:
        if type(value) is StructValue:
            value = value._fields  # the plain dict behind it: faster lookups
        elif not isinstance(value, Mapping):
            raise BTFError(f"{what} needs a dict or a decoded struct, got {type(value).__name__}")
        unknown = value.keys() - known
        if unknown:
            raise BTFError(f"{what} has no member(s) {sorted(unknown)}")
        write_fields(buf, o, value)

    return write_composite


def _w_datasec(btf: BTF, tid: int, t: Datasec, depth: int) -> Writer:
    entries = []
    for v in t.vars:
        var = btf[v.type_id]
        if isinstance(var, Var):
            if btf.size_of(var.type_id) > v.size:
                raise BTFError(f"variable {var.name!r} of {t.name} is bigger than its {v.size}-byte slot")
            entries.append((var.name, _writer(btf, var.type_id, depth + 1), v.offset))
    known = frozenset(name for name, _, _ in entries)
    what = _describe(t)

    def write_datasec(buf: bytearray, o: int, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise BTFError(f"{what} needs a dict of its variables, got {type(value).__name__}")
        unknown = value.keys() - known
        if unknown:
            raise BTFError(f"{what} has no variable(s) {sorted(unknown)}")
        for name, w, off in entries:
            if name in value:
                w(buf, o + off, value[name])

    return write_datasec


def _w_var(btf: BTF, tid: int, t: Var, depth: int) -> Writer:
    return _writer(btf, t.type_id, depth + 1)


BUILDERS: dict[Kind, Builder] = {
    Kind.INT: _w_int, Kind.PTR: _w_ptr, Kind.ARRAY: _w_array, Kind.STRUCT: _w_composite,
    Kind.UNION: _w_composite, Kind.ENUM: _w_enum, Kind.ENUM64: _w_enum, Kind.FLOAT: _w_float,
    Kind.DATASEC: _w_datasec, Kind.VAR: _w_var,
}


def _with_raw_bytes(writer: Writer, size: int, what: str) -> Writer:
    """Also accept the raw bytes of the value (exactly ``size`` of them)."""

    def write(buf: bytearray, o: int, value: Any) -> None:
        if isinstance(value, _RAW):
            if len(value) != size:
                raise BTFError(f"raw bytes for {what} must be {size} bytes, got {len(value)}")
            buf[o:o + size] = value
        else:
            writer(buf, o, value)

    return write


def _writer(btf: BTF, type_id: int, depth: int = 0) -> Writer:
    cache = btf._value_writers
    if cache is None:
        cache = btf._value_writers = {}
    w: Writer | None = cache.get(type_id)
    if w is not None:
        return w
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    builder = BUILDERS.get(t.kind)
    if builder is None:
        raise BTFError(f"cannot encode a value of {_describe(t)} (type id {type_id}): it has no data layout")
    w = builder(btf, rid, t, depth)
    if t.kind not in (Kind.ARRAY, Kind.FLOAT):  # arrays and floats take bytes themselves
        w = _with_raw_bytes(w, value_size(btf, rid), _describe(t))
    cache[type_id] = w
    return w


def encode(btf: BTF, type_id: int, value: Any) -> bytes:
    """Encode ``value`` as the bytes of ``type_id`` (:func:`pybpf.btf.values.encode_value`)."""
    writer = _writer(btf, type_id)
    buf = bytearray(value_size(btf, type_id))
    writer(buf, 0, value)
    return bytes(buf)
