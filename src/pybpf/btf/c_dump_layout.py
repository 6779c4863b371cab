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
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from ..errors import BTFError
from ._decode import MemberRow, fast_constructor, member_rows, member_rows_many
from .types import Kind

if TYPE_CHECKING:
    from .container import BTF

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
    members: list[MemberRow]
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


class TypeWords:
    """Raw read access to the type records of one standalone BTF, by type id.

    The C dumper reads the few fields it needs straight from the 32-bit words of each
    record instead of decoding dataclasses (most of a dump is spent walking types).
    ``offsets[tid]`` is the word index of type ``tid``'s record (id 0, void, has none).
    """

    __slots__ = ("btf", "words", "offsets", "kinds", "n", "name_at", "_members")

    def __init__(self, btf: BTF) -> None:
        if btf.base is not None:
            raise ValueError("TypeWords needs a standalone BTF (use BTF.flattened())")
        self.btf = btf
        self.words = btf._words
        self.offsets = array("I", [0]) + btf._offsets
        self.kinds = btf.kinds()
        self.n = len(btf)
        self.name_at = btf._strings.get  # string offset -> str
        self._members: dict[int, list[MemberRow]] = {}  # read ahead by prefetch_members

    def prefetch_members(self, tids: list[int]) -> None:
        """Read the members of records ``tids`` now, all at once (faster than one by one)."""
        offsets = self.offsets
        self._members.update(zip(tids, member_rows_many(self.btf, [offsets[tid] for tid in tids])))

    def name(self, tid: int) -> str:
        """The BTF name of ``tid`` ("" for void and anonymous types)."""
        return self.name_at(self.words[self.offsets[tid]]) if tid else ""

    def names_at(self, offsets: Iterable[int]) -> list[str]:
        """The strings at each of ``offsets`` of the string section."""
        return self.btf._strings.get_many(offsets)

    def ref(self, tid: int, word: int = 2) -> int:
        """The type id stored in word ``word`` of ``tid``'s record, checked to be in range."""
        ref: int = self.words[self.offsets[tid] + word]
        if ref >= self.n:
            raise BTFError(f"{Kind(self.kinds[tid]).name} type id {tid} refers to type id {ref}, out of "
                           f"range (this BTF has ids 0..{self.n - 1})")
        return ref

    def size(self, tid: int) -> int:
        """The size word of a sized record (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT)."""
        size: int = self.words[self.offsets[tid] + 2]
        return size

    def kind_flag(self, tid: int) -> bool:
        return bool(self.words[self.offsets[tid] + 1] >> 31)

    def vlen(self, tid: int) -> int:
        vlen: int = self.words[self.offsets[tid] + 1] & 0xFFFF
        return vlen

    def members(self, tid: int) -> list[MemberRow]:
        """The member rows of struct/union ``tid`` (see :func:`pybpf.btf._decode.member_rows`)."""
        rows = self._members.pop(tid, None)
        if rows is not None:
            return rows
        off = self.offsets[tid]
        keyword = "union" if self.kinds[tid] == _UNION else "struct"
        return member_rows(self.btf, self.words, off, self.words[off + 1],
                           f"{keyword} {self.name(tid) or '(anon)'}")


