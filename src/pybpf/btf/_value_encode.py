"""Encoding Python values to the bytes of a BTF type (see :mod:`pybpf.btf.values`)."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from ..errors import BTFError
from .types import Array, Datasec, Enum, Enum64, Float, Int, Kind, Member, Pointer, Struct, Union_, Var
from .values import _FLOAT_FORMATS, _MAX_DEPTH, _ORDER, _describe, _is_char, _resolved

if TYPE_CHECKING:
    from .container import BTF

# --- encode ---------------------------------------------------------------------------


Encoder = Callable[["BTF", int, Any, Any, int], bytes]


def _int_bytes(value: Any, size: int, signed: bool, what: str) -> bytes:
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise BTFError(f"{what} needs an int, got {type(value).__name__} {value!r}")
    bits = size * 8
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise BTFError(f"{value} does not fit {what} ({size} bytes)")
    return (value & ((1 << bits) - 1)).to_bytes(size, _ORDER)


def _enc_int(btf: BTF, tid: int, t: Int, value: Any, depth: int) -> bytes:
    if t.offset or t.bits != t.size * 8:
        v = _int_value(value, t.bits, t.signed, _describe(t))
        return ((v & ((1 << t.bits) - 1)) << t.offset).to_bytes(t.size, _ORDER)
    return _int_bytes(value, t.size, t.signed, _describe(t))


def _enc_ptr(btf: BTF, tid: int, t: Pointer, value: Any, depth: int) -> bytes:
    return _int_bytes(value, btf.pointer_size, False, "a pointer")


def _enc_array(btf: BTF, tid: int, t: Array, value: Any, depth: int) -> bytes:
    eid, elem = _resolved(btf, t.elem_type_id)
    size = btf.size_of(tid)
    if isinstance(value, (str, bytes, bytearray)) and (_is_char(elem) or isinstance(elem, Int) and elem.size == 1):
        data = value.encode() if isinstance(value, str) else bytes(value)
        if len(data) > t.nelems:
            raise BTFError(f"{len(data)} bytes do not fit char[{t.nelems}]")
        return data.ljust(t.nelems, b"\0")
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Sequence):
        raise BTFError(f"an array of {t.nelems} needs a sequence, got {type(value).__name__}")
    if len(value) > t.nelems:
        raise BTFError(f"{len(value)} elements do not fit an array of {t.nelems}")
    out = b"".join(_encode(btf, eid, v, depth + 1) for v in value)
    return out.ljust(size, b"\0")


def _int_value(value: Any, bits: int, signed: bool, what: str) -> int:
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise BTFError(f"{what} needs an int, got {type(value).__name__} {value!r}")
    low = -(1 << (bits - 1)) if bits else 0
    if not low <= value < (1 << bits):
        raise BTFError(f"{value} does not fit {what} ({bits} bits)")
    return value


def _member_names(btf: BTF, members: Sequence[Member], depth: int = 0) -> set[str]:
    if depth > _MAX_DEPTH:
        raise BTFError(f"anonymous members nest more than {_MAX_DEPTH} levels deep")
    names: set[str] = set()
    for m in members:
        if m.name:
            names.add(m.name)
        else:
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Struct, Union_)):
                names |= _member_names(btf, t.members, depth + 1)
    return names


def _enc_members(btf: BTF, members: Sequence[Member], value: Mapping[str, Any], buf: bytearray, base_bit: int,
                 depth: int) -> None:
    for m in members:
        bit = base_bit + m.bit_offset
        if not m.name:
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Struct, Union_)):
                _enc_members(btf, t.members, value, buf, bit, depth + 1)
            continue
        if m.name not in value:
            continue
        v = value[m.name]
        if m.bitfield_size:
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Enum, Enum64)) and isinstance(v, str):
                v = _enum_by_name(t, v)
            signed = bool(getattr(t, "signed", False))
            iv = _int_value(v, m.bitfield_size, signed, f"bitfield {m.name!r}") & ((1 << m.bitfield_size) - 1)
            first, last = bit // 8, (bit + m.bitfield_size + 7) // 8
            word = int.from_bytes(buf[first:last], "little")
            shift = bit % 8
            word &= ~(((1 << m.bitfield_size) - 1) << shift)
            word |= iv << shift
            buf[first:last] = word.to_bytes(last - first, "little")
        else:
            data = _encode(btf, m.type_id, v, depth + 1)
            start = bit // 8
            buf[start:start + len(data)] = data


def _enc_composite(btf: BTF, tid: int, t: Struct | Union_, value: Any, depth: int) -> bytes:
    if not isinstance(value, Mapping):
        raise BTFError(f"{_describe(t)} needs a dict or a decoded struct, got {type(value).__name__}")
    unknown = set(value) - _member_names(btf, t.members)
    if unknown:
        raise BTFError(f"{_describe(t)} has no member(s) {sorted(unknown)}")
    buf = bytearray(t.size)
    members = t.members
    if t.kind == Kind.UNION:
        # All members of a union share the bytes: the first one (in declaration order) given wins.
        given = set(value)
        members = tuple(m for m in members if _member_names(btf, (m,)) & given)[:1]
    _enc_members(btf, members, value, buf, 0, depth)
    return bytes(buf)


def _enum_by_name(t: Enum | Enum64, name: str) -> int:
    for v in t.values:
        if v.name == name:
            return v.value
    raise BTFError(f"{_describe(t)} has no enumerator {name!r}")


def _enc_enum(btf: BTF, tid: int, t: Enum | Enum64, value: Any, depth: int) -> bytes:
    if isinstance(value, str):
        value = _enum_by_name(t, value)
    if t.size not in (1, 2, 4, 8):
        raise BTFError(f"{_describe(t)} has unsupported size {t.size}")
    return _int_bytes(int(value) if isinstance(value, int) else value, t.size, t.signed, _describe(t))


def _enc_float(btf: BTF, tid: int, t: Float, value: Any, depth: int) -> bytes:
    fmt = _FLOAT_FORMATS.get(t.size)
    if fmt is None:
        if isinstance(value, (bytes, bytearray)) and len(value) == t.size:
            return bytes(value)
        raise BTFError(f"{_describe(t)} of {t.size} bytes can only be given as raw bytes")
    try:
        return struct.pack(fmt, value)
    except (struct.error, TypeError, OverflowError) as e:
        raise BTFError(f"{value!r} is not a valid {_describe(t)}: {e}") from None


def _enc_datasec(btf: BTF, tid: int, t: Datasec, value: Any, depth: int) -> bytes:
    if not isinstance(value, Mapping):
        raise BTFError(f"{_describe(t)} needs a dict of its variables, got {type(value).__name__}")
    size = max([t.size] + [v.offset + v.size for v in t.vars])
    buf = bytearray(size)
    known = set()
    for v in t.vars:
        var = btf[v.type_id]
        if isinstance(var, Var):
            known.add(var.name)
            if var.name in value:
                data = _encode(btf, var.type_id, value[var.name], depth + 1)
                buf[v.offset:v.offset + len(data)] = data
    unknown = set(value) - known
    if unknown:
        raise BTFError(f"{_describe(t)} has no variable(s) {sorted(unknown)}")
    return bytes(buf)


def _enc_var(btf: BTF, tid: int, t: Var, value: Any, depth: int) -> bytes:
    return _encode(btf, t.type_id, value, depth + 1)


ENCODERS: dict[Kind, Encoder] = {
    Kind.INT: _enc_int, Kind.PTR: _enc_ptr, Kind.ARRAY: _enc_array, Kind.STRUCT: _enc_composite,
    Kind.UNION: _enc_composite, Kind.ENUM: _enc_enum, Kind.ENUM64: _enc_enum, Kind.FLOAT: _enc_float,
    Kind.DATASEC: _enc_datasec, Kind.VAR: _enc_var,
}


def _encode(btf: BTF, type_id: int, value: Any, depth: int) -> bytes:
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    encoder = ENCODERS.get(t.kind)
    if encoder is None:
        raise BTFError(f"cannot encode a value of {_describe(t)} (type id {type_id}): it has no data layout")
    if isinstance(value, (bytes, bytearray)) and t.kind not in (Kind.ARRAY, Kind.FLOAT):
        size = btf.size_of(rid)
        if len(value) != size:
            raise BTFError(f"raw bytes for {_describe(t)} must be {size} bytes, got {len(value)}")
        return bytes(value)
    return encoder(btf, rid, t, value, depth)


def encode(btf: BTF, type_id: int, value: Any) -> bytes:
    """Encode ``value`` as the bytes of ``type_id`` (:func:`pybpf.btf.values.encode_value`)."""
    return _encode(btf, type_id, value, 0)
