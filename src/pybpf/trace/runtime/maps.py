"""Reading bpftrace maps out of BPF maps: raw entries -> :class:`~.aggregations.MapData`.

The storage contract is code generation's (``pybpf.trace.codegen.result.MapBinding``):

- a scalar map has the u64 key 0; hist/lhist keys are the user key padded to 8 bytes followed by
  a u64 bucket index (a scalar hist map: the bucket alone), the value one u64 count;
- per-CPU values, merged here: count/sum i64 (summed), avg/stats u64 count at 0 and i64 total
  at 8 (each summed), min/max i64 value at 0 and a u64 ``set`` flag at 8 (min/max of the CPUs
  that saw a value);
- a ``kstack``/``ustack`` element of a key is stored as a u64 stack id into ``stack_map``;
- other maps hold the value type's own layout (not per-CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from ..types import AggKind, AggType, StackType, TupleType, Type
from .decode import Decoder

if TYPE_CHECKING:  # .aggregations is imported when a map is read (printing maps), not at start-up
    from .aggregations import Agg, MapData


class Binding(Protocol):
    """The parts of ``codegen.result.MapBinding`` the reader uses."""

    @property
    def info(self) -> Any: ...
    @property
    def key_size(self) -> int: ...
    @property
    def bucket_key(self) -> bool: ...
    @property
    def stack_map(self) -> str: ...


class RawMap(Protocol):
    """What the reader needs from a live map."""

    def raw_items(self) -> Iterator[tuple[bytes, Sequence[bytes]]]:
        """Every ``(key bytes, [value bytes per CPU])`` (one element for a shared map)."""
        ...


class LiveMap:
    """:class:`RawMap` over a ``pybpf.map.Map``, through the syscall seam; also clear/zero."""

    def __init__(self, m: Any, *, percpu: bool, ncpus: int | None = None) -> None:
        from ..._sys.cpus import possible_cpus
        self.map = m
        self.ncpus = (ncpus or possible_cpus()) if percpu else 1
        self.slot = (m.value_size + 7) // 8 * 8 if percpu else m.value_size

    def raw_items(self) -> Iterator[tuple[bytes, Sequence[bytes]]]:
        from ..._sys.maps import map_get_next_key, map_lookup_elem
        key: bytes | None = None
        fd = self.map.fileno()
        while (nxt := map_get_next_key(fd, key, self.map.key_size)) is not None:
            key = nxt
            raw = map_lookup_elem(fd, nxt, self.slot * self.ncpus)
            if raw is not None:
                yield nxt, [raw[i * self.slot:(i + 1) * self.slot] for i in range(self.ncpus)]

    def delete_all(self) -> None:
        """``clear(@m)``."""
        from ..._sys.maps import map_delete_elem
        for key, _ in list(self.raw_items()):
            map_delete_elem(self.map.fileno(), key)

    def zero_all(self) -> None:
        """``zero(@m)``: every key kept, every value zero."""
        from ..._sys.maps import map_update_elem
        zero = bytes(self.slot * self.ncpus)
        for key, _ in list(self.raw_items()):
            map_update_elem(self.map.fileno(), key, zero)


def _agg(value: Type) -> Agg:
    from .aggregations import Agg

    return Agg(str(value.kind)) if isinstance(value, AggType) else Agg.VALUE


def _i64(raw: bytes, off: int, signed: bool = True) -> int:
    return int.from_bytes(raw[off:off + 8], "little", signed=signed)


def _combine(kind: Agg, signed: bool, cpus: Sequence[bytes]) -> Any:
    from .aggregations import Agg, Stats

    if kind in (Agg.COUNT, Agg.SUM):
        return sum(_i64(c, 0, signed) for c in cpus)
    if kind in (Agg.MIN, Agg.MAX):
        seen = [_i64(c, 0, signed) for c in cpus if len(c) < 16 or _i64(c, 8, False)]
        if not seen:
            return None
        return min(seen) if kind is Agg.MIN else max(seen)
    if kind in (Agg.AVG, Agg.STATS):
        return Stats(sum(_i64(c, 0, False) for c in cpus), sum(_i64(c, 8, signed) for c in cpus))
    raise AssertionError(kind)


#: stack id -> addresses, for a stack element of a key (``stack_map`` name, kernel?, id)
StackLookup = Callable[[str, StackType, int], list[int]]


def _stored_layout(t: TupleType) -> tuple[int, ...]:
    offs, off = [], 0
    for e in t.elems:
        a = 8 if isinstance(e, StackType) else max(1, e.align)
        off = (off + a - 1) // a * a
        offs.append(off)
        off += 8 if isinstance(e, StackType) else e.size
    return tuple(offs)


class KeyDecoder:
    """Decodes stored keys: like :class:`Decoder`, but stacks are u64 ids into a stack map."""

    def __init__(self, decoder: Decoder, stack_map: str, stacks: StackLookup | None) -> None:
        self.decoder = replace(decoder, stack_indent=4)  # stacks inside map keys are indented by 4
        self.stack_map = stack_map
        self.stacks = stacks

    def _element(self, t: Type, raw: bytes, off: int) -> Any:
        if isinstance(t, StackType):
            if self.stacks is None:
                raise AssertionError("a stack key needs a stack lookup")
            addrs = self.stacks(self.stack_map, t, _i64(raw, off, False))
            return self.decoder.stack_text(t, addrs, pid=0)
        return self.decoder.value(t, raw, off)

    def key(self, t: Type, raw: bytes) -> tuple[Any, ...]:
        if isinstance(t, TupleType):
            return tuple(self._element(e, raw, o) for e, o in zip(t.elems, _stored_layout(t)))
        return (self._element(t, raw, 0),)


def read_map(b: Binding, items: Iterable[tuple[bytes, Sequence[bytes]]], decoder: Decoder, *,
             stacks: StackLookup | None = None) -> MapData:
    """The :class:`MapData` of binding ``b`` from its raw entries."""
    from .aggregations import Agg, MapData

    info = b.info
    kind = _agg(info.value)
    lhist = (0, 0, 0)
    if isinstance(info.value, AggType) and info.value.kind is AggKind.LHIST:
        lhist = (info.value.lo, info.value.hi, info.value.step)
    signed = info.value.signed if isinstance(info.value, AggType) else True
    m = MapData(info.name, kind, keyed=info.key is not None, lhist=lhist)
    bucket_at = b.key_size - 8
    keys = KeyDecoder(decoder, b.stack_map, stacks)
    for raw_key, cpus in items:
        key = keys.key(info.key, raw_key) if info.key is not None else ()
        if b.bucket_key:
            counts = m.entries.setdefault(key, [0] * info.value.buckets)
            bucket = _i64(raw_key, bucket_at, False)
            if bucket < len(counts):
                counts[bucket] += sum(_i64(c, 0, False) for c in cpus)
        elif kind is Agg.VALUE:
            m.entries[key] = decoder.value(info.value, cpus[0])
        else:
            v = _combine(kind, signed, cpus)
            if v is not None:
                m.entries[key] = v
    return m