class Layout:
    """Sizes, alignments and record plans for the types of one BTF.

    ``rows(tid)`` gives the members of record ``tid`` that the dump emits (padding members
    left out: the plan redoes them).
    """

    def __init__(self, types: TypeWords, rows: Callable[[int], list[MemberRow]]) -> None:
        self._types = types
        self._rows = rows
        #: (size, alignment) in bits of every type id laid out so far
        self.bits: list[tuple[int, int] | None] = [None] * types.n
        self._plans: dict[int, RecordPlan] = {}
        self._planning: set[int] = set()

    # -- sizes and alignments --------------------------------------------------------------

    def size_align(self, tid: int) -> tuple[int, int]:
        """Size and alignment in bits of type ``tid`` in the C we emit (BPF target): size 0
        for void, functions and forward declarations, alignment never above the real one."""
        found = self.bits[tid]
        if found is not None:
            return found
        types = self._types
        kind = types.kinds[tid]
        if kind in _SCALAR_KINDS:
            size = types.size(tid)
            result = (size * 8, min(max(size, 1), 16) * 8)
        elif kind in _RECORD_KINDS:
            result = (types.size(tid) * 8, self.plan(tid).align * 8)
        elif kind == _PTR:
            result = (POINTER_SIZE * 8, POINTER_SIZE * 8)
        elif kind == _ARRAY:
            elem_size, elem_align = self.size_align(types.ref(tid, 3))
            result = (types.words[types.offsets[tid] + 5] * elem_size, elem_align)
        elif kind in _TRANSPARENT_KINDS:
            result = self.size_align(types.ref(tid))
        else:
            result = (0, 8)
        self.bits[tid] = result
        return result

    # -- records ---------------------------------------------------------------------------

    def plan(self, tid: int) -> RecordPlan:
        """The :class:`RecordPlan` of struct/union ``tid`` (cached)."""
        plan = self._plans.get(tid)
        if plan is None:
            types = self._types
            if tid in self._planning:
                raise BTFError(
                    f"{self._what(tid)} contains itself by value (type id {tid}); this BTF cannot be written as C"
                )
            self._planning.add(tid)
            members = self._rows(tid)
            if types.kinds[tid] == _UNION:
                plan = self._plan_union(tid, members)
            else:
                plan = self._plan_natural(tid, members)
                if plan is None:
                    plan = self._plan_packed(tid, members)
            self._plans[tid] = plan
            self._planning.discard(tid)
        return plan

    def _what(self, tid: int) -> str:
        """``struct foo`` (or ``union (anon)``) for messages."""
        keyword = "union" if self._types.kinds[tid] == _UNION else "struct"
        return f"{keyword} {self._types.name(tid) or '(anon)'}"

    def _plan_natural(self, tid: int, members: list[MemberRow]) -> RecordPlan | None:
        """Lay struct ``tid`` out as clang would without attributes, with padding in front of
        members that BTF places later; None when that cannot match BTF (it needs packing)."""
        cur = 0
        align = 8  # bits
        pads = {}
        bits = self.bits
        for i, (_, mtid, offset, width) in enumerate(members):
            sa = bits[mtid]
            if sa is None:
                sa = self.size_align(mtid)
            msize, malign = sa
            if width:
                pos = cur
                if pos // malign != (pos + width - 1) // malign:  # it would straddle its unit
                    pos = -(-pos // malign) * malign
                if offset != pos:
                    # padding ends at the offset; the bit-field must fit its unit from there
                    if offset < pos or offset // malign != (offset + width - 1) // malign:
                        return None
                    pads[i] = tuple(pad_chunks(cur, offset))
                cur = offset + width
            else:
                pos = -(-cur // malign) * malign
                if offset != pos:
                    if offset < pos or offset % malign:
                        return None
                    pads[i] = tuple(pad_chunks(cur, offset))
                cur = offset + msize
            if malign > align:
                align = malign
        size_bits = self._types.size(tid) * 8
        natural = -(-cur // align) * align
        if natural > size_bits or size_bits % align:
            return None
        tail = tuple(pad_chunks(cur, size_bits)) if natural < size_bits else ()
        return _make_plan(False, align // 8, members, pads, tail)

    def _plan_packed(self, tid: int, members: list[MemberRow]) -> RecordPlan:
        """Lay struct ``tid`` out packed (``__attribute__((packed))``), padding in front of
        members that BTF places later."""
        cur = 0
        pads = {}
        size_align = self.size_align
        for i, (mname, mtid, offset, width) in enumerate(members):
            msize = size_align(mtid)[0]
            pos = cur if width else -(-cur // 8) * 8
            if offset > pos:
                pads[i] = tuple(pad_chunks(cur, offset))
            elif offset < pos:
                log.warning("%s: member %s at bit %d overlaps the previous one; its layout in the "
                            "dumped C will differ from BTF", self._what(tid), mname, offset)
                cur = max(cur, pos + (width or msize))
                continue
            cur = offset + (width or msize)
        size_bits = self._types.size(tid) * 8
        if cur > size_bits:
            log.warning("%s: members end at bit %d, beyond its size %d", self._what(tid), cur, size_bits // 8)
        return _make_plan(True, 1, members, pads, tuple(pad_chunks(cur, size_bits)))

    def _plan_union(self, tid: int, members: list[MemberRow]) -> RecordPlan:
        byte_size = self._types.size(tid)
        align = 1
        biggest = 0
        size_align = self.size_align
        for mname, tid, bit_offset, bitfield_size in members:
            if bit_offset:
                log.warning("%s: member %s at bit offset %d; the dumped C puts it at 0",
                            self._what(tid), mname, bit_offset)
            msize, malign = size_align(tid)
            biggest = max(biggest, bitfield_size or msize)
            align = max(align, malign // 8)
        size_bits = byte_size * 8
        packed = _round_up(biggest, align * 8) > size_bits or byte_size % align != 0
        if packed:
            align = 1
        natural = _round_up(biggest, align * 8)
        tail = tuple(pad_chunks(0, size_bits)) if natural < size_bits else ()
        return _make_plan(packed, align, members, {}, tail)


_make_plan: Callable[[bool, int, list[MemberRow], dict[int, tuple[tuple[int, int], ...]],
                      tuple[tuple[int, int], ...]], RecordPlan] = fast_constructor(RecordPlan)
"""RecordPlan(...) without the frozen ``__init__`` (~10^4 plans per dump; the same objects)"""

_SCALAR_KINDS = frozenset(int(k) for k in (Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.FLOAT))
_RECORD_KINDS = frozenset({int(Kind.STRUCT), int(Kind.UNION)})
_TRANSPARENT_KINDS = frozenset(int(k) for k in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT,
                                                Kind.TYPE_TAG))
_PTR = int(Kind.PTR)
_ARRAY = int(Kind.ARRAY)
_UNION = int(Kind.UNION)

__all__ = ["Layout", "RecordPlan", "TypeWords", "pad_chunks", "pad_type", "POINTER_SIZE"]
