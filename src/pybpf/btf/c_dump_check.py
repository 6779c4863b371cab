"""Compile-time checks that a dumped header lays types out as BTF says.

:func:`layout_asserts` turns BTF into C ``_Static_assert`` lines (record and enum sizes,
every named member's offset, typedef sizes) written against the names
:func:`pybpf.btf.c_dump.dump_c` gives. Compiling them after ``#include "vmlinux.h"`` proves
that clang agrees with BTF on every offset, which is what CO-RE and map value decoding rely on.

>>> from pybpf.btf import kernel_btf
>>> from pybpf.btf.c_dump_check import layout_asserts
>>> "struct task_struct" in layout_asserts(kernel_btf())
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from .c_dump_names import Names
from .types import Kind, Type

if TYPE_CHECKING:
    from .container import BTF

__all__ = ["layout_asserts"]

_SEE_THROUGH = frozenset({Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG})
_NO_SIZE = frozenset({Kind.FUNC_PROTO, Kind.FWD, Kind.UNKNOWN})


def layout_asserts(btf: BTF) -> str:
    """``_Static_assert`` lines checking sizes and member offsets of every named type."""
    types: list[Type] = [btf[0], *(t for _, t in btf.types())]
    names = Names.of_types(enumerate(types))
    out = []
    for tid, t in enumerate(types):
        kind = t.kind
        if kind in (Kind.STRUCT, Kind.UNION) and t.name:
            c = f"{'struct' if kind is Kind.STRUCT else 'union'} {names.tag[tid]}"
            out.append(_check(f"sizeof({c})", t.size, f"{c}: size"))  # type: ignore[union-attr]
            for member, bits in _named_members(types, tid, 0):
                out.append(_check(f"__builtin_offsetof({c}, {member})", bits // 8, f"{c}: {member}"))
        elif kind in (Kind.ENUM, Kind.ENUM64) and t.name and t.values:  # type: ignore[union-attr]
            c = f"enum {names.tag[tid]}"
            out.append(_check(f"sizeof({c})", t.size, f"{c}: size"))  # type: ignore[union-attr]
        elif kind is Kind.TYPEDEF and tid in names.ident:
            target = types[_strip(types, tid)]
            if target.kind in _NO_SIZE or (target.kind is Kind.ARRAY and _has_flexible(types, target)):
                continue
            name = names.ident[tid]
            out.append(_check(f"sizeof({name})", btf.size_of(tid), f"{name}: size"))
    return "\n".join(out) + "\n"


def _check(expr: str, value: int, what: str) -> str:
    return f'_Static_assert({expr} == {value}, "{what}");'


def _strip(types: list[Type], tid: int) -> int:
    while types[tid].kind in _SEE_THROUGH:
        tid = types[tid].type_id  # type: ignore[union-attr]
    return tid


def _has_flexible(types: list[Type], t: Type) -> bool:
    while t.kind is Kind.ARRAY:
        if t.nelems == 0:  # type: ignore[union-attr]
            return True
        t = types[_strip(types, t.elem_type_id)]  # type: ignore[union-attr]
    return False


def _named_members(types: list[Type], tid: int, base: int) -> Iterator[tuple[str, int]]:
    """(name, bit offset) of named non-bit-field members, looking into anonymous members."""
    for m in types[tid].members:  # type: ignore[union-attr]
        if m.name:
            if not m.bitfield_size:
                yield m.name, base + m.bit_offset
            continue
        inner = _strip(types, m.type_id)
        if types[inner].kind in (Kind.STRUCT, Kind.UNION) and not types[inner].name:
            yield from _named_members(types, inner, base + m.bit_offset)
