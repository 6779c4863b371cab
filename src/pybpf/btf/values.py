"""Values of BTF types: raw bytes <-> Python objects, and a readable text form.

Decoding (:func:`decode_value`), per kind after skipping typedef/const/volatile/...:

===============  ==============================================================
INT              ``int`` (signed per the INT encoding), ``bool`` for ``_Bool``
PTR              ``int`` (the address)
ARRAY of char    ``bytes`` up to the first NUL (like ctypes' ``c_char`` arrays);
                 only plain ``char``: ``__u8``/``unsigned char`` arrays are lists
other ARRAY      ``list`` of the element values (nested for multi-dimensional)
STRUCT / UNION   :class:`StructValue`: ``v.pid`` and ``v["pid"]`` (a read-only
                 Mapping); members of anonymous struct/union members are
                 flattened into their parent, as in C; bitfields are decoded
ENUM / ENUM64    :class:`EnumInt`, an ``int`` that also knows its enumerator
FLOAT            ``float`` (2, 4 and 8 bytes; other sizes stay ``bytes``)
DATASEC          :class:`StructValue` of its variables by name
VAR              the value of the variable's type
===============  ==============================================================

Encoding (:func:`encode_value`) accepts what decoding returns, and also a dict (or any
Mapping) for a struct/union/datasec — missing members are zero, unknown names raise, and
for a union only the first member given (in declaration order) is encoded —,
``bytes``/``str`` for arrays of any 1-byte integer (NUL padded), any sequence for arrays, an enumerator
name for an enum, and raw ``bytes`` of exactly the right size for any type.

Formatting (:func:`format_value`) is C-initialiser-like, one line:
``{ .pid = 12, .comm = "bash", .state = TASK_RUNNING, .ptr = 0xffff8881..., .arr = [1, 2] }``.

Multi-byte values are read in the host byte order (BPF programs run in it).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import BTFError
from .types import (
    Array, Datasec, Enum, Enum64, Float, Int, IntEncoding, Kind, Member, Pointer, Struct, Type,
    Union_, Var,
)

if TYPE_CHECKING:
    from .container import BTF

_ORDER = sys.byteorder
_FLOAT_FORMATS = {2: "=e", 4: "=f", 8: "=d"}
_MAX_DEPTH = 64
_MAX_ZERO_SIZE_ELEMS = 1 << 16


class EnumInt(int):
    """An enum value: an ``int`` that also carries the enumerator name (``None`` if none matches)."""

    enum_name: str
    name: str | None

    def __new__(cls, value: int, enum_name: str = "", name: str | None = None) -> EnumInt:
        obj = super().__new__(cls, value)
        obj.enum_name = enum_name
        obj.name = name
        return obj

    def __repr__(self) -> str:
        label = f"{self.enum_name}." if self.enum_name else ""
        return f"<{label}{self.name}: {int(self)}>" if self.name else f"<{label}?: {int(self)}>"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (EnumInt, (int(self), self.enum_name, self.name))


class StructValue(Mapping[str, Any]):
    """A decoded struct/union/datasec: attribute access (``v.pid``) and read-only Mapping access (``v["pid"]``).

    Equal to another StructValue or a plain dict with the same items. A member whose name
    collides with a Mapping method (``keys``, ``items``...) is reached with ``v["keys"]``.
    """

    __slots__ = ("_type_name", "_fields")
    _type_name: str
    _fields: dict[str, Any]

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_fields", fields)

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")  # no recursion if the slot is unset
        try:
            return fields[name]
        except KeyError:
            raise AttributeError(f"{self._type_name or 'struct'} has no member {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("decoded values are read-only; build a dict and encode_value() it")

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._fields) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (StructValue, (self._type_name, self._fields))

    @property
    def type_name(self) -> str:
        """Name of the struct/union/datasec this value was decoded from ("" if anonymous)."""
        return self._type_name

    def to_dict(self) -> dict[str, Any]:
        """A plain (recursively converted) dict of the members."""
        return {k: _plain(v) for k, v in self._fields.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self._type_name or 'struct'}({inner})"


def _plain(value: Any) -> Any:
    if isinstance(value, StructValue):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- helpers --------------------------------------------------------------------------


def _resolved(btf: BTF, type_id: int) -> tuple[int, Type]:
    rid = btf.resolve(type_id)
    return rid, btf[rid]


def _need(btf: BTF, type_id: int, raw: bytes | memoryview, t: Type) -> int:
    size = btf.size_of(type_id)
    if len(raw) < size:
        raise BTFError(f"a value of {_describe(t)} needs {size} bytes, got {len(raw)}")
    return size


def _describe(t: Type) -> str:
    return f"{t.kind.name.lower()} {t.name}".strip() if t.name else t.kind.name.lower()


def _is_char(t: Type) -> bool:
    """Plain ``char`` (not ``signed char``/``unsigned char``/``__u8``): arrays of it are text."""
    return isinstance(t, Int) and t.size == 1 and (bool(t.encoding & IntEncoding.CHAR) or t.name == "char")


def _member_int_signed(btf: BTF, type_id: int) -> bool:
    t = btf[btf.resolve(type_id)]
    return bool(getattr(t, "signed", False))


def _enum_lookup(t: Enum | Enum64, value: int) -> EnumInt:
    for v in t.values:
        if v.value == value:
            return EnumInt(value, t.name, v.name)
    return EnumInt(value, t.name, None)


# --- decode ---------------------------------------------------------------------------


Decoder = Callable[["BTF", int, Any, memoryview, int], Any]


def _dec_int(btf: BTF, tid: int, t: Int, raw: memoryview, depth: int) -> Any:
    value = int.from_bytes(raw[:t.size], _ORDER, signed=False)
    if t.offset or t.bits != t.size * 8:
        value = (value >> t.offset) & ((1 << t.bits) - 1)
        if t.signed and t.bits and value >> (t.bits - 1):
            value -= 1 << t.bits
    elif t.signed and value >> (t.size * 8 - 1):
        value -= 1 << (t.size * 8)
    if t.encoding & IntEncoding.BOOL:
        return bool(value)
    return value


def _dec_ptr(btf: BTF, tid: int, t: Pointer, raw: memoryview, depth: int) -> int:
    return int.from_bytes(raw[:btf.pointer_size], _ORDER)


def _dec_array(btf: BTF, tid: int, t: Array, raw: memoryview, depth: int) -> Any:
    eid, elem = _resolved(btf, t.elem_type_id)
    if _is_char(elem):
        data = bytes(raw[:t.nelems])
        nul = data.find(b"\0")
        return data if nul < 0 else data[:nul]
    esize = btf.size_of(eid)
    if esize == 0 and t.nelems > _MAX_ZERO_SIZE_ELEMS:
        raise BTFError(f"array of {t.nelems} zero-size elements (type id {tid}) is not a decodable value")
    return [_decode(btf, eid, raw[i * esize:(i + 1) * esize], depth + 1) for i in range(t.nelems)]


def _bitfield(btf: BTF, m: Member, raw: memoryview) -> int:
    first = m.bit_offset // 8
    last = (m.bit_offset + m.bitfield_size + 7) // 8
    word = int.from_bytes(raw[first:last], "little")
    value = (word >> (m.bit_offset % 8)) & ((1 << m.bitfield_size) - 1)
    if _member_int_signed(btf, m.type_id) and value >> (m.bitfield_size - 1):
        value -= 1 << m.bitfield_size
    return value


def _dec_members(btf: BTF, members: Sequence[Member], raw: memoryview, depth: int, out: dict[str, Any]) -> None:
    for m in members:
        if m.bitfield_size:
            value: Any = _bitfield(btf, m, raw)
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Enum, Enum64)):
                value = _enum_lookup(t, value)
            elif isinstance(t, Int) and t.encoding & IntEncoding.BOOL:
                value = bool(value)
        else:
            value = _decode(btf, m.type_id, raw[m.byte_offset:], depth + 1)
        if m.name:
            out[m.name] = value
        elif isinstance(value, StructValue):  # anonymous struct/union member: flatten
            out.update(value._fields)


def _dec_composite(btf: BTF, tid: int, t: Struct | Union_, raw: memoryview, depth: int) -> StructValue:
    fields: dict[str, Any] = {}
    _dec_members(btf, t.members, raw, depth, fields)
    return StructValue(t.name, fields)


def _dec_enum(btf: BTF, tid: int, t: Enum | Enum64, raw: memoryview, depth: int) -> EnumInt:
    if t.size not in (1, 2, 4, 8):
        raise BTFError(f"{_describe(t)} has unsupported size {t.size}")
    return _enum_lookup(t, int.from_bytes(raw[:t.size], _ORDER, signed=t.signed))


def _dec_float(btf: BTF, tid: int, t: Float, raw: memoryview, depth: int) -> Any:
    fmt = _FLOAT_FORMATS.get(t.size)
    if fmt is None:
        return bytes(raw[:t.size])
    return struct.unpack(fmt, raw[:t.size])[0]


def _dec_datasec(btf: BTF, tid: int, t: Datasec, raw: memoryview, depth: int) -> StructValue:
    fields: dict[str, Any] = {}
    for v in t.vars:
        var = btf[v.type_id]
        if isinstance(var, Var):
            if v.offset + v.size > len(raw):
                raise BTFError(f"variable {var.name!r} of {t.name} lies outside the {len(raw)}-byte value")
            fields[var.name] = _decode(btf, var.type_id, raw[v.offset:v.offset + v.size], depth + 1)
    return StructValue(t.name, fields)


def _dec_var(btf: BTF, tid: int, t: Var, raw: memoryview, depth: int) -> Any:
    return _decode(btf, t.type_id, raw, depth + 1)


DECODERS: dict[Kind, Decoder] = {
    Kind.INT: _dec_int, Kind.PTR: _dec_ptr, Kind.ARRAY: _dec_array, Kind.STRUCT: _dec_composite,
    Kind.UNION: _dec_composite, Kind.ENUM: _dec_enum, Kind.ENUM64: _dec_enum, Kind.FLOAT: _dec_float,
    Kind.DATASEC: _dec_datasec, Kind.VAR: _dec_var,
}


def _decode(btf: BTF, type_id: int, raw: memoryview, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    decoder = DECODERS.get(t.kind)
    if decoder is None:
        raise BTFError(f"cannot decode a value of {_describe(t)} (type id {type_id}): it has no data layout")
    if t.kind != Kind.DATASEC:
        _need(btf, rid, raw, t)
    return decoder(btf, rid, t, raw, depth)


def decode_value(btf: BTF, type_id: int, raw: bytes | bytearray | memoryview) -> Any:
    """Decode ``raw`` (at least ``size_of(type_id)`` bytes) into a Python value; see the module doc."""
    return _decode(btf, type_id, memoryview(bytes(raw)), 0)


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
    esize = btf.size_of(eid)
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


def encode_value(btf: BTF, type_id: int, value: Any) -> bytes:
    """Encode ``value`` as ``size_of(type_id)`` bytes; see the module doc for what is accepted."""
    return _encode(btf, type_id, value, 0)


# --- format ---------------------------------------------------------------------------


def _fmt_bytes(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append({9: "\\t", 10: "\\n", 13: "\\r"}.get(b, f"\\x{b:02x}"))
    return '"' + "".join(out) + '"'


def _fmt_scalar(t: Type, value: Any) -> str:
    if isinstance(t, Pointer):
        return hex(value)
    if isinstance(value, EnumInt):
        return value.name if value.name else str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, (float, bytes)) else str(value)


def _fmt_members(btf: BTF, members: Sequence[Member], raw: memoryview, depth: int, parts: list[str]) -> None:
    for m in members:
        if m.bitfield_size:
            t = btf[btf.resolve(m.type_id)]
            value: Any = _bitfield(btf, m, raw)
            if isinstance(t, (Enum, Enum64)):
                value = _enum_lookup(t, value)
            elif isinstance(t, Int) and t.encoding & IntEncoding.BOOL:
                value = bool(value)
            parts.append(f".{m.name} = {_fmt_scalar(t, value)}")
            continue
        if not m.name:
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Struct, Union_)):  # anonymous member: its fields inline, as in decode_value
                _need(btf, m.type_id, raw[m.byte_offset:], t)
                _fmt_members(btf, t.members, raw[m.byte_offset:], depth + 1, parts)
            continue
        parts.append(f".{m.name} = {_fmt(btf, m.type_id, raw[m.byte_offset:], depth + 1)}")


def _fmt(btf: BTF, type_id: int, raw: memoryview, depth: int) -> str:
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    parts: list[str] = []
    if isinstance(t, (Struct, Union_)):
        _need(btf, rid, raw, t)
        _fmt_members(btf, t.members, raw, depth, parts)
    elif isinstance(t, Datasec):
        for v in t.vars:
            var = btf[v.type_id]
            if isinstance(var, Var):
                if v.offset + v.size > len(raw):
                    raise BTFError(f"variable {var.name!r} of {t.name} lies outside the {len(raw)}-byte value")
                parts.append(f".{var.name} = {_fmt(btf, var.type_id, raw[v.offset:v.offset + v.size], depth + 1)}")
    elif isinstance(t, Array):
        _need(btf, rid, raw, t)
        eid, elem = _resolved(btf, t.elem_type_id)
        if _is_char(elem):
            data = bytes(raw[:t.nelems])
            nul = data.find(b"\0")
            return _fmt_bytes(data if nul < 0 else data[:nul])
        esize = btf.size_of(eid)
        if esize == 0 and t.nelems > _MAX_ZERO_SIZE_ELEMS:
            raise BTFError(f"array of {t.nelems} zero-size elements (type id {rid}) is not a decodable value")
        items = (_fmt(btf, eid, raw[i * esize:(i + 1) * esize], depth + 1) for i in range(t.nelems))
        return "[" + ", ".join(items) + "]"
    elif isinstance(t, Var):
        return _fmt(btf, t.type_id, raw, depth + 1)
    else:
        return _fmt_scalar(t, _decode(btf, rid, raw, depth))
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def format_value(btf: BTF, type_id: int, raw: bytes | bytearray | memoryview) -> str:
    """One-line C-initialiser-like text of a value: ``{ .pid = 12, .comm = "bash" }``."""
    return _fmt(btf, type_id, memoryview(bytes(raw)), 0)
