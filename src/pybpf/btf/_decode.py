"""Turn one raw type record (a run of 32-bit words) into its dataclass.

One decoder per kind, dispatched by kind number through :data:`DECODERS`. A decoder
receives the owning :class:`~pybpf.btf.BTF`, the word array, the word index of the record,
the decoded name and the other two head words (``info`` and ``size``/``type``). Type ids a
record refers to are checked against the number of ids, so a corrupt reference is reported
when the record is decoded, not later.

This is the hot path of "decode the whole kernel BTF" (~130k types, ~300k members and
parameters), so it is written for speed: the dataclasses are built with generated
constructors that set the slots directly instead of going through the frozen
``__init__`` (the resulting objects are identical), enum members come from lookup tuples,
and string lookups hit the string table's cache first.
"""

from __future__ import annotations

import dataclasses
from array import array
from itertools import accumulate, chain, starmap
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import BTFError
from .types import (
    Array, Const, Datasec, DeclTag, Enum, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto,
    Fwd, Int, IntEncoding, Kind, Member, Param, Pointer, Restrict, Struct, Type, Typedef, TypeTag,
    Union_, Var, VarLinkage, VarSecInfo, Volatile,
)

if TYPE_CHECKING:
    from .container import BTF

Decoder = Callable[["BTF", "array[int]", int, str, int, int], Type]


