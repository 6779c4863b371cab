"""Values of BTF types: raw bytes <-> Python objects, and a readable text form.

Decoding (:func:`decode_value`), per kind after skipping typedef/const/volatile/...:

===============  ==============================================================
INT              ``int`` (signed per the INT encoding), ``bool`` for ``_Bool``
PTR              :class:`Address`, an ``int`` shown in hex
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

Multi-byte values are read in the host byte order (BPF programs run in it). Decoding
compiles each type once into a small closure cached on the BTF object, so decoding many
values of one type (map dumps, ring buffer events) costs tens of microseconds each.

>>> from pybpf.btf import BTF, Array, Int, IntEncoding, Member, Struct
>>> btf = BTF.from_types([Int("int", 4, IntEncoding.SIGNED, 32), Int("char", 1, IntEncoding.SIGNED, 8),
...                       Array(2, 1, 4), Struct("ev", 8, (Member("pid", 1, 0), Member("comm", 3, 32)))])
>>> raw = btf.encode_value(4, {"pid": 12, "comm": b"sh"})
>>> ev = btf.decode_value(4, raw)
>>> ev.pid, ev["comm"]
(12, b'sh')
>>> btf.format_value(4, raw)
'{ .pid = 12, .comm = "sh" }'
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


class Address(int):
    """A pointer value: an ``int`` shown in hex (``0xffff888812345678``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return hex(self)

    __str__ = __repr__


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


def _describe(t: Type) -> str:
    return f"{t.kind.name.lower()} {t.name}".strip() if t.name else t.kind.name.lower()


def _is_char(t: Type) -> bool:
    """Plain ``char`` (not ``signed char``/``unsigned char``/``__u8``): arrays of it are text."""
    return isinstance(t, Int) and t.size == 1 and (bool(t.encoding & IntEncoding.CHAR) or t.name == "char")


# --- decode: compiled per-type plans ------------------------------------------------------
#
# decode_value compiles, once per type id, a closure ``plan(buf, offset) -> value`` and
# caches it on the BTF object. Compiling checks the layout (every member inside its
# parent), so running a plan over a buffer of the checked length cannot read out of range.

Plan = Callable[[bytes, int], Any]
Builder = Callable[["BTF", int, Any, int], Plan]
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I",
              (4, True): "i", (8, False): "Q", (8, True): "q"}


def _int_plan(signed: bool, size: int, bits: int, offset: int, as_bool: bool) -> Plan:
    code = _INT_CODES.get((size, signed))
    if code is not None and offset == 0 and bits == size * 8:
        unpack = struct.Struct("=" + code).unpack_from
        if as_bool:
            return lambda b, o: bool(unpack(b, o)[0])
        return lambda b, o: unpack(b, o)[0]
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1) if signed and bits else 0

    def read_int(b: bytes, o: int) -> Any:
        v = (int.from_bytes(b[o:o + size], _ORDER) >> offset) & mask
        if sign and v & sign:
            v -= sign << 1
        return bool(v) if as_bool else v

    return read_int


def _plan_int(btf: BTF, tid: int, t: Int, depth: int) -> Plan:
    return _int_plan(t.signed, t.size, t.bits, t.offset, bool(t.encoding & IntEncoding.BOOL))


def _plan_ptr(btf: BTF, tid: int, t: Pointer, depth: int) -> Plan:
    size = btf.pointer_size
    read = _int_plan(False, size, size * 8, 0, False)
    return lambda b, o: Address(read(b, o))


def _enum_table(t: Enum | Enum64) -> Callable[[int], EnumInt]:
    table: dict[int, EnumInt] = {}
    for v in t.values:
        table.setdefault(v.value, EnumInt(v.value, t.name, v.name))
    get = table.get
    name = t.name

    def lookup(value: int) -> EnumInt:
        found = get(value)
        return found if found is not None else EnumInt(value, name, None)

    return lookup


def _plan_enum(btf: BTF, tid: int, t: Enum | Enum64, depth: int) -> Plan:
    if t.size not in (1, 2, 4, 8):
        raise BTFError(f"{_describe(t)} has unsupported size {t.size}")
    unpack = struct.Struct("=" + _INT_CODES[(t.size, t.signed)]).unpack_from
    lookup = _enum_table(t)
    return lambda b, o: lookup(unpack(b, o)[0])


