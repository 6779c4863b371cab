"""User ring buffer round trip and the trace_pipe reader against the kernel."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import numpy as np
import pytest
from progs_events import load

import pybpf
from pybpf.events import EventsError, RingBuffer, RingBufferFullError, TraceEvent, TracePipe, UserRingBuffer
from pybpf.events.ringbuf import record_span

PACKET = b"\0" * 64


@pytest.fixture
def obj() -> Iterator[pybpf.Collection]:
    with load("events") as o:
        yield o


def _event(dtype: np.dtype, seq: int, small: int) -> bytes:
    e = np.zeros(1, dtype)
    e["seq"], e["small"], e["tag"] = seq, small, b"from-python"
    return e.tobytes()


def test_user_ring_buffer_round_trip(obj: pybpf.Collection) -> None:
    with UserRingBuffer(obj.maps["urb"]) as urb, RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        dtype = rb.rings[0].dtype
        assert dtype is not None
        for i in range(10):
            urb.write(_event(dtype, 100 + i, i))
        sample = urb.reserve(dtype.itemsize)
        sample[:] = _event(dtype, 999, 0)
        urb.discard(sample)  # the program never sees it
        sample = urb.reserve(dtype.itemsize)
        sample[:] = _event(dtype, 110, 10)
        urb.submit(sample)
        obj.programs["urb_drain"].test_run(PACKET)
        assert obj.globals["drain_ret"] == 11 and obj.globals["drained"] == 11
        assert obj.globals["drained_seq_sum"] == sum(range(100, 111))
        echoed = rb.read_batch()  # the program sent each record back with small + 1
        assert list(echoed["seq"]) == list(range(100, 111))
        assert list(echoed["small"]) == list(range(1, 12))
        assert (echoed["tag"] == b"from-python").all()
        assert urb.free == 4096


def test_user_ring_buffer_full_raises_and_counts(obj: pybpf.Collection) -> None:
    with UserRingBuffer(obj.maps["urb"]) as urb:
        per = record_span(32)
        for _ in range(4096 // per):
            urb.write(b"\1" * 32)
        with pytest.raises(RingBufferFullError, match="bpf_user_ringbuf_drain"):
            urb.write(b"\1" * 32)
        assert urb.lost == 1
        obj.programs["urb_drain"].test_run(PACKET)  # the kernel consumes: room again
        assert obj.globals["drained"] == 4096 // per
        urb.write(b"\1" * 32)
        with pytest.raises(EventsError, match="pending record"):
            urb.submit(memoryview(b"x" * 32))
    with pytest.raises(EventsError, match="closed"):
        urb.write(b"x")


def test_trace_pipe_parses_the_programs_printk_line() -> None:
    tag = random.randrange(1 << 40)
    with load("events", printk_tag=tag) as obj, TracePipe() as tp:
        obj.programs["printk"].test_run(PACKET)
        mine: list[TraceEvent] = []
        deadline = time.monotonic() + 10
        while not mine and time.monotonic() < deadline:  # the pipe is shared: keep only our line
            mine = [ev for ev in tp.poll(0.5) if f"pybpf-events {tag} " in ev.message]
        assert len(mine) == 1, "bpf_printk line not seen in trace_pipe"
        ev = mine[0]
        assert ev.message == f"pybpf-events {tag} says 42"
        assert ev.pid == os.getpid()  # BPF_PROG_TEST_RUN runs in this thread
        assert ev.event == "bpf_trace_printk"
        assert 0 <= ev.cpu < os.cpu_count()  # type: ignore[operator]
        assert ev.timestamp > 0 and len(ev.flags) >= 4
        assert ev.fields() == (ev.task, ev.pid, ev.cpu, ev.flags, ev.timestamp, ev.message)
    assert tp.closed


def test_trace_pipe_nonblocking_poll_returns_quickly() -> None:
    with TracePipe() as tp:
        start = time.monotonic()
        tp.poll(0)
        tp.trace_fields(nonblocking=True)  # other tracers may have written a line; it must not block
        assert time.monotonic() - start < 1.0
