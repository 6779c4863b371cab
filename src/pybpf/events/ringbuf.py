"""Ring buffer reader (BPF_MAP_TYPE_RINGBUF, kernel >= 5.8).

Layout of the map's mmap (kernel/bpf/ringbuf.c): page 0 holds ``consumer_pos`` and is the
only page userspace may write; page 1 holds ``producer_pos``; the data pages follow, mapped
twice in a row so that a record crossing the end of the ring reads as one contiguous span.
Each record starts with an 8-byte header: a u32 length whose bit 31 (BUSY) is set while the
producer still writes the record and bit 30 (DISCARD) marks a record the program dropped,
then a u32 page offset the kernel uses internally. Records start 8-byte aligned.

The consumer reads ``producer_pos`` (acquire), walks the headers from ``consumer_pos``,
stops at the first BUSY record, and stores the new ``consumer_pos`` (release) so the kernel
can reuse the space.

Lost records: when the ring is full, ``bpf_ringbuf_reserve()`` / ``bpf_ringbuf_output()``
fail *in the BPF program*, and userspace cannot see that. A program that must not lose data
silently counts its own failures, for example::

    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
             __type(key, __u32); __type(value, __u64); } rb_lost SEC(".maps");
    ...
    if (bpf_ringbuf_output(&events, &e, sizeof(e), 0)) {
        __u32 zero = 0; __u64 *n = bpf_map_lookup_elem(&rb_lost, &zero);
        if (n) __sync_fetch_and_add(n, 1);
    }

and reads ``obj.maps["rb_lost"][0]``. :attr:`Ring.lost` is therefore always 0 and says so;
:attr:`Ring.discarded` counts records the program discarded (skipped by design).

>>> with pybpf.load("events.bpf.o") as obj, RingBuffer(obj.maps["events"], print) as rb:  # doctest: +SKIP
...     while True:
...         rb.poll(1.0)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from enum import IntFlag
from typing import TYPE_CHECKING, Any

from .._log import get_logger
from ..enums import MapType
from ._mmap import PAGE_SIZE, close_mapping, map_shared, release
from ._reader import DEFAULT_LIMIT, EpollReader, Sink
from .errors import EventsError, RecordTypeError

if TYPE_CHECKING:
    import numpy as np

    from ..btf import BTF
    from ..map import Map
    from .dtype import RecordType

log = get_logger("pybpf.events")

HEADER_SIZE = 8
#: Ring.drain stores consumer_pos at least once per this many bytes of records
STORE_EVERY = 1 << 16


class RecordFlags(IntFlag):
    """Bits of a ring buffer record header's length word (``BPF_RINGBUF_*_BIT``)."""

    BUSY = 1 << 31
    DISCARD = 1 << 30


LENGTH_MASK = ~(RecordFlags.BUSY | RecordFlags.DISCARD) & 0xFFFFFFFF
_BUSY = int(RecordFlags.BUSY)
_DISCARD = int(RecordFlags.DISCARD)
_NOT_DISCARD = ~_DISCARD & 0xFFFFFFFF


def record_span(size: int) -> int:
    """Bytes one record of ``size`` payload bytes takes in the ring (header + 8-byte padding)."""
    return (size + HEADER_SIZE + 7) & ~7


def _check_map(m: Map, expected: MapType, what: str) -> None:
    if m.type != expected:
        raise EventsError(f"{what} reads a {expected.name} map; {m.name or 'this map'} is a {m.type.name} map")


