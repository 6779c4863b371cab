"""Ring buffer reader against the kernel: XDP programs run with BPF_PROG_TEST_RUN(repeat=N)
write numbered records; each reading mode must see exactly those records."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from progs_events import load, spec

import pybpf
from pybpf.events import EventsError, RecordTypeError, RingBuffer
from pybpf.events.ringbuf import STORE_EVERY

PACKET = b"\0" * 64
TAG = b"pybpf-event"


def _produce(obj: pybpf.Collection, prog: str, n: int) -> None:
    obj.programs[prog].test_run(PACKET, repeat=n)


def _produce_slowly(obj: pybpf.Collection, prog: str, n: int, times: int) -> None:
    """``times`` batches of ``n`` with pauses, so the reader really waits for data."""
    for _ in range(times):
        _produce(obj, prog, n)
        time.sleep(0.002)


def _check_records(seqs: list[int] | np.ndarray, expected: range) -> None:
    assert list(map(int, seqs)) == list(expected)


@pytest.fixture
def obj() -> Iterator[pybpf.Collection]:
    with load("events") as o:
        yield o


def test_callback_mode_gets_every_record_with_its_content(obj: pybpf.Collection) -> None:
    got: list[bytes] = []
    with RingBuffer(obj.maps["rb"], got.append) as rb:
        _produce(obj, "rb_output", 50)
        assert rb.poll(1.0) == 50
        assert rb.consume() == 0  # nothing left
    assert all(isinstance(r, bytes) and len(r) == 32 for r in got)
    seqs = [int.from_bytes(r[:8], "little") for r in got]
    _check_records(seqs, range(50))
    assert all(r[16:28].rstrip(b"\0") == TAG for r in got)
    assert all(int.from_bytes(r[12:16], "little", signed=True) == -s for r, s in zip(got, seqs))
    assert obj.globals["rb_fail"] == 0


def test_decoded_callback_records_have_fields(obj: pybpf.Collection) -> None:
    got: list[object] = []
    with RingBuffer(obj.maps["rb"], got.append, record_type="struct event", btf=obj) as rb:
        _produce(obj, "rb_reserve", 5)
        assert rb.consume() == 5
    assert [int(r["seq"]) for r in got] == [0, 1, 2, 3, 4]  # type: ignore[index]
    assert [int(r["small"]) for r in got] == [0, 3, 6, 9, 12]  # type: ignore[index]
    assert all(r["tag"] == TAG for r in got)  # type: ignore[index]


def test_batch_mode_numpy_dtype_from_btf(obj: pybpf.Collection) -> None:
    with RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        _produce(obj, "rb_output", 60)
        batch = rb.read_batch()
        assert rb.read_batch().size == 0
    assert batch.dtype.names == ("seq", "pid", "neg", "tag", "small", "pad")
    assert batch.dtype.itemsize == 32 and batch.dtype["tag"] == np.dtype("S12")
    _check_records(batch["seq"], range(60))
    assert (batch["neg"] == -batch["seq"].astype(np.int64)).all()
    assert (batch["tag"] == TAG).all()
    assert (batch["small"] == (batch["seq"] * 3).astype(np.uint16)).all()


def test_batch_callback_gets_lists_of_records_in_order() -> None:
    """batch=True: one call per read of up to STORE_EVERY bytes, records as in callback mode."""
    s = spec("events")
    s.maps["rb"].max_entries = 1 << 20
    with pybpf.load(s) as obj:
        lists: list[list[bytes]] = []
        with RingBuffer(obj.maps["rb"], lists.append, batch=True) as rb:
            _produce(obj, "rb_output", 5000)  # 5,000 * 40-byte spans: more than one read's worth
            assert rb.consume() == 5000
            assert rb.consume() == 0 and len(lists) == (5000 * 40 + STORE_EVERY - 1) // STORE_EVERY
        assert all(isinstance(r, bytes) and len(r) == 32 for batch in lists for r in batch)
        _check_records([int.from_bytes(r[:8], "little") for batch in lists for r in batch], range(5000))
        decoded: list[list[object]] = []
        with RingBuffer(obj.maps["rb"], decoded.append, batch=True, record_type="event", btf=obj) as rb:
            _produce(obj, "rb_reserve", 5)
            assert rb.poll(1.0) == 5
        assert [[int(r["seq"]) for r in batch] for batch in decoded] == [[5000, 5001, 5002, 5003, 5004]]  # type: ignore[index]
        with RingBuffer(obj.maps["rb"], batch=True) as rb:
            async def first_list() -> list[bytes]:
                async for records in rb:
                    return records  # type: ignore[no-any-return]
                raise AssertionError("the iteration ended")

            _produce(obj, "rb_output", 3)
            got = asyncio.run(asyncio.wait_for(first_list(), 30))
        assert [int.from_bytes(r[:8], "little") for r in got] == [5005, 5006, 5007]
    with load("events", discard_every=3) as obj:
        lists = []
        with RingBuffer(obj.maps["rb"], lists.append, batch=True) as rb:
            _produce(obj, "rb_reserve", 30)
            assert rb.consume() == 20 and rb.discarded == 10
        _check_records([int.from_bytes(r[:8], "little") for batch in lists for r in batch],
                       [s for s in range(30) if s % 3])  # type: ignore[arg-type]


def test_wraparound_many_times_the_ring_size(obj: pybpf.Collection) -> None:
    """4096-byte ring, 40-byte spans: 10,000 records wrap the ring about 100 times."""
    got: list[int] = []
    batches: list[np.ndarray] = []
    with RingBuffer(obj.maps["rb"], lambda r: got.append(int.from_bytes(r[:8], "little"))) as rb, \
            RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb_batch:
        for i in range(100):
            _produce(obj, "rb_output", 100)  # 100 * 40 bytes fit in the ring
            if i % 2:
                assert rb.consume() == 100
            else:
                batches.append(rb_batch.read_batch())
    assert obj.globals["rb_fail"] == 0
    seqs = sorted(got + [int(s) for b in batches for s in b["seq"]])
    _check_records(seqs, range(10000))


def test_discarded_records_are_skipped_and_counted() -> None:
    with load("events", discard_every=3) as obj:
        got: list[int] = []
        with RingBuffer(obj.maps["rb"], lambda r: got.append(int.from_bytes(r[:8], "little"))) as rb:
            _produce(obj, "rb_reserve", 30)
            assert rb.consume() == 20
            assert rb.discarded == 10
            assert rb.lost == 0
        _check_records(got, [s for s in range(30) if s % 3])  # type: ignore[arg-type]
        with RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
            _produce(obj, "rb_reserve", 30)
            batch = rb.read_batch()
            assert rb.discarded == 10
        _check_records(batch["seq"], [s for s in range(30, 60) if s % 3])  # type: ignore[arg-type]


def test_records_of_another_size_stop_a_batch_but_not_callbacks(obj: pybpf.Collection) -> None:
    with RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        _produce(obj, "rb_mixed", 4)  # u64, event, u64, event
        with pytest.raises(RecordTypeError, match="8-byte record"):
            rb.read_batch()
    sizes: list[int] = []
    with RingBuffer(obj.maps["rb"], lambda r: sizes.append(len(r))) as rb:
        assert rb.consume() == 4  # the new reader starts where the kernel's consumer_pos is
    assert sizes == [8, 32, 8, 32]


def test_several_ring_buffers_in_one_reader(obj: pybpf.Collection) -> None:
    first: list[int] = []
    second: list[int] = []
    with RingBuffer() as rb:
        rb.add(obj.maps["rb"], lambda r: first.append(int.from_bytes(r[:8], "little")))
        rb.add(obj.maps["rb2"], lambda r: second.append(int.from_bytes(r[:8], "little")))
        _produce(obj, "rb_both", 20)
        total = 0
        while total < 40:
            n = rb.poll(1.0)
            assert n, "poll timed out with records pending"
            total += n
        with pytest.raises(EventsError, match="several maps"):
            rb.read_batch()
    _check_records(first, range(20))
    _check_records(second, range(1000000, 1000020))


def test_asyncio_iteration_while_a_thread_produces() -> None:
    s = spec("events")
    s.maps["rb"].max_entries = 1 << 20
    with pybpf.load(s) as obj, RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        async def main() -> list[int]:
            loop = asyncio.get_running_loop()
            producer = loop.run_in_executor(None, _produce_slowly, obj, "rb_output", 100, 20)
            seqs: list[int] = []
            async for rec in rb:
                seqs.append(int(rec["seq"]))
                if len(seqs) == 2000:
                    break
            await producer
            return seqs

        seqs = asyncio.run(asyncio.wait_for(main(), 30))
        assert obj.globals["rb_fail"] == 0
    _check_records(seqs, range(2000))


def test_asyncio_batches() -> None:
    s = spec("events")
    s.maps["rb"].max_entries = 1 << 20
    with pybpf.load(s) as obj, RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        async def main() -> list[int]:
            loop = asyncio.get_running_loop()
            producer = loop.run_in_executor(None, _produce_slowly, obj, "rb_output", 100, 20)
            seqs: list[int] = []
            async for batch in rb.batches():
                assert batch.dtype.names is not None and "seq" in batch.dtype.names
                seqs.extend(int(x) for x in batch["seq"])
                if len(seqs) >= 2000:
                    break
            await producer
            return seqs

        seqs = asyncio.run(asyncio.wait_for(main(), 30))
    _check_records(seqs, range(2000))


def test_poll_wakes_up_for_a_producer_thread() -> None:
    s = spec("events")
    s.maps["rb"].max_entries = 1 << 20
    with pybpf.load(s) as obj, RingBuffer(obj.maps["rb"], record_type="event", btf=obj) as rb:
        t = threading.Thread(target=_produce_slowly, args=(obj, "rb_output", 500, 40))
        t.start()
        chunks = []
        got = 0
        while got < 20000:
            b = rb.poll_batch(5.0)
            assert b.size or t.is_alive(), "no records and the producer is done"
            chunks.append(b)
            got += b.size
        t.join()
        assert obj.globals["rb_fail"] == 0
    _check_records(np.concatenate(chunks)["seq"], range(20000))


def test_reader_errors_and_lifetime(obj: pybpf.Collection) -> None:
    with pytest.raises(EventsError, match="RINGBUF"):
        RingBuffer(obj.maps["pb"])
    rb = RingBuffer(obj.maps["rb"])
    _produce(obj, "rb_output", 1)
    with pytest.raises(EventsError, match="no callback"):
        rb.consume()
    with pytest.raises(RecordTypeError, match="no record type"):
        rb.read_batch()
    with pytest.raises(RecordTypeError, match="struct nope"):
        RingBuffer(obj.maps["rb"], record_type="nope", btf=obj)
    rb.close()
    rb.close()
    assert rb.closed
    with pytest.raises(EventsError, match="closed"):
        rb.poll(0)