def _plan_float(btf: BTF, tid: int, t: Float, depth: int) -> Plan:
    fmt = _FLOAT_FORMATS.get(t.size)
    size = t.size
    if fmt is None:
        return lambda b, o: bytes(b[o:o + size])
    unpack = struct.Struct(fmt).unpack_from
    return lambda b, o: unpack(b, o)[0]


def _plan_array(btf: BTF, tid: int, t: Array, depth: int) -> Plan:
    eid, elem = _resolved(btf, t.elem_type_id)
    n = t.nelems
    if _is_char(elem):
        return lambda b, o: b[o:o + n].split(b"\0", 1)[0]
    esize = btf.size_of(eid)
    if esize == 0 and n > _MAX_ZERO_SIZE_ELEMS:
        raise BTFError(f"array of {n} zero-size elements (type id {tid}) is not a decodable value")
    if (isinstance(elem, Int) and not elem.encoding & IntEncoding.BOOL and elem.offset == 0
            and elem.bits == elem.size * 8 and (elem.size, elem.signed) in _INT_CODES and n <= 1 << 20):
        unpack_all = struct.Struct(f"={n}{_INT_CODES[(elem.size, elem.signed)]}").unpack_from
        return lambda b, o: list(unpack_all(b, o))
    ep = _plan(btf, eid, depth + 1)
    if esize == 0:
        return lambda b, o: [ep(b, o) for _ in range(n)]
    span = n * esize
    return lambda b, o: [ep(b, x) for x in range(o, o + span, esize)]


def _bitfield_plan(btf: BTF, m: Member, bit_base: int) -> Plan:
    bit = bit_base + m.bit_offset
    size = m.bitfield_size
    first, end = bit // 8, (bit + size + 7) // 8
    shift, mask = bit % 8, (1 << size) - 1
    t = btf[btf.resolve(m.type_id)]
    sign = 1 << (size - 1) if getattr(t, "signed", False) else 0
    post: Callable[[int], Any] = int
    if isinstance(t, (Enum, Enum64)):
        post = _enum_table(t)
    elif isinstance(t, Int) and t.encoding & IntEncoding.BOOL:
        post = bool

    def read_bits(b: bytes, o: int) -> Any:
        v = (int.from_bytes(b[o + first:o + end], "little") >> shift) & mask
        if sign and v & sign:
            v -= sign << 1
        return post(v)

    return read_bits


