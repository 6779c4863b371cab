"""``pybpf.events``: read what BPF programs report.

- :class:`RingBuffer` (BPF_MAP_TYPE_RINGBUF): callbacks, numpy batches (:meth:`RingBuffer.read_batch`),
  ``async for`` records or :meth:`RingBuffer.batches`, several maps on one epoll (:meth:`RingBuffer.add`).
- :class:`UserRingBuffer` (BPF_MAP_TYPE_USER_RINGBUF): write records a program drains with
  ``bpf_user_ringbuf_drain()``.
- :class:`PerfBuffer` (BPF_MAP_TYPE_PERF_EVENT_ARRAY): one perf ring per CPU, lost-sample
  records counted and reported.
- :class:`TracePipe`: ``bpf_printk`` output parsed into :class:`TraceEvent`; :func:`trace_fields`
  gives bcc's ``(task, pid, cpu, flags, ts, msg)`` tuple of a line.

Every reader is a context manager owning its fds and mappings, and keeps a ``lost`` count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .errors import EventsError, RecordTypeError, RingBufferFullError

if TYPE_CHECKING:
    from .dtype import btf_dtype
    from .perfbuf import PerfBuffer
    from .ringbuf import Ring, RingBuffer
    from .trace_pipe import TraceEvent, TracePipe, parse_trace_line, trace_fields
    from .user_ringbuf import UserRingBuffer

#: name -> submodule, imported on first use (a ring buffer reader does not load the others)
_LAZY = {
    "btf_dtype": ".dtype", "PerfBuffer": ".perfbuf", "Ring": ".ringbuf", "RingBuffer": ".ringbuf",
    **dict.fromkeys(("TraceEvent", "TracePipe", "parse_trace_line", "trace_fields"), ".trace_pipe"),
    "UserRingBuffer": ".user_ringbuf",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "EventsError", "PerfBuffer", "RecordTypeError", "Ring", "RingBuffer", "RingBufferFullError", "TraceEvent",
    "TracePipe", "UserRingBuffer", "btf_dtype", "parse_trace_line", "trace_fields",
]