def fast_constructor(cls: type) -> Callable[..., Any]:
    """A positional constructor for a frozen slots dataclass that skips ``__init__``.

    Frozen dataclasses set each field through ``object.__setattr__``; writing the slot
    descriptors directly builds the same object in about half the time.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = []
    for i, name in enumerate(names):
        env[f"_s{i}"] = cls.__dict__[name].__set__
        body.append(f"    _s{i}(o, a{i})")
    args = ", ".join(f"a{i}" for i in range(len(names)))
    src = f"def make({args}):\n    o = _new(_cls)\n" + "\n".join(body) + "\n    return o\n"
    exec(src, env)  # noqa: S102 - generated from dataclass field names only
    return env["make"]  # type: ignore[no-any-return]


make_int = fast_constructor(Int)
make_pointer = fast_constructor(Pointer)
make_array = fast_constructor(Array)
make_member = fast_constructor(Member)
make_struct = fast_constructor(Struct)
make_union = fast_constructor(Union_)
make_enum_value = fast_constructor(EnumValue)
make_enum = fast_constructor(Enum)
make_enum64 = fast_constructor(Enum64)
make_typedef = fast_constructor(Typedef)
make_const = fast_constructor(Const)
make_volatile = fast_constructor(Volatile)
make_func = fast_constructor(Func)
make_param = fast_constructor(Param)
make_func_proto = fast_constructor(FuncProto)

_INT_ENCODINGS = tuple(IntEncoding(i) for i in range(8))
_FUNC_LINKAGES = tuple(FuncLinkage)
_VAR_LINKAGES = tuple(VarLinkage)
_INT_KIND = int(Kind.INT)


def _bad_ref(btf: BTF, type_id: int, what: str) -> BTFError:
    return BTFError(f"{what} refers to type id {type_id}, out of range (this BTF has ids 0..{btf._n - 1})")


def _string(btf: BTF, offset: int) -> str:
    return btf._strings.get(offset)


def _int(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    data = w[off + 3]
    bits = data & 0xFF
    offset = (data >> 16) & 0xFF
    if bits > 128 or size not in (1, 2, 4, 8, 16) or offset + bits > size * 8:
        raise BTFError(f"INT {name!r} has an invalid layout (size {size}, offset {offset}, bits {bits})")
    return make_int(name, size, _INT_ENCODINGS[(data >> 24) & 0x7], bits, offset)  # type: ignore[no-any-return]


def _ptr(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, "PTR")
    return make_pointer(ref, name)  # type: ignore[no-any-return]


def _array(btf: BTF, w: array[int], off: int, name: str, info: int, _: int) -> Type:
    elem, index = w[off + 3], w[off + 4]
    if elem >= btf._n or index >= btf._n:
        raise _bad_ref(btf, max(elem, index), "ARRAY")
    return make_array(elem, index, w[off + 5], name)  # type: ignore[no-any-return]


#: one member as :func:`member_rows` gives it: (name, type_id, bit_offset, bitfield_size)
MemberRow = tuple[str, int, int, int]


def member_rows(btf: BTF, w: array[int], off: int, info: int, owner: str) -> list[MemberRow]:
    """The members of the struct/union record at word ``off`` as plain tuples.

    This is the one member decoder: :class:`Member` objects are built from its rows, and bulk
    readers (the C dumper) use the rows directly, which is about three times cheaper.
    """
    strings = btf._strings
    cache = strings._cache
    whole = strings.ascii_text()  # a new name is sliced from it inline (no call per name)
    first = strings.start
    size = len(strings.data) if whole else 0
    n = btf._n
    out: list[MemberRow] = []
    append = out.append
    pos = off + 3
    end = pos + 3 * (info & 0xFFFF)
    if info >> 31:  # kind_flag: bitfield size in the top 8 bits of the offset
        while pos < end:
            name_off, tid, raw = w[pos], w[pos + 1], w[pos + 2]
            name = cache.get(name_off)
            if name is None:
                rel = name_off - first
                if 0 <= rel < size:
                    name = cache[name_off] = whole[rel:whole.index("\0", rel)]
                else:
                    name = strings.get(name_off)
            if tid >= n:
                raise _bad_ref(btf, tid, f"member {name!r} of {owner}")
            append((name, tid, raw & 0xFFFFFF, raw >> 24))
            pos += 3
        return out
    # kind_flag == 0: a bitfield is described by the INT the member points to; normalise it
    # to the kind_flag form so users (and CO-RE) see one representation.
    start = btf.type_id_start
    offsets = btf._offsets
    bitfield_ints = btf._int_bitfields
    if bitfield_ints is None:
        bitfield_ints = _bitfield_ints(btf)
    while pos < end:
        name_off, tid, bit_offset = w[pos], w[pos + 1], w[pos + 2]
        name = cache.get(name_off)
        if name is None:
            rel = name_off - first
            if 0 <= rel < size:
                name = cache[name_off] = whole[rel:whole.index("\0", rel)]
            else:
                name = strings.get(name_off)
        if tid >= n:
            raise _bad_ref(btf, tid, f"member {name!r} of {owner}")
        if tid in bitfield_ints:
            data = w[offsets[tid - start] + 3]
            append((name, tid, bit_offset + ((data >> 16) & 0xFF), data & 0xFF))
        elif tid < start and tid and btf._kind(tid) == _INT_KIND:
            target = btf[tid]
            assert isinstance(target, Int)
            if target.offset or target.bits != target.size * 8:
                append((name, tid, bit_offset + target.offset, target.bits))
            else:
                append((name, tid, bit_offset, 0))
        else:
            append((name, tid, bit_offset, 0))
        pos += 3
    return out


def member_rows_many(btf: BTF, offsets: Sequence[int]) -> list[list[MemberRow]]:
    """:func:`member_rows` of the struct/union records at each of the word ``offsets`` of a
    BTF without a base, in order: the same rows, built for all records at once.

    Most records have a few members, so per-record work dominates :func:`member_rows`; here
    the member words of every record are gathered into one array and split into names, type
    ids and offsets by whole-array operations. Falls back to :func:`member_rows` one record at
    a time for the error message when a member refers to a type id out of range.
    """
    if btf.base is not None:
        raise ValueError("member_rows_many needs a BTF without a base")
    w = btf._words
    view = memoryview(w)
    infos = [w[off + 1] for off in offsets]
    ends = list(accumulate(info & 0xFFFF for info in infos))  # one past each record's last member
    words = array("I")
    words.frombytes(b"".join([view[off + 3:off + 3 + 3 * (info & 0xFFFF)] for off, info in zip(offsets, infos)]))
    view.release()
    type_ids = words[1::3]
    if type_ids and max(type_ids) >= btf._n:  # report it as member_rows does
        return [member_rows(btf, w, off, info, _owner(btf, w, off, info)) for off, info in zip(offsets, infos)]
    names = btf._strings.get_many(words[0::3])
    raw = words[2::3]
    bit_offsets: list[int] = raw.tolist()
    bitfield_sizes = [0] * len(raw)
    bitfield_ints = btf._int_bitfields
    if bitfield_ints is None:
        bitfield_ints = _bitfield_ints(btf)
    start = 0
    for info, end in zip(infos, ends):
        if info >> 31:  # kind_flag: bitfield size in the top 8 bits of the offset
            bit_offsets[start:end] = [r & 0xFFFFFF for r in raw[start:end]]
            bitfield_sizes[start:end] = [r >> 24 for r in raw[start:end]]
        elif bitfield_ints and not bitfield_ints.isdisjoint(type_ids[start:end]):
            # kind_flag == 0: a bitfield is described by the INT the member points to
            for i in range(start, end):
                if type_ids[i] in bitfield_ints:
                    data = w[btf._offsets[type_ids[i] - 1] + 3]
                    bit_offsets[i] += (data >> 16) & 0xFF
                    bitfield_sizes[i] = data & 0xFF
        start = end
    rows = list(zip(names, type_ids, bit_offsets, bitfield_sizes))
    return [rows[a:b] for a, b in zip(chain((0,), ends), ends)]


def _owner(btf: BTF, w: array[int], off: int, info: int) -> str:
    """``struct foo`` for the record at word ``off``, as error messages name it."""
    keyword = "union" if (info >> 24) & 0x1F == Kind.UNION else "struct"
    return f"{keyword} {btf._strings.get(w[off]) or '(anon)'}"


def _bitfield_ints(btf: BTF) -> frozenset[int]:
    """This BTF's own INT ids whose encoding describes a bit-field (an offset, or fewer bits
    than its size): a handful if any, found once per BTF from the kinds the index pass recorded."""
    found = btf._int_bitfields
    if found is None:
        w = btf._words
        offsets = btf._offsets
        kinds = btf._kinds.tobytes()
        marker = bytes([_INT_KIND])
        ids = set()
        idx = kinds.find(marker)
        while idx >= 0:
            toff = offsets[idx]
            data = w[toff + 3]
            if data & 0xFF0000 or data & 0xFF != w[toff + 2] * 8:
                ids.add(idx + btf.type_id_start)
            idx = kinds.find(marker, idx + 1)
        found = btf._int_bitfields = frozenset(ids)
    return found


def _members(btf: BTF, w: array[int], off: int, info: int, owner: str) -> tuple[Member, ...]:
    return tuple(starmap(make_member, member_rows(btf, w, off, info, owner)))


def _struct(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    return make_struct(name, size, _members(btf, w, off, info, f"struct {name or '(anon)'}"))  # type: ignore[no-any-return]


def _union(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    return make_union(name, size, _members(btf, w, off, info, f"union {name or '(anon)'}"))  # type: ignore[no-any-return]


def _enum(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    signed = bool(info >> 31)
    get = btf._strings.get
    mk = make_enum_value
    values = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        v = w[pos + 1]
        if signed and v & 0x80000000:
            v -= 1 << 32
        values.append(mk(get(w[pos]), v))
        pos += 2
    return make_enum(name, size, tuple(values), signed)  # type: ignore[no-any-return]


def _enum64(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    signed = bool(info >> 31)
    get = btf._strings.get
    values = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        v = w[pos + 1] | (w[pos + 2] << 32)
        if signed and v >> 63:
            v -= 1 << 64
        values.append(make_enum_value(get(w[pos]), v))
        pos += 3
    return make_enum64(name, size, tuple(values), signed)  # type: ignore[no-any-return]


def _fwd(btf: BTF, w: array[int], off: int, name: str, info: int, _: int) -> Type:
    return Fwd(name, bool(info >> 31))


def _typedef(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, f"TYPEDEF {name!r}")
    return make_typedef(name, ref)  # type: ignore[no-any-return]


def _volatile(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, "VOLATILE")
    return make_volatile(ref, name)  # type: ignore[no-any-return]


def _const(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, "CONST")
    return make_const(ref, name)  # type: ignore[no-any-return]


def _restrict(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, "RESTRICT")
    return Restrict(ref, name)


def _type_tag(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    if ref >= btf._n:
        raise _bad_ref(btf, ref, f"TYPE_TAG {name!r}")
    return TypeTag(name, ref, bool(info >> 31))


def _func(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    linkage = info & 0xFFFF
    if linkage > 2:
        raise BTFError(f"FUNC {name!r} has unknown linkage {linkage}")
    if ref >= btf._n:
        raise _bad_ref(btf, ref, f"FUNC {name!r}")
    return make_func(name, ref, _FUNC_LINKAGES[linkage])  # type: ignore[no-any-return]


def _func_proto(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    n = btf._n
    if ref >= n:
        raise _bad_ref(btf, ref, "FUNC_PROTO return")
    strings = btf._strings
    cache = strings._cache
    params = []
    mk = make_param
    pos = off + 3
    end = pos + 2 * (info & 0xFFFF)
    while pos < end:
        name_off, tid = w[pos], w[pos + 1]
        pname = cache.get(name_off)
        if pname is None:
            pname = strings.get(name_off)
        if tid >= n:
            raise _bad_ref(btf, tid, "FUNC_PROTO parameter")
        params.append(mk(pname, tid))
        pos += 2
    return make_func_proto(ref, tuple(params), name)  # type: ignore[no-any-return]


def _var(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    linkage = w[off + 3]
    if linkage > 2:
        raise BTFError(f"VAR {name!r} has unknown linkage {linkage}")
    if ref >= btf._n:
        raise _bad_ref(btf, ref, f"VAR {name!r}")
    return Var(name, ref, _VAR_LINKAGES[linkage])


def _datasec(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    entries = []
    pos = off + 3
    for _ in range(info & 0xFFFF):
        if w[pos] >= btf._n:
            raise _bad_ref(btf, w[pos], f"DATASEC {name!r}")
        entries.append(VarSecInfo(w[pos], w[pos + 1], w[pos + 2]))
        pos += 3
    return Datasec(name, size, tuple(entries))


def _float(btf: BTF, w: array[int], off: int, name: str, info: int, size: int) -> Type:
    if size not in (2, 4, 8, 12, 16):
        raise BTFError(f"FLOAT {name!r} has invalid size {size}")
    return Float(name, size)


def _decl_tag(btf: BTF, w: array[int], off: int, name: str, info: int, ref: int) -> Type:
    idx = w[off + 3]
    if idx & 0x80000000:
        idx -= 1 << 32
    if ref >= btf._n:
        raise _bad_ref(btf, ref, f"DECL_TAG {name!r}")
    return DeclTag(name, ref, idx, bool(info >> 31))


DECODERS: dict[int, Decoder] = {
    Kind.INT: _int, Kind.PTR: _ptr, Kind.ARRAY: _array, Kind.STRUCT: _struct, Kind.UNION: _union,
    Kind.ENUM: _enum, Kind.FWD: _fwd, Kind.TYPEDEF: _typedef, Kind.VOLATILE: _volatile,
    Kind.CONST: _const, Kind.RESTRICT: _restrict, Kind.FUNC: _func, Kind.FUNC_PROTO: _func_proto,
    Kind.VAR: _var, Kind.DATASEC: _datasec, Kind.FLOAT: _float, Kind.DECL_TAG: _decl_tag,
    Kind.TYPE_TAG: _type_tag, Kind.ENUM64: _enum64,
}

#: Decoders indexed by kind number (``None`` for unknown kinds, which the index pass rejects).
DECODER_BY_KIND: list[Decoder | None] = [DECODERS.get(k) for k in range(32)]
