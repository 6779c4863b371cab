"""bcc's event tables: PerfEventArray (``open_perf_buffer``) and RingBuf (``open_ring_buffer``),
and ``.event(data)``, which turns the ``data`` a callback got into a ctypes record.

Callbacks get what bcc passes: ``callback(cpu, data, size)`` for perf buffers and
``callback(ctx, data, size)`` for ring buffers, ``data`` being the address of a copy of the
record that stays valid during the call; ``table.event(data)`` copies it into the record
class (so the result stays valid after the callback returns).
"""

from __future__ import annotations

import ctypes as ct
import functools
import logging
import re
from typing import Any, Callable

from .base import TableBase, TableError

log = logging.getLogger("pybpf.bcc")

#: records being delivered right now: address -> buffer (see module docstring)
_LIVE: dict[int, Any] = {}


def deliver(callback: Callable[..., object], first: Any, raw: bytes) -> object:
    """Call ``callback(first, address, size)`` with ``raw`` in a live ctypes buffer."""
    buf = ct.create_string_buffer(raw, len(raw) or 1)
    addr = ct.addressof(buf)
    _LIVE[addr] = buf
    try:
        return callback(first, addr, len(raw))
    finally:
        _LIVE.pop(addr, None)


def cast_record(cls: Any, data: Any) -> Any:
    """``data`` (an address a callback got, a ctypes pointer, or bytes) as an instance of ``cls``."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        addr = data if isinstance(data, int) else ct.cast(data, ct.c_void_p).value
        buf = _LIVE.get(addr) if addr is not None else None
        if buf is None:
            return ct.cast(data, ct.POINTER(cls)).contents
        raw = buf.raw
    size = ct.sizeof(cls)
    return cls.from_buffer_copy(raw[:size].ljust(size, b"\0"))


_SUBMIT = r"{m}\s*\.\s*(?:perf_submit|perf_submit_skb|ringbuf_output)\s*\((?:[^,]*,\s*)?(?P<arg>[^,]+),"
_RESERVE = r"(?P<type>struct\s+\w+|\w+)\s*\*\s*\w+\s*=\s*(?:\([^)]*\)\s*)?{m}\s*\.\s*ringbuf_reserve\s*\("
_DECL = r"(?<![\w.>])(?P<type>(?:struct|union)\s+\w+|\w+)\s*(?P<ptr>\*?)\s*(?:const\s+)?\b{v}\b\s*(?:[;=\[,)])"


def record_type_text(text: str, map_name: str) -> str | None:
    """The C type of the records the program sends through ``map_name`` (from the
    ``perf_submit``/``ringbuf_output``/``ringbuf_reserve`` calls of the text), or None."""
    m = re.escape(map_name)
    reserve = re.search(_RESERVE.format(m=m), text)
    if reserve:
        return reserve["type"]
    submit = re.search(_SUBMIT.format(m=m), text)
    if not submit:
        return None
    arg = submit["arg"].strip()
    var = arg.lstrip("&").strip()
    if not re.fullmatch(r"\w+", var):
        return None
    for decl in re.finditer(_DECL.format(v=re.escape(var)), text):
        if decl["type"] in ("return", "sizeof", "else"):
            continue
        if arg.startswith("&") == (decl["ptr"] == ""):
            return decl["type"]
    return None


class _EventTable(TableBase):
    """Common part of the event tables: the ``event`` record class, resolved on first use."""

    _event_class: Any = None

    def event(self, data: Any) -> Any:
        """The record at ``data`` (what the callback got) as a ctypes struct from its BTF."""
        if self._event_class is None:
            self._event_class = self.bpf._record_class(self.name)
        return cast_record(self._event_class, data)

    def _prepare_event(self) -> None:
        """Resolve the record class before reading starts (it may compile once), if it can be told."""
        try:
            self._event_class = self.bpf._record_class(self.name)
        except TableError as exc:
            log.debug("%s: record type resolved on first event() (%s)", self.name, exc)


@functools.lru_cache(maxsize=1)
def _perf_buffer_class() -> Any:
    """PerfBuffer handing callbacks bcc's ``(cpu, data, size)`` (made on first use: pybpf.events imports numpy)."""
    from ...events import PerfBuffer

    class BccPerfBuffer(PerfBuffer):
        bcc_callback: Callable[..., object]

        def _sink_of(self, src: Any) -> Any:
            cpu, cb = src.cpu, self.bcc_callback
            return lambda raw: deliver(cb, cpu, bytes(raw))

    return BccPerfBuffer


class PerfEventArray(_EventTable):
    """BPF_PERF_OUTPUT: ``open_perf_buffer(callback)``, then ``bpf.perf_buffer_poll()``."""

    def open_perf_buffer(self, callback: Callable[..., object], page_cnt: int = 8,
                         lost_cb: Callable[[int], object] | None = None, wakeup_events: int = 1) -> None:
        """Read this table's per-CPU rings; ``callback(cpu, data, size)`` gets each record and
        ``lost_cb(count)`` the number of records the kernel dropped."""
        if self.name in self.bpf._perf_buffers:
            raise TableError(f"a perf buffer is already open on {self.name!r}")
        lost = (lambda cpu, n: lost_cb(n)) if lost_cb is not None else None
        self._prepare_event()
        reader = _perf_buffer_class()(self.source, None, lost_callback=lost, page_count=page_cnt,
                                wakeup_events=wakeup_events)
        reader.bcc_callback = callback
        self.bpf._perf_buffers[self.name] = reader

    def close_perf_buffer(self) -> None:
        reader = self.bpf._perf_buffers.pop(self.name, None)
        if reader is not None:
            reader.close()


class RingBuf(_EventTable):
    """BPF_RINGBUF_OUTPUT: ``open_ring_buffer(callback)``, then ``bpf.ring_buffer_poll()``."""

    def open_ring_buffer(self, callback: Callable[..., object], ctx: Any = None) -> None:
        """``callback(ctx, data, size)`` gets each record of this ring buffer."""
        self._prepare_event()
        reader = self.bpf._ring_reader()
        reader.add(self.source, lambda raw: deliver(callback, ctx, bytes(raw)))

    def __len__(self) -> int:
        raise TableError(f"ring buffer {self.name!r} has no entries to count; read it with open_ring_buffer()")


__all__ = ["PerfEventArray", "RingBuf", "cast_record", "deliver", "record_type_text"]