class Ring:
    """One ring buffer map mapped into this process (made by :meth:`RingBuffer.add`).

    ``callback(record)`` gets each record as ``bytes``, or as a numpy record (fields by name)
    when the ring has a ``dtype``; with ``batch``, ``callback(records)`` gets a list of them per
    read (at most :data:`STORE_EVERY` bytes of records each).
    """

    def __init__(self, m: Map, callback: Callable[[Any], object] | None, dtype: np.dtype[Any] | None,
                 *, batch: bool = False) -> None:
        _check_map(m, MapType.RINGBUF, "RingBuffer")
        self.name = m.name
        self.size = m.max_entries
        self.callback = callback
        self.dtype = dtype
        self.batch = batch
        #: records the BPF program discarded (bpf_ringbuf_discard): skipped by design
        self.discarded = 0
        self._mask = self.size - 1
        self._fd = m.fd.dup()  # our own reference: the map may be closed while we read
        self._cons_mm = self._prod_mm = None
        self._cons = self._prod = self._hdr = None
        try:
            self._cons_mm = map_shared(self._fd, PAGE_SIZE, writable=True, what="mmap ring buffer consumer page")
            self._prod_mm = map_shared(self._fd, PAGE_SIZE + 2 * self.size, offset=PAGE_SIZE,
                                       what="mmap ring buffer producer page and data")
        except BaseException:
            self.close()
            raise
        self._cons = memoryview(self._cons_mm).cast("Q")
        self._prod = memoryview(self._prod_mm).cast("Q")
        self._hdr = memoryview(self._prod_mm).cast("I")
        self._slot: np.dtype[Any] | None = None
        if dtype is not None:
            import numpy as np  # batches only: the callback path does not need numpy

            self._slot = np.dtype({"names": ["len", "rec"], "formats": ["<u4", dtype], "offsets": [0, HEADER_SIZE],
                                   "itemsize": record_span(dtype.itemsize)})

    @property
    def lost(self) -> int:
        """Always 0: reserve failures happen in the BPF program (see the module docs)."""
        return 0

    def fileno(self) -> int:
        return self._fd.fileno()

    @property
    def pending(self) -> int:
        """Bytes between the consumer and the producer position (records not read yet)."""
        assert self._cons is not None and self._prod is not None
        return int(self._prod[0] - self._cons[0])

    def _decoder(self) -> Callable[[bytes], Any] | None:
        if self.dtype is None:
            return None  # records stay bytes
        from .dtype import record_decoder

        return record_decoder(self.dtype, "record")

    def drain(self, sink: Sink | None, limit: int = DEFAULT_LIMIT) -> int:
        """Hand up to ``limit`` available records to ``sink``; returns how many.

        ``consumer_pos`` is stored after every :data:`STORE_EVERY` bytes of records (and when
        stopping, also when ``sink`` raises), so the kernel gets space back while a long
        backlog is read; records handed to ``sink`` are copies. A ``batch`` ring hands
        ``sink`` one list per stretch of up to :data:`STORE_EVERY` bytes (its consumer
        position already stored: if ``sink`` raises, the rest of its list is not read again)
        instead of one call per record.
        """
        if sink is None:
            raise EventsError("Ring.drain needs a sink")
        cons_v, prod_v, hdr, mm = self._cons, self._prod, self._hdr, self._prod_mm
        if cons_v is None or prod_v is None or hdr is None or mm is None:
            raise EventsError(f"ring buffer {self.name!r} is closed")
        decode = self._decoder()
        batch: list[Any] = []
        out: Callable[[Any], object] = batch.append if self.batch else sink
        emit = out if decode is None else (lambda raw: out(decode(raw)))
        mask = self._mask
        flags = _BUSY | _DISCARD
        cons = cons_v[0]
        n = 0
        busy = False
        try:
            while n < limit and not busy:
                prod = prod_v[0]  # acquire: the headers below it are initialised
                if cons >= prod:
                    break
                stop = min(prod, cons + STORE_EVERY)
                while cons < stop and n < limit:
                    off = PAGE_SIZE + (cons & mask)
                    length = hdr[off >> 2]
                    if length & flags:
                        if length & _BUSY:
                            busy = True  # not committed yet: the records after it wait (order is kept)
                            break
                        self.discarded += 1
                        cons += ((length & LENGTH_MASK) + 15) & ~7
                        continue
                    cons += (length + 15) & ~7
                    n += 1
                    emit(mm[off + HEADER_SIZE:off + HEADER_SIZE + length])
                cons_v[0] = cons  # release: the kernel may reuse the span
                if batch:
                    records = batch[:]
                    batch.clear()
                    sink(records)
        finally:
            cons_v[0] = cons
        return n

    def read_batch(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """Every available record (up to ``max_records``) as one numpy structured array of the
        ring's dtype, consumed. Records must all be of that type: one of another size raises
        :class:`RecordTypeError` (after consuming the records before it)."""
        import numpy as np

        slot = self._slot
        cons_v, prod_v, mm = self._cons, self._prod, self._prod_mm
        if slot is None or self.dtype is None:
            raise RecordTypeError(
                f"ring buffer {self.name!r} has no record type; create it with record_type='struct name' "
                "(or a numpy dtype) to read batches"
            )
        if cons_v is None or prod_v is None or mm is None:
            raise EventsError(f"ring buffer {self.name!r} is closed")
        want = max_records if max_records is not None else 1 << 62
        stride, size, mask = slot.itemsize, self.dtype.itemsize, self._mask
        chunks: list[np.ndarray[Any, Any]] = []
        got = 0
        cons = cons_v[0]
        prod = prod_v[0]
        while got < want and cons < prod:
            k = min((prod - cons) // stride, want - got)
            good = 0
            if k:
                good, recs = self._take_run(cons, k, size)
                if good:
                    chunks.append(recs)
                    got += len(recs)
                    cons += good * stride
                    cons_v[0] = cons  # release: the span may be reused (recs is a copy)
            if good == k:
                prod = prod_v[0]
                continue
            # the record at cons is busy, discarded with another size, or of another size
            off = PAGE_SIZE + (cons & mask)
            length = int.from_bytes(mm[off:off + 4], "little")
            if length & _BUSY:
                break
            if length & _DISCARD:
                self.discarded += 1
                cons += record_span(length & LENGTH_MASK)
                cons_v[0] = cons
                continue
            if length == size:
                continue  # it was BUSY a moment ago and is committed now: take it with the next run
            raise RecordTypeError(
                f"ring buffer {self.name!r}: a {length}-byte record among {size}-byte "
                f"{self.dtype} records; read mixed records with a callback instead of read_batch()"
            )
        if not chunks:
            return np.empty(0, self.dtype)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _take_run(self, cons: int, k: int, size: int) -> tuple[int, np.ndarray[Any, Any]]:
        """Vector step: of the ``k`` record slots at ``cons``, the leading run of committed
        records of the ring's size -> (slots taken, copies of the kept records). The views of
        the mapping made here die with this frame."""
        import numpy as np

        arr: np.ndarray[Any, Any] = np.frombuffer(
            self._prod_mm, self._slot, count=k, offset=PAGE_SIZE + (cons & self._mask))  # type: ignore[arg-type]
        lens = arr["len"]
        bad = np.flatnonzero((lens & np.uint32(_NOT_DISCARD)) != size)  # BUSY or another size: stop there
        good = int(bad[0]) if bad.size else k
        lens = lens[:good]
        dropped = (lens & _DISCARD) != 0
        n_dropped = int(np.count_nonzero(dropped))
        recs = arr["rec"][:good][~dropped] if n_dropped else arr["rec"][:good].copy()
        self.discarded += n_dropped
        return good, recs

    def close(self) -> None:
        """Unmap and close (once)."""
        release(self._cons, self._prod, self._hdr)
        self._cons = self._prod = self._hdr = None
        for mm in (self._cons_mm, self._prod_mm):
            if mm is not None:
                close_mapping(mm)
        self._cons_mm = self._prod_mm = None
        self._fd.close()

    def __repr__(self) -> str:
        return f"<Ring {self.name!r} size={self.size}>"


class RingBuffer(EpollReader):
    """Reads one or more ring buffer maps (like libbpf's ``ring_buffer``): kernel >= 5.8.

    ``callback(record)`` gets each record as ``bytes``, or a numpy record when
    ``record_type`` is given: a struct name from the map's object BTF (``"struct event"`` or
    ``"event"``, looked up in ``btf``: the Collection, its ObjectSpec or a BTF), a BTF type
    id, or a numpy dtype. Use :meth:`poll`/:meth:`consume` with
    callbacks, :meth:`read_batch` for numpy arrays, or ``async for record in rb``.

    >>> with RingBuffer(obj.maps["events"], record_type="event") as rb:  # doctest: +SKIP
    ...     rb.poll(0.1)
    ...     batch = rb.read_batch()        # numpy structured array, fields by name
    """

    def __init__(self, map: Map | None = None, callback: Callable[[Any], object] | None = None, *,
                 record_type: RecordType | None = None, btf: BTF | object | None = None,
                 batch: bool = False) -> None:
        super().__init__()
        self.rings: list[Ring] = []
        if map is not None:
            self.add(map, callback, record_type=record_type, btf=btf, batch=batch)

    def add(self, map: Map, callback: Callable[[Any], object] | None = None, *,
            record_type: RecordType | None = None, btf: BTF | object | None = None, batch: bool = False) -> Ring:
        """Read another ring buffer map through this reader (one epoll for all); returns its Ring.

        ``batch``: ``callback`` (and ``async for``) get lists of records, one per read of up to
        :data:`STORE_EVERY` bytes: one Python call per batch instead of one per record.
        """
        self._check_open()
        dtype = None
        if record_type is not None:  # .dtype (and pybpf.btf) only for typed records
            from .dtype import btf_of, resolve_record_type

            dtype = resolve_record_type(record_type, btf_of(btf) or map.btf)
        ring = Ring(map, callback, dtype, batch=batch)
        try:
            self._register(ring)
        except BaseException:
            ring.close()
            raise
        self.rings.append(ring)
        return ring

    def _sink_of(self, src: Any) -> Sink | None:
        cb = src.callback
        return None if cb is None else cb

    @property
    def discarded(self) -> int:
        """Records the BPF programs discarded (skipped, as they asked)."""
        return sum(r.discarded for r in self.rings)

    def _ring(self, ring: int | Map | None) -> Ring:
        self._check_open()
        if not self.rings:
            raise EventsError("this RingBuffer reads no map yet; add() one")
        if ring is None:
            if len(self.rings) > 1:
                raise EventsError("this RingBuffer reads several maps; say which with ring=<index or Map>")
            return self.rings[0]
        if isinstance(ring, int):
            return self.rings[ring]
        for r in self.rings:
            if r.name == ring.name and r.size == ring.max_entries:
                return r
        raise EventsError(f"map {ring.name!r} is not read by this RingBuffer")

    def read_batch(self, max_records: int | None = None, *, ring: int | Map | None = None) -> np.ndarray[Any, Any]:
        """The available records of one ring as a numpy structured array (see :meth:`Ring.read_batch`)."""
        return self._ring(ring).read_batch(max_records)

    def poll_batch(self, timeout: float | None = None, *, ring: int | Map | None = None) -> np.ndarray[Any, Any]:
        """Wait up to ``timeout`` seconds for data, then :meth:`read_batch`."""
        r = self._ring(ring)
        if not r.pending:
            self._epoll.poll(-1 if timeout is None else timeout)
        return r.read_batch()

    async def batches(self, *, ring: int | Map | None = None) -> AsyncIterator[np.ndarray[Any, Any]]:
        """``async for batch in rb.batches()``: numpy arrays of records as they arrive."""
        r = self._ring(ring)
        out: list[np.ndarray[Any, Any]] = []

        def take() -> bool:
            batch = r.read_batch()
            if batch.size:
                out.append(batch)
            return bool(out)

        async for _ in self._when_ready(take):
            while out:
                yield out.pop(0)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<RingBuffer {[r.name for r in self.rings]}{state}>"


__all__ = ["HEADER_SIZE", "RecordFlags", "Ring", "RingBuffer", "record_span"]
