"""Kernel BTF types as trace types: records, pointers, member lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...btf import Kind
from ...btf.types import Array, Enum, Enum64, Int, IntEncoding, Member, Pointer, Struct, Union_
from ..types import (
    AddrSpace, ArrayType, IntType, PointerType, RecordType, StringType, Type, VoidType, UINT64,
)

if TYPE_CHECKING:
    from ...btf import BTF


def record_by_name(btf: BTF, name: str) -> RecordType | None:
    """``"struct task_struct"`` (or a bare/typedef name) -> RecordType, None when unknown."""
    kind_word, _, bare = name.partition(" ")
    kinds: tuple[Kind, ...]
    if not bare:
        bare, kinds = kind_word, (Kind.STRUCT, Kind.UNION, Kind.TYPEDEF)
    else:
        kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,)}.get(kind_word, ())
    for kind in kinds:
        for tid in btf.find(bare, kind):
            tid = btf.resolve(tid)
            t = btf[tid]
            if isinstance(t, (Struct, Union_)) and t.size:
                return _record(btf, tid, t)
    return None


def _record(btf: BTF, tid: int, t: Struct | Union_) -> RecordType:
    word = "union" if isinstance(t, Union_) else "struct"
    return RecordType(f"{word} {t.name}" if t.name else f"{word} <anon>", t.size, btf_id=tid)


def to_type(btf: BTF, tid: int, space: AddrSpace = AddrSpace.KERNEL, _depth: int = 0) -> Type:
    """Map a BTF type id to a trace type (typedefs and modifiers skipped)."""
    if tid == 0:
        return VoidType()
    tid = btf.resolve(tid)
    t = btf[tid]
    if isinstance(t, Int):
        signed = bool(t.encoding & IntEncoding.SIGNED)
        bits = max(8, min(64, t.size * 8))
        return IntType(bits, signed)
    if isinstance(t, (Enum, Enum64)):
        return IntType(max(8, t.size * 8), t.signed)
    if isinstance(t, Pointer):
        if _depth > 8:
            return PointerType(VoidType(), space)
        return PointerType(to_type(btf, t.type_id, space, _depth + 1), space)
    if isinstance(t, (Struct, Union_)):
        return _record(btf, tid, t)
    if isinstance(t, Array):
        elem = to_type(btf, t.elem_type_id, space, _depth + 1)
        if btf.name_of(btf.resolve(t.elem_type_id)) == "char":
            return StringType(t.nelems)
        return ArrayType(elem, t.nelems)
    if t.kind == Kind.FWD:
        return RecordType(f"struct {t.name}", 0, btf_id=tid)
    return UINT64


def find_member(btf: BTF, record: RecordType, name: str) -> tuple[int, int, int, int] | None:
    """``(byte offset, btf type id, bitfield bits, bit offset within the byte)`` of member ``name``,
    looking inside anonymous structs/unions."""
    if record.btf_id is None:
        return None
    return _find(btf, record.btf_id, name, 0, 0)


def _find(btf: BTF, tid: int, name: str, base_bits: int, depth: int) -> tuple[int, int, int, int] | None:
    if depth > 10:
        return None
    t = btf[btf.resolve(tid)]
    if not isinstance(t, (Struct, Union_)):
        return None
    members: tuple[Member, ...] = t.members
    for m in members:
        if m.name == name:
            bit = base_bits + m.bit_offset
            return bit // 8, m.type_id, m.bitfield_size, bit % 8 if m.bitfield_size else 0
    for m in members:
        if not m.name:
            hit = _find(btf, m.type_id, name, base_bits + m.bit_offset, depth + 1)
            if hit is not None:
                return hit
    return None


def func_params(btf: BTF, func: str) -> list[tuple[str, int]] | None:
    """``[(name, type id), ...]`` of kernel function ``func``, plus its return type under ``""``."""
    from ...btf.types import Func, FuncProto

    for tid in btf.find(func, Kind.FUNC):
        f = btf[tid]
        assert isinstance(f, Func)
        proto = btf[f.type_id]
        if isinstance(proto, FuncProto):
            return [(p.name, p.type_id) for p in proto.params] + [("", proto.return_type_id)]
    return None