def _member_getters(btf: BTF, owner: Type, size: int, members: Sequence[Member], bit_base: int, depth: int,
                    out: list[tuple[str, Plan, int]]) -> None:
    if depth > _MAX_DEPTH:
        raise BTFError(f"{_describe(owner)} nests more than {_MAX_DEPTH} levels deep")
    for m in members:
        if m.bitfield_size:
            if (m.bit_offset + m.bitfield_size + 7) // 8 > size:
                raise BTFError(f"bitfield {m.name!r} of {_describe(owner)} lies outside its {size} bytes")
            if m.name:
                out.append((m.name, _bitfield_plan(btf, m, bit_base), 0))
            continue
        mid, mt = _resolved(btf, m.type_id)
        if m.byte_offset + btf.size_of(mid) > size:
            raise BTFError(f"member {m.name!r} of {_describe(owner)} lies outside its {size} bytes")
        if m.name:
            out.append((m.name, _plan(btf, mid, depth + 1), (bit_base + m.bit_offset) // 8))
        elif isinstance(mt, (Struct, Union_)):  # anonymous struct/union member: flatten, as in C
            _member_getters(btf, mt, mt.size, mt.members, bit_base + m.bit_offset, depth + 1, out)


_sv_new = object.__new__
_sv_set_name = StructValue.__dict__["_type_name"].__set__
_sv_set_fields = StructValue.__dict__["_fields"].__set__


def _struct_value(type_name: str, fields: dict[str, Any]) -> StructValue:
    v = _sv_new(StructValue)
    _sv_set_name(v, type_name)
    _sv_set_fields(v, fields)
    return v


def _plan_composite(btf: BTF, tid: int, t: Struct | Union_, depth: int) -> Plan:
    getters: list[tuple[str, Plan, int]] = []
    _member_getters(btf, t, t.size, t.members, 0, depth, getters)
    fields = tuple(getters)
    name = t.name
    return lambda b, o: _struct_value(name, {n: p(b, o + off) for n, p, off in fields})


def _datasec_layout(btf: BTF, t: Datasec, depth: int) -> tuple[tuple[tuple[str, Plan, int], ...], int]:
    getters = []
    need = 0
    for v in t.vars:
        var = btf[v.type_id]
        if not isinstance(var, Var):
            continue
        if btf.size_of(var.type_id) > v.size:
            raise BTFError(f"variable {var.name!r} of {t.name} is bigger than its {v.size}-byte slot")
        getters.append((var.name, _plan(btf, var.type_id, depth + 1), v.offset))
        need = max(need, v.offset + v.size)
    return tuple(getters), need


def _plan_datasec(btf: BTF, tid: int, t: Datasec, depth: int) -> Plan:
    fields, _ = _datasec_layout(btf, t, depth)
    name = t.name
    return lambda b, o: _struct_value(name, {n: p(b, o + off) for n, p, off in fields})


def _plan_var(btf: BTF, tid: int, t: Var, depth: int) -> Plan:
    return _plan(btf, t.type_id, depth + 1)


BUILDERS: dict[Kind, Builder] = {
    Kind.INT: _plan_int, Kind.PTR: _plan_ptr, Kind.ARRAY: _plan_array, Kind.STRUCT: _plan_composite,
    Kind.UNION: _plan_composite, Kind.ENUM: _plan_enum, Kind.ENUM64: _plan_enum, Kind.FLOAT: _plan_float,
    Kind.DATASEC: _plan_datasec, Kind.VAR: _plan_var,
}


def _plans(btf: BTF) -> dict[int, Plan]:
    plans = btf._value_plans
    if plans is None:
        plans = btf._value_plans = {}
    return plans


def _plan(btf: BTF, type_id: int, depth: int = 0) -> Plan:
    plans = _plans(btf)
    plan = plans.get(type_id)
    if plan is not None:
        return plan
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    builder = BUILDERS.get(t.kind)
    if builder is None:
        raise BTFError(f"cannot decode a value of {_describe(t)} (type id {type_id}): it has no data layout")
    plan = plans[type_id] = builder(btf, rid, t, depth)
    return plan


def value_size(btf: BTF, type_id: int) -> int:
    """Bytes a value of ``type_id`` occupies (for a DATASEC: up to the end of its last variable)."""
    rid, t = _resolved(btf, type_id)
    if isinstance(t, Var):
        return value_size(btf, t.type_id)
    if isinstance(t, Datasec):
        return max([t.size] + [v.offset + v.size for v in t.vars])
    return btf.size_of(rid)


def decode_value(btf: BTF, type_id: int, raw: bytes | bytearray | memoryview) -> Any:
    """Decode ``raw`` (at least ``size_of(type_id)`` bytes) into a Python value; see the module doc."""
    plan = _plan(btf, type_id)
    need = value_size(btf, type_id)
    data = raw if type(raw) is bytes else bytes(raw)
    if len(data) < need:
        raise BTFError(f"a value of {_describe(btf[btf.resolve(type_id)])} needs {need} bytes, got {len(data)}")
    try:
        return plan(data, 0)
    except (struct.error, IndexError) as e:  # not expected: plans are checked against the layout
        raise BTFError(f"value of type id {type_id} does not fit its {len(data)} bytes: {e}") from None


# --- encode / format (in their own modules) ---------------------------------------------


def encode_value(btf: BTF, type_id: int, value: Any) -> bytes:
    """Encode ``value`` as ``size_of(type_id)`` bytes; see the module doc for what is accepted."""
    from ._value_encode import encode

    return encode(btf, type_id, value)


def format_value(btf: BTF, type_id: int, raw: bytes | bytearray | memoryview) -> str:
    """One-line C-initialiser-like text of a value: ``{ .pid = 12, .comm = "bash" }``."""
    from ._value_format import format_decoded

    return format_decoded(decode_value(btf, type_id, raw))
