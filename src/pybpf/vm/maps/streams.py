"""Maps without keys: queue, stack, bloom filter, ring buffer, perf event array."""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, Any

from ...enums import MapType
from .base import UpdateFlag, VMMap

if TYPE_CHECKING:
    from ..memory import Region

__all__ = ["QueueMap", "BloomFilterMap", "RingBufMap", "PerfEventArrayMap"]

#: ring buffer record header (u32 length with busy/discard bits, u32 page offset)
RINGBUF_HDR = 8


class QueueMap(VMMap):
    """QUEUE (FIFO) and STACK (LIFO) of ``value_size``-byte values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: deque[bytes] = deque()

    def bpf_push(self, value: bytes, flags: int) -> int:
        if len(self._items) >= self.max_entries:
            if not flags & UpdateFlag.EXIST:
                return -errno.E2BIG
            self._items.popleft()  # both kinds drop the oldest element
        self._items.append(bytes(value))
        return 0

    def bpf_pop(self, delete: bool) -> bytes | None:
        if not self._items:
            return None
        lifo = self.type == MapType.STACK
        if delete:
            return self._items.pop() if lifo else self._items.popleft()
        return self._items[-1] if lifo else self._items[0]

    def __len__(self) -> int:
        return len(self._items)


class BloomFilterMap(VMMap):
    """BLOOM_FILTER: ``push`` adds, ``in`` / ``map_peek_elem`` test. This one is exact (never a
    false positive), which a bloom filter's contract allows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: set[bytes] = set()

    def bpf_push(self, value: bytes, flags: int) -> int:
        if flags & UpdateFlag.EXIST:
            return -errno.EINVAL
        self._items.add(bytes(value))
        return 0

    def _raw_bloom_has(self, value: bytes) -> bool:
        return bytes(value) in self._items


class RingBufMap(VMMap):
    """RINGBUF: ``max_entries`` bytes of records. Programs reserve/submit/discard or output;
    user space reads submitted records in order with :meth:`read` (or :meth:`__iter__` on
    a drained copy)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: deque[bytes] = deque()
        self._reserved: dict[int, Region] = {}
        self._used = 0
        self.producer_pos = 0
        self.consumer_pos = 0

    @staticmethod
    def _footprint(size: int) -> int:
        return (size + RINGBUF_HDR + 7) & ~7

    def reserve(self, size: int) -> int:
        """Address of a new record of ``size`` bytes, 0 when the buffer has no room."""
        need = self._footprint(size)
        if size <= 0 or self._used + need > self.max_entries:
            return 0
        region = self.memory.map(bytearray(size), f"a record of ring buffer {self.name!r}")
        self._reserved[region.base] = region
        self._used += need
        self.producer_pos += need
        return region.base

    def commit(self, addr: int, discard: bool) -> bool:
        region = self._reserved.pop(addr, None)
        if region is None:
            return False
        if discard:
            self._used -= self._footprint(len(region.buf))
        else:
            self.records.append(bytes(region.buf))
        self.memory.unmap(region, deferred=True)
        return True

    def output(self, data: bytes) -> int:
        need = self._footprint(len(data))
        if self._used + need > self.max_entries:
            return -errno.EAGAIN
        self._used += need
        self.producer_pos += need
        self.records.append(bytes(data))
        return 0

    def read(self, max_records: int | None = None) -> list[bytes]:
        """Take (consume) up to ``max_records`` submitted records, oldest first."""
        out: list[bytes] = []
        while self.records and (max_records is None or len(out) < max_records):
            rec = self.records.popleft()
            self._used -= self._footprint(len(rec))
            self.consumer_pos += self._footprint(len(rec))
            out.append(rec)
        return out

    def available(self) -> int:
        return sum(self._footprint(len(r)) for r in self.records)


class PerfEventArrayMap(VMMap):
    """PERF_EVENT_ARRAY: ``perf_event_output`` appends a sample to a CPU's list; :meth:`read`
    takes them (``cpu=None``: every CPU's, in CPU order)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.samples: dict[int, list[bytes]] = {}

    def output(self, cpu: int, data: bytes) -> int:
        if cpu >= max(self.max_entries, 1):
            return -errno.E2BIG
        self.samples.setdefault(cpu, []).append(bytes(data))
        return 0

    def read(self, cpu: int | None = None) -> list[bytes]:
        if cpu is not None:
            return self.samples.pop(cpu, [])
        out: list[bytes] = []
        for c in sorted(self.samples):
            out.extend(self.samples.pop(c))
        return out
