"""Turn one raw type record (a run of 32-bit words) into its dataclass.

One decoder per kind, dispatched through :data:`DECODERS`. A decoder receives the owning
:class:`~pybpf.btf.BTF`, the word array, the word index of the record and its three head
words. Type ids a record refers to are checked against the number of ids, so a corrupt
reference is reported when the record is decoded, not later.

Hot objects (members, parameters, enum values) are built without going through the frozen
dataclass ``__init__`` (which sets every field through ``object.__setattr__``); the values
are identical, only the construction is cheaper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import BTFError
from .types import (
    Array, Const, Datasec, DeclTag, Enum, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto,
    Fwd, Int, IntEncoding, Kind, Member, Param, Pointer, Restrict, Struct, Type, Typedef, TypeTag,
    Union_, Var, VarLinkage, VarSecInfo, Volatile,
)

if TYPE_CHECKING:
    from array import array

    from .container import BTF

Decoder = Callable[["BTF", "array", int, str, int, int], Type]

_new = object.__new__


def _fast_ctor(cls: type, *fields: str) -> Callable[..., object]:
    setters = [cls.__dict__[f].__set__ for f in fields]  # slot descriptors bypass frozen __setattr__
    if len(setters) == 2:
        s0, s1 = setters

        def make2(a: object, b: object) -> object:
            o = _new(cls)
            s0(o, a)
            s1(o, b)
            return o

        return make2
    s0, s1, s2, s3 = setters

    def make4(a: object, b: object, c: object, d: object) -> object:
        o = _new(cls)
        s0(o, a)
        s1(o, b)
        s2(o, c)
        s3(o, d)
        return o

    return make4


make_member = _fast_ctor(Member, "name", "type_id", "bit_offset", "bitfield_size")
make_param = _fast_ctor(Param, "name", "type_id")
make_enum_value = _fast_ctor(EnumValue, "name", "value")


def _ref(btf: BTF, type_id: int, what: str) -> int:
    if type_id >= btf._n:
        raise BTFError(f"{what} refers to type id {type_id}, out of range (this BTF has ids 0..{btf._n - 1})")
    return type_id


def _int(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    data = w[off + 3]
    bits = data & 0xFF
    offset = (data >> 16) & 0xFF
    if bits > 128 or size not in (1, 2, 4, 8, 16) or offset + bits > size * 8:
        raise BTFError(f"INT {name!r} has an invalid layout (size {size}, offset {offset}, bits {bits})")
    return Int(name, size, IntEncoding((data >> 24) & 0x7), bits, offset)


def _ptr(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return Pointer(_ref(btf, ref, "PTR"), name)


def _array(btf: BTF, w: array, off: int, name: str, info: int, _: int) -> Type:
    return Array(_ref(btf, w[off + 3], "ARRAY element"), _ref(btf, w[off + 4], "ARRAY index"), w[off + 5], name)


def _members(btf: BTF, w: array, off: int, info: int, owner: str) -> tuple[Member, ...]:
    vlen = info & 0xFFFF
    kind_flag = info >> 31
    st = btf._strings
    n = btf._n
    out = []
    mk = make_member
    pos = off + 3
    for _ in range(vlen):
        tid = w[pos + 1]
        if tid >= n:
            _ref(btf, tid, f"member of {owner}")
        raw = w[pos + 2]
        if kind_flag:
            out.append(mk(st.get(w[pos]), tid, raw & 0xFFFFFF, raw >> 24))
        else:
            out.append(_legacy_member(btf, st.get(w[pos]), tid, raw))
        pos += 3
    return tuple(out)


def _legacy_member(btf: BTF, name: str, tid: int, bit_offset: int) -> Member:
    """kind_flag == 0: a bitfield is described by the INT it points to; normalise it."""
    if tid and btf._kind(tid) == Kind.INT:
        target = btf[tid]
        assert isinstance(target, Int)
        if target.offset or target.bits != target.size * 8:
            return make_member(name, tid, bit_offset + target.offset, target.bits)  # type: ignore[return-value]
    return make_member(name, tid, bit_offset, 0)  # type: ignore[return-value]


def _struct(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    return Struct(name, size, _members(btf, w, off, info, f"struct {name or '(anon)'}"))


def _union(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    return Union_(name, size, _members(btf, w, off, info, f"union {name or '(anon)'}"))


def _enum(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    signed = bool(info >> 31)
    st = btf._strings
    mk = make_enum_value
    values = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        v = w[pos + 1]
        if signed and v & 0x80000000:
            v -= 1 << 32
        values.append(mk(st.get(w[pos]), v))
        pos += 2
    return Enum(name, size, tuple(values), signed)  # type: ignore[arg-type]


def _enum64(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    signed = bool(info >> 31)
    st = btf._strings
    values = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        v = w[pos + 1] | (w[pos + 2] << 32)
        if signed and v >> 63:
            v -= 1 << 64
        values.append(make_enum_value(st.get(w[pos]), v))
        pos += 3
    return Enum64(name, size, tuple(values), signed)  # type: ignore[arg-type]


def _fwd(btf: BTF, w: array, off: int, name: str, info: int, _: int) -> Type:
    return Fwd(name, bool(info >> 31))


def _typedef(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return Typedef(name, _ref(btf, ref, f"TYPEDEF {name!r}"))


def _volatile(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return Volatile(_ref(btf, ref, "VOLATILE"), name)


def _const(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return Const(_ref(btf, ref, "CONST"), name)


def _restrict(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return Restrict(_ref(btf, ref, "RESTRICT"), name)


def _type_tag(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    return TypeTag(name, _ref(btf, ref, f"TYPE_TAG {name!r}"), bool(info >> 31))


def _func(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    linkage = info & 0xFFFF
    if linkage > FuncLinkage.EXTERN:
        raise BTFError(f"FUNC {name!r} has unknown linkage {linkage}")
    if ref >= btf._n:
        _ref(btf, ref, f"FUNC {name!r}")
    return Func(name, ref, FuncLinkage(linkage))


def _func_proto(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        _ref(btf, ref, "FUNC_PROTO return")
    st = btf._strings
    n = btf._n
    params = []
    mk = make_param
    pos = off + 3
    for _ in range(info & 0xFFFF):
        tid = w[pos + 1]
        if tid >= n:
            _ref(btf, tid, "FUNC_PROTO parameter")
        params.append(mk(st.get(w[pos]), tid))
        pos += 2
    return FuncProto(ref, tuple(params), name)  # type: ignore[arg-type]


def _var(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    linkage = w[off + 3]
    if linkage > VarLinkage.GLOBAL_EXTERN:
        raise BTFError(f"VAR {name!r} has unknown linkage {linkage}")
    return Var(name, _ref(btf, ref, f"VAR {name!r}"), VarLinkage(linkage))


def _datasec(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    entries = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        entries.append(VarSecInfo(_ref(btf, w[pos], f"DATASEC {name!r}"), w[pos + 1], w[pos + 2]))
        pos += 3
    return Datasec(name, size, tuple(entries))


def _float(btf: BTF, w: array, off: int, name: str, info: int, size: int) -> Type:
    if size not in (2, 4, 8, 12, 16):
        raise BTFError(f"FLOAT {name!r} has invalid size {size}")
    return Float(name, size)


def _decl_tag(btf: BTF, w: array, off: int, name: str, info: int, ref: int) -> Type:
    idx = w[off + 3]
    if idx & 0x80000000:
        idx -= 1 << 32
    return DeclTag(name, _ref(btf, ref, f"DECL_TAG {name!r}"), idx, bool(info >> 31))


DECODERS: dict[int, Decoder] = {
    Kind.INT: _int, Kind.PTR: _ptr, Kind.ARRAY: _array, Kind.STRUCT: _struct, Kind.UNION: _union,
    Kind.ENUM: _enum, Kind.FWD: _fwd, Kind.TYPEDEF: _typedef, Kind.VOLATILE: _volatile,
    Kind.CONST: _const, Kind.RESTRICT: _restrict, Kind.FUNC: _func, Kind.FUNC_PROTO: _func_proto,
    Kind.VAR: _var, Kind.DATASEC: _datasec, Kind.FLOAT: _float, Kind.DECL_TAG: _decl_tag,
    Kind.TYPE_TAG: _type_tag, Kind.ENUM64: _enum64,
}
