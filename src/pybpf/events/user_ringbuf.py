"""User ring buffer writer (BPF_MAP_TYPE_USER_RINGBUF, kernel >= 6.1).

Userspace is the producer here and the BPF program the consumer: it drains records with
``bpf_user_ringbuf_drain(&map, callback, ctx, 0)``. Mapping: page 0 (``consumer_pos``,
written by the kernel) is read-only to userspace; page 1 (``producer_pos``) and the data
pages (mapped twice, so a record never splits) are writable.

Writing a record: reserve ``roundup(8 + size, 8)`` bytes at ``producer_pos`` if the kernel
has consumed enough, write the header ``len = size | BUSY``, publish the new
``producer_pos``; fill the data; then clear BUSY (submit) or set DISCARD (discard) in the
header with a store the kernel reads with acquire semantics. A record still BUSY stops the
kernel's drain there, so records are seen in reservation order.

>>> with UserRingBuffer(obj.maps["requests"]) as urb:  # doctest: +SKIP
...     sample = urb.reserve(16)
...     sample[:] = struct.pack("<QQ", 1, 2)
...     urb.submit(sample)
...     obj.programs["drain"].test_run()
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from .._lifetime import Finalized
from ..enums import MapType
from ._mmap import PAGE_SIZE, close_mapping, map_shared
from .errors import EventsError, RingBufferFullError
from .ringbuf import HEADER_SIZE, RecordFlags, record_span

if TYPE_CHECKING:
    from ..map import Map

_BUSY = int(RecordFlags.BUSY)
_DISCARD = int(RecordFlags.DISCARD)


class _Mapping:
    """The mmaps and views of one user ring buffer; closed once (also by the finalizer)."""

    def __init__(self, m: Map) -> None:
        self.fd = m.fd.dup()
        self.size = m.max_entries
        self.cons_mm = self.prod_mm = None
        try:
            self.cons_mm = map_shared(self.fd, PAGE_SIZE, what="mmap user ring buffer consumer page")
            self.prod_mm = map_shared(self.fd, PAGE_SIZE + 2 * self.size, offset=PAGE_SIZE, writable=True,
                                      what="mmap user ring buffer producer page and data")
        except BaseException:
            self.close()
            raise
        self.cons = memoryview(self.cons_mm).cast("Q")
        self.prod = memoryview(self.prod_mm).cast("Q")
        self.words = memoryview(self.prod_mm).cast("I")
        self.data = memoryview(self.prod_mm)
        self.samples: dict[int, tuple[int, int, memoryview]] = {}

    def close(self) -> None:
        for _hdr, _size, sample in self.samples.values():
            sample.release()
        self.samples.clear()
        for name in ("cons", "prod", "words", "data"):
            view = getattr(self, name, None)
            if view is not None:
                view.release()
                setattr(self, name, None)
        for mm in (self.cons_mm, self.prod_mm):
            if mm is not None:
                close_mapping(mm)
        self.cons_mm = self.prod_mm = None
        self.fd.close()


class UserRingBuffer(Finalized):
    """Writes records for a BPF program to drain (kernel >= 6.1). One writer at a time.

    :meth:`reserve` returns a writable ``memoryview`` of the record; :meth:`submit` or
    :meth:`discard` it (in any order; the kernel drains in reservation order). :meth:`write`
    does all three for a bytes-like record. A full ring raises :class:`RingBufferFullError`
    (nothing is dropped silently): let the program drain, then retry.
    """

    def __init__(self, map: Map) -> None:
        if map.type != MapType.USER_RINGBUF:
            raise EventsError(f"UserRingBuffer writes a USER_RINGBUF map; {map.name or 'this map'} is {map.type.name}")
        self.name = map.name
        self._m = _Mapping(map)
        self._finalizer = weakref.finalize(self, self._m.close)
        #: records refused because the ring was full (each one also raised)
        self.lost = 0

    def _live(self) -> _Mapping:
        if not self._finalizer.alive:
            raise EventsError(f"UserRingBuffer {self.name!r} is closed")
        return self._m

    @property
    def free(self) -> int:
        """Bytes the producer may still reserve (headers and padding included)."""
        m = self._live()
        assert m.prod is not None and m.cons is not None
        return m.size - int(m.prod[0] - m.cons[0])

    def reserve(self, size: int) -> memoryview:
        """A writable view of a new ``size``-byte record (zeroed contents are not guaranteed)."""
        m = self._live()
        assert m.prod is not None and m.cons is not None and m.words is not None and m.data is not None
        span = record_span(size)
        if size <= 0 or span > m.size:
            raise EventsError(f"a {size}-byte record cannot fit a {m.size}-byte user ring buffer")
        cons = m.cons[0]  # acquire: the kernel is done with everything below it
        prod = m.prod[0]
        if m.size - (prod - cons) < span:
            self.lost += 1
            raise RingBufferFullError(
                f"user ring buffer {self.name!r} is full ({prod - cons} of {m.size} bytes unconsumed); run the "
                "program that calls bpf_user_ringbuf_drain(), then retry"
            )
        off = PAGE_SIZE + (prod & (m.size - 1))
        m.words[off >> 2] = size | _BUSY
        m.words[(off >> 2) + 1] = 0
        m.prod[0] = prod + span  # release: the header is written
        view = m.data[off + HEADER_SIZE:off + HEADER_SIZE + size]
        m.samples[id(view)] = (off, size, view)
        return view

    def _finish(self, sample: memoryview, flag: int) -> None:
        m = self._live()
        entry = m.samples.pop(id(sample), None)
        if entry is None or entry[2] is not sample:
            raise EventsError("not a pending record of this UserRingBuffer (reserved here, not yet submitted)")
        off, size, view = entry
        assert m.words is not None
        view.release()
        m.words[off >> 2] = size | flag  # release: the record's bytes are written

    def submit(self, sample: memoryview) -> None:
        """Hand a reserved record to the kernel (the view is released)."""
        self._finish(sample, 0)

    def discard(self, sample: memoryview) -> None:
        """Give a reserved record up: the kernel skips it."""
        self._finish(sample, _DISCARD)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Reserve, copy ``data`` in and submit."""
        raw = memoryview(data).cast("B")
        sample = self.reserve(len(raw))
        sample[:] = raw
        self.submit(sample)


    def __repr__(self) -> str:
        return f"<UserRingBuffer {self.name!r}{' closed' if self.closed else ''}>"


__all__ = ["UserRingBuffer"]
