"""Record layout for the C dumper: what clang would do with the C we emit, and how to make
it agree with the offsets BTF records.

BTF keeps every member's bit offset and every record's size but not the ``__packed`` /
``__aligned`` attributes the source used. The dumper emits plain members, lets clang lay them
out naturally, and fixes the differences explicitly:

* a member the natural layout would place *after* its BTF offset (or a record whose natural
  size exceeds its BTF size) makes the record ``__attribute__((packed))``;
* a member the natural layout would place *before* its BTF offset gets padding in front of it
  (unnamed bit-fields, which do not change a record's alignment), and so does the tail of a
  record whose BTF size is larger than its natural size.

The alignment this module reports is the alignment of the *emitted* C, which is never
larger than the real one; outer records then pad up to the offsets BTF records, so the
layout is exact without reproducing ``__aligned(N)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, Mapping

from ..errors import BTFError
from ._decode import MemberRow, fast_constructor
from .types import Kind, Type

log = logging.getLogger("pybpf.btf.c_dump")

#: bit widths of the integer types used for padding bit-fields, smallest first
_PAD_UNITS = ((8, "char"), (16, "short"), (32, "int"), (64, "long"))

POINTER_SIZE = 8


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """How to emit one struct/union so that clang lays it out as BTF says.

    ``members`` are ``(name, type_id, bit_offset, bitfield_size)`` rows (see
    :meth:`pybpf.btf.BTF.record_rows`), emitted in order; ``pads[i]`` (only where there is any) are the padding
    bit-fields, as ``(start bit, width)`` pairs, to emit before ``members[i]``. ``tail`` is the
    padding after the last member; for a union it is the padding of an anonymous struct that
    makes the union as large as BTF says.
    """

    packed: bool
    align: int
    members: tuple[MemberRow, ...]
    pads: dict[int, tuple[tuple[int, int], ...]]
    tail: tuple[tuple[int, int], ...]


def pad_chunks(start: int, end: int) -> list[tuple[int, int]]:
    """``(start, width)`` padding bit-fields covering bits ``[start, end)``, none crossing a
    64-bit unit (so that clang places each exactly where it starts)."""
    chunks = []
    cur = start
    while cur < end:
        width = min(end - cur, 64 - cur % 64)
        chunks.append((cur, width))
        cur += width
    return chunks


def pad_type(start: int, width: int) -> str:
    """The smallest integer type whose aligned unit holds a padding bit-field at ``start``."""
    for unit, name in _PAD_UNITS:
        if start % unit + width <= unit:
            return name
    return "long"


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


class Layout:
    """Sizes, alignments and record plans for the types of one BTF (ids index ``types``)."""

    def __init__(self, types: Mapping[int, Type], skip_member: Callable[[MemberRow], bool]) -> None:
        self._types = types
        self._skip = skip_member
        self._align: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._plans: dict[int, RecordPlan] = {}
        self._bits: dict[int, tuple[int, int]] = {}  # id -> (size, alignment) in bits
        self._planning: set[int] = set()

    # -- sizes and alignments --------------------------------------------------------------

    def size_of(self, tid: int) -> int:
        """Size in bytes of type ``tid`` (0 for void, functions and forward declarations)."""
        size = self._size.get(tid)
        if size is not None:
            return size
        t = self._types[tid]
        kind = t.kind
        if kind in _SIZED_KINDS:
            size = t.size  # type: ignore[union-attr]
        elif kind is Kind.PTR:
            size = POINTER_SIZE
        elif kind is Kind.ARRAY:
            size = t.nelems * self.size_of(t.elem_type_id)  # type: ignore[union-attr]
        elif kind in _TRANSPARENT_KINDS:
            size = self.size_of(t.type_id)  # type: ignore[union-attr]
        else:
            size = 0
        self._size[tid] = size
        return size

    def align_of(self, tid: int) -> int:
        """Alignment in bytes that clang gives the C we emit for ``tid`` (BPF target)."""
        align = self._align.get(tid)
        if align is not None:
            return align
        t = self._types[tid]
        kind = t.kind
        if kind in (Kind.INT, Kind.FLOAT, Kind.ENUM, Kind.ENUM64):
            align = min(max(t.size, 1), 16)  # type: ignore[union-attr]
        elif kind is Kind.PTR:
            align = POINTER_SIZE
        elif kind is Kind.ARRAY:
            align = self.align_of(t.elem_type_id)  # type: ignore[union-attr]
        elif kind in _TRANSPARENT_KINDS:
            align = self.align_of(t.type_id)  # type: ignore[union-attr]
        elif kind in (Kind.STRUCT, Kind.UNION):
            align = self.plan(tid).align
        else:
            align = 1
        self._align[tid] = align
        return align

    # -- records ---------------------------------------------------------------------------

    def plan(self, tid: int) -> RecordPlan:
        """The :class:`RecordPlan` of struct/union ``tid`` (cached)."""
        plan = self._plans.get(tid)
        if plan is None:
            t = self._types[tid]
            if tid in self._planning:
                raise BTFError(
                    f"{t.kind.name.lower()} {t.name or '(anon)'} contains itself by value (type id {tid}); "
                    "this BTF cannot be written as C"
                )
            self._planning.add(tid)
            skip = self._skip
            members = t.members  # type: ignore[union-attr]
            if not all(map(_NAME, members)):  # unnamed members: padding or anonymous records
                members = tuple([m for m in members if m[0] or not skip(m)])
            if t.kind is Kind.UNION:
                plan = self._plan_union(t, members)  # type: ignore[arg-type]
            else:
                plan = self._plan_struct(t, members, packed=False)  # type: ignore[arg-type]
                if plan is None:
                    plan = self._plan_struct(t, members, packed=True)  # type: ignore[arg-type]
            self._plans[tid] = plan  # type: ignore[assignment]
            self._planning.discard(tid)
        return plan  # type: ignore[return-value]

    def _plan_struct(self, t: Type, members: tuple[MemberRow, ...], *, packed: bool) -> RecordPlan | None:
        """Lay ``t`` out naturally (or packed); None when natural layout cannot match BTF."""
        cur = 0
        align = 8  # bits
        pads = {}
        bits = self._bits
        for i, (mname, tid, offset, width) in enumerate(members):
            sa = bits.get(tid)
            if sa is None:
                sa = bits[tid] = (self.size_of(tid) * 8, self.align_of(tid) * 8)
            msize, malign = sa
            if packed:
                pos = cur if width else -(-cur // 8) * 8
            elif width:
                pos = cur
                if pos // malign != (pos + width - 1) // malign:
                    pos = -(-pos // malign) * malign
            else:
                pos = -(-cur // malign) * malign
            if offset == pos:
                pass
            elif offset > pos:
                if not packed:
                    if width:
                        # padding ends at the offset; the bit-field must fit its unit from there
                        if offset // malign != (offset + width - 1) // malign:
                            return None
                    elif offset % malign:
                        return None
                pads[i] = tuple(pad_chunks(cur, offset))
            elif not packed:
                return None
            else:
                log.warning("struct %s: member %s at bit %d overlaps the previous one; its layout "
                            "in the dumped C will differ from BTF", t.name or "(anon)", mname, offset)
                cur = max(cur, pos + (width or msize))
                continue
            cur = offset + (width or msize)
            if malign > align:
                align = malign
        size_bits = t.size * 8  # type: ignore[union-attr]
        if packed:
            if cur > size_bits:
                log.warning("struct %s: members end at bit %d, beyond its size %d", t.name or "(anon)", cur, t.size)  # type: ignore[union-attr]
            return _make_plan(True, 1, members, pads, tuple(pad_chunks(cur, size_bits)))
        natural = -(-cur // align) * align
        if natural > size_bits or size_bits % align:
            return None
        tail = tuple(pad_chunks(cur, size_bits)) if natural < size_bits else ()
        return _make_plan(False, align // 8, members, pads, tail)

    def _plan_union(self, t: Type, members: tuple[MemberRow, ...]) -> RecordPlan:
        align = 1
        biggest = 0
        for mname, tid, bit_offset, bitfield_size in members:
            if bit_offset:
                log.warning("union %s: member %s at bit offset %d; the dumped C puts it at 0",
                            t.name or "(anon)", mname, bit_offset)
            biggest = max(biggest, bitfield_size or self.size_of(tid) * 8)
            align = max(align, self.align_of(tid))
        size_bits = t.size * 8  # type: ignore[union-attr]
        packed = _round_up(biggest, align * 8) > size_bits or t.size % align != 0  # type: ignore[union-attr]
        if packed:
            align = 1
        natural = _round_up(biggest, align * 8)
        tail = tuple(pad_chunks(0, size_bits)) if natural < size_bits else ()
        return _make_plan(packed, align, members, {}, tail)


_make_plan = fast_constructor(RecordPlan)  # ~10^4 plans per dump; same objects, no frozen __init__
_NAME = itemgetter(0)

_SIZED_KINDS = frozenset({Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT})
_TRANSPARENT_KINDS = frozenset({Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG})

__all__ = ["Layout", "RecordPlan", "pad_chunks", "pad_type", "POINTER_SIZE"]
