"""Perf buffer reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY + ``bpf_perf_event_output``, kernel >= 4.4).

For each online CPU the reader opens a ``PERF_COUNT_SW_BPF_OUTPUT`` software event with
``PERF_SAMPLE_RAW``, maps its ring (one metadata page + ``page_count`` data pages) and
stores the event fd in the map at that CPU's index. ``bpf_perf_event_output(ctx, &map,
BPF_F_CURRENT_CPU, ...)`` then writes into the ring of the CPU it runs on.

Ring protocol (``struct perf_event_mmap_page``): the kernel advances ``data_head`` after
writing records; the reader reads records from ``data_tail`` to ``data_head`` and then
stores ``data_tail``. Records (``struct perf_event_header``: u32 type, u16 misc, u16 size)
are 8-byte aligned and may wrap around the end of the ring. ``PERF_RECORD_SAMPLE`` carries
``u32 size`` + the raw bytes (padded by the kernel so the record stays 8-aligned);
``PERF_RECORD_LOST`` says how many samples the kernel dropped because the ring was full:
they are added to :attr:`PerfBuffer.lost` and passed to ``lost_callback(cpu, count)``.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _sys
from .._sys.cpus import parse_cpu_list
from ..enums import MapType
from ..errors import SyscallError
from ._mmap import PAGE_SIZE, close_mapping, map_shared, release
from ._reader import DEFAULT_LIMIT, EpollReader, Sink
from .dtype import RecordType, btf_of, record_decoder, resolve_record_type
from .errors import EventsError, RecordTypeError

if TYPE_CHECKING:
    import numpy as np

    from ..btf import BTF
    from ..map import Map

log = logging.getLogger("pybpf.events")

_ONLINE = Path("/sys/devices/system/cpu/online")


class PerfRecordType(IntEnum):
    """``enum perf_event_type`` values the reader handles."""

    LOST = 2
    SAMPLE = 9


#: PERF_SAMPLE_RAW (``perf_event_attr.sample_type``)
PERF_SAMPLE_RAW = 1 << 10

# u64 indexes of struct perf_event_mmap_page fields (data_head is at byte 1024)
_HEAD, _TAIL, _DATA_OFFSET, _DATA_SIZE = 128, 129, 130, 131
_HEADER = 8          # struct perf_event_header
_SAMPLE_HEAD = 12    # header + u32 raw size
_LOST, _SAMPLE = int(PerfRecordType.LOST), int(PerfRecordType.SAMPLE)


def online_cpus() -> list[int]:
    """The online CPUs (``/sys/devices/system/cpu/online``)."""
    try:
        return parse_cpu_list(_ONLINE.read_text())
    except (OSError, ValueError) as exc:
        raise EventsError(f"cannot read {_ONLINE} ({exc}); is /sys mounted?") from exc


def sample_span(size: int) -> int:
    """Bytes a sample of ``size`` raw bytes takes in a perf ring (header, u32 size, padding)."""
    return (_SAMPLE_HEAD + size + 7) & ~7


class CpuRing:
    """The perf ring of one CPU."""

    def __init__(self, cpu: int, page_count: int, wakeup_events: int) -> None:
        self.cpu = cpu
        self.lost = 0
        self.callback: Callable[[Any], object] | None = None
        attr = _sys.software_event(_sys.PerfSwConfig.BPF_OUTPUT, sample_period=1)
        attr.sample_type = PERF_SAMPLE_RAW
        attr.wakeup_events = max(1, wakeup_events)
        self.fd = _sys.perf_event_open(attr, pid=-1, cpu=cpu)
        self._meta = self._words = self._mm = None
        try:
            self._mm = map_shared(self.fd, PAGE_SIZE * (1 + page_count), writable=True,
                                  what=f"mmap perf ring of CPU {cpu}")
        except BaseException:
            self.fd.close()
            raise
        self._meta = memoryview(self._mm).cast("Q")
        self._words = memoryview(self._mm).cast("I")
        self.data_offset = self._meta[_DATA_OFFSET] or PAGE_SIZE  # 0 before kernel 4.1
        self.data_size = self._meta[_DATA_SIZE] or PAGE_SIZE * page_count
        self._mask = self.data_size - 1
        self._lost_cb: Callable[[int, int], object] | None = None
        self._decode: Callable[[bytes], Any] | None = None
        self._slot: np.dtype[Any] | None = None
        self._dtype: np.dtype[Any] | None = None

    def fileno(self) -> int:
        return self.fd.fileno()

    def _record(self, start: int, size: int) -> bytes:
        """``size`` bytes at ring offset ``start`` (joined when they wrap)."""
        mm, base, end = self._mm, self.data_offset, self.data_size
        assert mm is not None
        if start + size <= end:
            return mm[base + start:base + start + size]
        first = end - start
        return mm[base + start:base + end] + mm[base:base + size - first]

    def _on_lost(self, body: bytes) -> None:
        count = int.from_bytes(body[16:24], "little")  # header, u64 id, u64 lost
        self.lost += count
        log.debug("perf ring of CPU %d: %d samples lost", self.cpu, count)
        if self._lost_cb is not None:
            self._lost_cb(self.cpu, count)

    def drain(self, sink: Sink | None, limit: int = DEFAULT_LIMIT) -> int:
        """Hand up to ``limit`` samples to ``sink``; LOST records are counted. Returns the samples."""
        meta, mm, words = self._meta, self._mm, self._words
        if meta is None or mm is None or words is None:
            raise EventsError(f"perf ring of CPU {self.cpu} is closed")
        if sink is None:
            raise EventsError("CpuRing.drain needs a sink")
        decode = self._decode
        if decode is not None:
            user_sink = sink

            def sink(raw: bytes) -> None:
                user_sink(decode(raw))

        mask, base, end = self._mask, self.data_offset, self.data_size
        tail = meta[_TAIL]
        n = 0
        try:
            while n < limit:
                head = meta[_HEAD]  # acquire: the records below it are complete
                if tail >= head:
                    break
                while tail < head and n < limit:
                    off = tail & mask
                    w = (base + off) >> 2  # records are 8-aligned: a header never wraps
                    kind = words[w]
                    size = words[w + 1] >> 16
                    if kind == _SAMPLE and off + size <= end:
                        tail += size
                        n += 1
                        sink(mm[base + off + _SAMPLE_HEAD:base + off + _SAMPLE_HEAD + words[w + 2]])
                        continue
                    if size == 0:
                        raise EventsError(f"perf ring of CPU {self.cpu} is corrupt (zero-size record at {tail})")
                    body = self._record(off, size)
                    tail += size
                    if kind == _SAMPLE:  # a sample wrapping around the end of the ring
                        n += 1
                        sink(body[_SAMPLE_HEAD:_SAMPLE_HEAD + int.from_bytes(body[8:12], "little")])
                    elif kind == _LOST:
                        self._on_lost(body)
                meta[_TAIL] = tail  # release: the kernel may reuse the space
        finally:
            meta[_TAIL] = tail
        return n

    def read_batch(self, want: int) -> list[np.ndarray[Any, Any]]:
        """Samples (all of the reader's record type) as numpy arrays, consumed."""
        import numpy as np

        meta, mm, slot, dtype = self._meta, self._mm, self._slot, self._dtype
        assert meta is not None and mm is not None and slot is not None and dtype is not None
        stride = slot.itemsize
        chunks: list[np.ndarray[Any, Any]] = []
        got = 0
        head = meta[_HEAD]
        tail = meta[_TAIL]
        mask, base, end = self._mask, self.data_offset, self.data_size
        try:
            while tail < head and got < want:
                off = tail & mask
                k = min((head - tail) // stride, (end - off) // stride, want - got)
                good = 0
                if k:
                    arr: np.ndarray[Any, Any] = np.frombuffer(mm, slot, count=k, offset=base + off)
                    bad = np.flatnonzero((arr["type"] != _SAMPLE) | (arr["size"] != stride))
                    good = int(bad[0]) if bad.size else k
                    if good:
                        chunks.append(arr["rec"][:good].copy())
                        got += good
                        tail += good * stride
                    del arr, bad
                if good == k and k:
                    continue
                # one record the vector path cannot take: a LOST record, one that wraps, another size
                off = tail & mask
                hdr = mm[base + off:base + off + _HEADER]
                kind, size = int.from_bytes(hdr[0:4], "little"), int.from_bytes(hdr[6:8], "little")
                body = self._record(off, size)
                if kind == _SAMPLE:
                    if size != stride:
                        raise RecordTypeError(
                            f"perf sample of {size - _SAMPLE_HEAD} raw bytes on CPU {self.cpu} does not match "
                            f"the record type ({dtype.itemsize} bytes); read mixed samples with a callback"
                        )
                    one: np.ndarray[Any, Any] = np.frombuffer(body, slot, count=1)
                    chunks.append(one["rec"].copy())
                    got += 1
                elif kind == _LOST:
                    self._on_lost(body)
                elif size == 0:
                    raise EventsError(f"perf ring of CPU {self.cpu} is corrupt (zero-size record at {tail})")
                tail += size
        finally:
            meta[_TAIL] = tail
        return chunks

    def close(self) -> None:
        release(self._meta, self._words)
        self._meta = self._words = None
        if self._mm is not None:
            close_mapping(self._mm)
            self._mm = None
        self.fd.close()

    def __repr__(self) -> str:
        return f"<CpuRing cpu={self.cpu}>"


def _delete_slot(m: Map, cpu: int) -> None:
    try:
        _sys.map_delete_elem(m.fd, cpu.to_bytes(4, "little"))
    except SyscallError as exc:
        if exc.errno != errno.ENOENT:
            log.debug("removing CPU %d from perf event array %s: %s", cpu, m.name, exc)


class PerfBuffer(EpollReader):
    """Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one ring per online CPU (kernel >= 4.4).

    ``callback(record)`` gets each sample as ``bytes`` (the raw data, zero-padded by the kernel
    to 8-byte alignment minus 4) or, with ``record_type``, as a numpy record.
    ``lost_callback(cpu, count)`` hears of samples the kernel dropped because a ring was
    full; :attr:`lost` adds them up. ``page_count`` (a power of two) is the data pages per CPU.
    ``wakeup_events`` > 1 makes the kernel wake the reader once per that many samples (much
    cheaper for the producer at high rates); then call :meth:`consume` when :meth:`poll`
    times out, to pick up the last few samples that did not wake it.

    >>> with PerfBuffer(obj.maps["events"], print, lost_callback=lambda cpu, n: ...) as pb:  # doctest: +SKIP
    ...     pb.poll(1.0)
    """

    def __init__(self, map: Map, callback: Callable[[Any], object] | None = None, *,
                 lost_callback: Callable[[int, int], object] | None = None, page_count: int = 8,
                 record_type: RecordType | None = None, btf: BTF | object | None = None,
                 wakeup_events: int = 1) -> None:
        if map.type != MapType.PERF_EVENT_ARRAY:
            raise EventsError(f"PerfBuffer reads a PERF_EVENT_ARRAY map; {map.name or 'this map'} is {map.type.name}")
        if page_count <= 0 or page_count & (page_count - 1):
            raise EventsError(f"page_count must be a power of two (got {page_count})")
        super().__init__()
        self.callback = callback
        self.lost_callback = lost_callback
        self.dtype = resolve_record_type(record_type, btf_of(btf) or map.btf)
        self.rings: list[CpuRing] = []
        self._map = map
        self._finalizer.detach()  # replaced: closing also clears the map slots
        self._finalizer = _finalize(self, map, self._epoll, self.rings)
        cpus = [c for c in online_cpus() if c < map.max_entries]
        skipped = [c for c in online_cpus() if c >= map.max_entries]
        if skipped:
            log.warning("perf event array %s has %d slots: CPUs %s are not read", map.name, map.max_entries, skipped)
        try:
            for cpu in cpus:
                ring = CpuRing(cpu, page_count, wakeup_events)
                self.rings.append(ring)
                ring.callback = callback
                ring._lost_cb = self._lost
                ring._decode = self._decoder()
                if self.dtype is not None:
                    import numpy as np  # batches only: the callback path does not need numpy

                    ring._dtype = self.dtype
                    ring._slot = np.dtype({
                        "names": ["type", "size", "rec"], "formats": ["<u4", "<u2", self.dtype],
                        "offsets": [0, 6, _SAMPLE_HEAD], "itemsize": sample_span(self.dtype.itemsize)})
                self._register(ring)
                map[cpu] = ring.fd.fileno()
                _sys.perf_event_enable(ring.fd)
        except BaseException:
            self.close()
            raise

    def _lost(self, cpu: int, count: int) -> None:
        if self.lost_callback is not None:
            self.lost_callback(cpu, count)

    def _decoder(self) -> Callable[[bytes], Any] | None:
        return record_decoder(self.dtype, "sample")

    def _sink_of(self, src: Any) -> Sink | None:
        return self.callback

    def read_batch(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """Available samples of every CPU as one numpy structured array (CPU by CPU, each in order)."""
        import numpy as np

        self._check_open()
        if self.dtype is None:
            raise RecordTypeError("this PerfBuffer has no record type; create it with record_type=... to read batches")
        want = max_records if max_records is not None else 1 << 62
        chunks: list[np.ndarray[Any, Any]] = []
        for ring in self.rings:
            got = ring.read_batch(want)
            want -= sum(len(c) for c in got)
            chunks.extend(got)
        if not chunks:
            return np.empty(0, self.dtype)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def poll_batch(self, timeout: float | None = None) -> np.ndarray[Any, Any]:
        """Wait up to ``timeout`` seconds for data, then :meth:`read_batch`."""
        self._check_open()
        self._epoll.poll(-1 if timeout is None else timeout)
        return self.read_batch()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<PerfBuffer {self._map.name!r} cpus={[r.cpu for r in self.rings]}{state}>"


def _close(m: Map, epoll: Any, rings: list[CpuRing]) -> None:
    for ring in rings:
        if not m.closed:
            _delete_slot(m, ring.cpu)
        ring.close()
    epoll.close()


def _finalize(owner: PerfBuffer, m: Map, epoll: Any, rings: list[CpuRing]) -> Any:
    import weakref

    return weakref.finalize(owner, _close, m, epoll, rings)


__all__ = ["CpuRing", "PerfBuffer", "PerfRecordType", "online_cpus", "sample_span"]
