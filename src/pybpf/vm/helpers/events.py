"""Event helpers: ring buffer reserve/submit/discard/output/query and perf_event_output."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Callable

from ..maps import PerfEventArrayMap, RingBufMap
from ..memory import VMError

if TYPE_CHECKING:
    from ..runtime import Runtime

M64 = (1 << 64) - 1
#: BPF_F_CURRENT_CPU
CURRENT_CPU = 0xFFFFFFFF


def _ringbuf(rt: Runtime, ptr: int) -> RingBufMap:
    m = rt.map_of(ptr)
    if not isinstance(m, RingBufMap):
        raise VMError(f"map {m.name!r} is not a ring buffer")
    return m


def ringbuf_output(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _ringbuf(rt, r1).output(rt.memory.read(r2, r3)) & M64


def ringbuf_reserve(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if r3:
        return 0
    return _ringbuf(rt, r1).reserve(r2)


def _commit(rt: Runtime, addr: int, discard: bool) -> int:
    for m in rt.maps.values():
        if isinstance(m, RingBufMap) and m.commit(addr, discard):
            return 0
    raise VMError(f"{addr:#x} is not a reserved ring buffer record (submitted twice, or never reserved)")


def ringbuf_submit(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _commit(rt, r1, False)


def ringbuf_discard(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _commit(rt, r1, True)


def ringbuf_query(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = _ringbuf(rt, r1)
    return {0: m.available(), 1: m.max_entries, 2: m.consumer_pos, 3: m.producer_pos}.get(r2, 0)


def perf_event_output(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = rt.map_of(r2)
    if not isinstance(m, PerfEventArrayMap):
        raise VMError(f"map {m.name!r} is not a perf event array")
    index = r3 & 0xFFFFFFFF
    cpu = rt.cpu if index == CURRENT_CPU else index
    if r3 >> 32:  # BPF_F_CTXLEN_MASK: bytes of the packet to append are not modelled
        return -errno.EOPNOTSUPP & M64
    return m.output(cpu, rt.memory.read(r4, r5)) & M64


HELPERS: dict[int, Callable[..., int]] = {
    25: perf_event_output,
    130: ringbuf_output,
    131: ringbuf_reserve,
    132: ringbuf_submit,
    133: ringbuf_discard,
    134: ringbuf_query,
}
