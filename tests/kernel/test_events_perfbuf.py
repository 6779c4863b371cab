"""Perf buffer reader against the kernel: per-CPU rings, samples and provoked losses."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import pytest
from progs_events import load

import pybpf
from pybpf.events import EventsError, PerfBuffer
from pybpf.events.perfbuf import online_cpus

PACKET = b"\0" * 64


@pytest.fixture
def obj() -> Iterator[pybpf.Collection]:
    with load("events") as o:
        yield o


def _on_cpu(cpu: int, fn: object) -> None:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        fn()  # type: ignore[operator]
    finally:
        os.sched_setaffinity(0, before)


def test_samples_arrive_from_every_cpu_in_its_own_ring(obj: pybpf.Collection) -> None:
    got: list[bytes] = []
    cpus = online_cpus()
    with PerfBuffer(obj.maps["pb"], got.append) as pb:
        assert [r.cpu for r in pb.rings] == cpus
        for cpu in cpus:
            _on_cpu(cpu, lambda: obj.programs["pb_output"].test_run(PACKET, repeat=25))
        total = 0
        while total < 25 * len(cpus):
            n = pb.poll(1.0)
            assert n, "poll timed out with samples pending"
            total += n
        assert pb.lost == 0
    # raw data is padded by the kernel to 8-byte alignment minus the u32 size: 32 -> 36 bytes
    assert {len(r) for r in got} == {36}
    seqs = [int.from_bytes(r[:8], "little") for r in got]
    assert sorted(seqs) == list(range(25 * len(cpus)))
    by_cpu = {cpu: [s for r, s in zip(got, seqs) if int.from_bytes(r[8:12], "little") == cpu] for cpu in cpus}
    for i, cpu in enumerate(cpus):  # bpf_get_smp_processor_id() in the record says which ring it used
        assert by_cpu[cpu] == list(range(25 * i, 25 * (i + 1)))


def test_batch_mode_and_wrapped_records(obj: pybpf.Collection) -> None:
    """One 4096-byte data page per CPU and 48-byte samples: samples straddle the ring's end."""
    with PerfBuffer(obj.maps["pb"], record_type="event", btf=obj, page_count=1) as pb:
        chunks = []
        for _ in range(60):  # on one CPU, so that all samples go through one ring, in order
            _on_cpu(online_cpus()[-1], lambda: obj.programs["pb_output"].test_run(PACKET, repeat=50))
            chunks.append(pb.read_batch())
        assert pb.lost == 0
    batch = np.concatenate(chunks)
    assert batch.dtype.names == ("seq", "pid", "neg", "tag", "small", "pad")
    assert list(batch["seq"]) == list(range(3000))
    assert (batch["tag"] == b"pybpf-event").all()
    assert (batch["neg"] == -batch["seq"].astype(np.int64)).all()


def test_callback_mode_over_wrapped_records(obj: pybpf.Collection) -> None:
    seqs: list[int] = []
    with PerfBuffer(obj.maps["pb"], lambda r: seqs.append(int(r["seq"])), record_type="event", btf=obj,
                    page_count=1) as pb:
        for _ in range(60):
            _on_cpu(online_cpus()[0], lambda: obj.programs["pb_output"].test_run(PACKET, repeat=50))
            assert pb.consume() == 50
        assert pb.lost == 0
    assert seqs == list(range(3000))


def test_lost_samples_are_counted_and_reported(obj: pybpf.Collection) -> None:
    lost: list[tuple[int, int]] = []
    got: list[bytes] = []
    cpu = online_cpus()[0]
    with PerfBuffer(obj.maps["pb"], got.append, lost_callback=lambda c, n: lost.append((c, n)), page_count=1) as pb:
        _on_cpu(cpu, lambda: obj.programs["pb_output"].test_run(PACKET, repeat=1000))  # nobody reads
        failed = obj.globals["pb_fail"]
        assert failed > 0  # the program saw its outputs fail...
        pb.consume()
        _on_cpu(cpu, lambda: obj.programs["pb_output"].test_run(PACKET, repeat=1))  # the LOST record is written here
        pb.consume()
        assert pb.lost == failed  # ...and the reader counted each of them
        assert sum(n for _, n in lost) == failed and {c for c, _ in lost} == {cpu}
        assert len(got) + pb.lost == 1001


def test_async_iteration(obj: pybpf.Collection) -> None:
    import asyncio

    with PerfBuffer(obj.maps["pb"], page_count=64) as pb:
        async def main() -> list[int]:
            loop = asyncio.get_running_loop()
            def produce() -> None:
                for _ in range(10):
                    obj.programs["pb_output"].test_run(PACKET, repeat=50)
                    time.sleep(0.002)

            fut = loop.run_in_executor(None, produce)
            seqs: list[int] = []
            async for rec in pb:
                seqs.append(int.from_bytes(rec[:8], "little"))
                if len(seqs) == 500:
                    break
            await fut
            return seqs

        seqs = asyncio.run(asyncio.wait_for(main(), 30))
        assert pb.lost == 0
    assert sorted(seqs) == list(range(500))


def test_closing_clears_the_map_slots(obj: pybpf.Collection) -> None:
    with PerfBuffer(obj.maps["pb"], lambda r: None) as pb:
        obj.programs["pb_output"].test_run(PACKET)
        assert pb.consume() == 1 and obj.globals["pb_fail"] == 0
    assert pb.closed and all(r.fd.closed for r in pb.rings)
    obj.programs["pb_output"].test_run(PACKET)
    assert obj.globals["pb_fail"] == 1  # no reader: the output fails (ENOENT) rather than vanishing


def test_errors(obj: pybpf.Collection) -> None:
    with pytest.raises(EventsError, match="PERF_EVENT_ARRAY"):
        PerfBuffer(obj.maps["rb"], print)
    with pytest.raises(EventsError, match="power of two"):
        PerfBuffer(obj.maps["pb"], print, page_count=3)
