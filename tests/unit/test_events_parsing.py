"""pybpf.events without a kernel: BTF -> numpy dtypes, trace_pipe lines, and the ring buffer
consumer protocol over a memfd that stands in for the kernel's mapping."""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from pybpf._sys import FD
from pybpf.btf import BTF, Array, Const, Int, IntEncoding, Member, Pointer, Struct, Typedef, Union_
from pybpf.enums import MapType
from pybpf.events import RecordTypeError, RingBuffer, TraceEvent, TracePipe, btf_dtype, parse_trace_line
from pybpf.events.dtype import resolve_record_type
from pybpf.events.perfbuf import sample_span
from pybpf.events.ringbuf import RecordFlags, record_span
from pybpf.events.trace_pipe import trace_fields

PAGE = mmap.PAGESIZE

# ---- dtypes ----------------------------------------------------------------------------------


def _btf() -> BTF:
    return BTF.from_types([
        Int("int", 4, IntEncoding.SIGNED),                 # 1
        Int("char", 1, IntEncoding.SIGNED | IntEncoding.CHAR),  # 2
        Int("unsigned char", 1),                           # 3
        Int("long long unsigned int", 8),                  # 4
        Array(2, 1, 16),                                   # 5 char[16]
        Array(3, 1, 4),                                    # 6 unsigned char[4]
        Array(1, 1, 3),                                    # 7 int[3]
        Typedef("u64", 4),                                 # 8
        Const(8),                                          # 9
        Struct("inner", 8, (Member("x", 1, 0), Member("y", 1, 32))),  # 10
        Pointer(2),                                        # 11
        Union_("u", 8, (Member("a", 4, 0), Member("b", 1, 0))),       # 12
        Struct("event", 80, (                              # 13
            Member("ts", 9, 0), Member("pid", 1, 64), Member("comm", 5, 96), Member("raw", 6, 224),
            Member("vals", 7, 256), Member("in", 10, 352), Member("p", 11, 448), Member("u", 12, 512),
        )),
        Struct("bits", 4, (Member("a", 1, 0, 3),)),        # 14
    ])


def test_struct_dtype_follows_btf_layout() -> None:
    dt = btf_dtype(_btf(), 13)
    assert dt.itemsize == 80
    assert dt.names == ("ts", "pid", "comm", "raw", "vals", "in", "p", "u")
    assert dt.fields["ts"] == (np.dtype("<u8"), 0)       # through const and typedef
    assert dt.fields["pid"] == (np.dtype("<i4"), 8)
    assert dt.fields["comm"] == (np.dtype("S16"), 12)     # char[16]: bytes
    assert dt.fields["raw"][0] == np.dtype(("u1", (4,)))  # unsigned char[4]: numbers
    assert dt.fields["vals"][0] == np.dtype(("<i4", (3,)))
    assert dt.fields["in"][0].names == ("x", "y") and dt.fields["in"][1] == 44
    assert dt.fields["p"] == (np.dtype("<u8"), 56)
    assert dt.fields["u"] == (np.dtype("V8"), 64)


def test_decoding_bytes_with_the_dtype() -> None:
    dt = btf_dtype(_btf(), 13)
    raw = bytearray(80)
    struct.pack_into("<Qi16s", raw, 0, 123, -7, b"python3")
    struct.pack_into("<3i", raw, 32, 1, 2, 3)
    rec = np.frombuffer(bytes(raw), dt)[0]
    assert rec["ts"] == 123 and rec["pid"] == -7 and rec["comm"] == b"python3"
    assert list(rec["vals"]) == [1, 2, 3]


def test_bitfields_are_refused_with_the_member_name() -> None:
    with pytest.raises(RecordTypeError, match="'a' is a bitfield"):
        btf_dtype(_btf(), 14)


def test_record_type_by_name_needs_btf_and_a_known_struct() -> None:
    assert resolve_record_type("struct event", _btf()).itemsize == 80  # type: ignore[union-attr]
    assert resolve_record_type(np.dtype("<u8"), None) == np.dtype("<u8")
    with pytest.raises(RecordTypeError, match="needs the object's BTF"):
        resolve_record_type("event", None)
    with pytest.raises(RecordTypeError, match="no struct 'nope'.*__attribute__"):
        resolve_record_type("nope", _btf())


def test_spans() -> None:
    assert [record_span(n) for n in (1, 8, 9, 32)] == [16, 16, 24, 40]
    assert [sample_span(n) for n in (4, 32, 36)] == [16, 48, 48]


# ---- trace_pipe ------------------------------------------------------------------------------

LINES = {
    "            python3-4242    [001] d..31  5210.118221: bpf_trace_printk: hello 42":
        ("python3", 4242, 1, "d..31", 5210.118221, "hello 42"),
    "  <...>-30742   [000] b..11  3156.673725: bpf_trace_printk: pybpf-events 777 says 42":
        ("<...>", 30742, 0, "b..11", 3156.673725, "pybpf-events 777 says 42"),
    " kworker/u4:2-88 (     88) [003] .... 12.000001: bpf_trace_printk: a: b: c":
        ("kworker/u4:2", 88, 3, "....", 12.000001, "a: b: c"),
    " my-app -x-99    [002] ..s1. 1.5: bpf_trace_printk: ":
        ("my-app -x", 99, 2, "..s1.", 1.5, ""),
}


@pytest.mark.parametrize("line", list(LINES))
def test_trace_lines_parse_into_bcc_fields(line: str) -> None:
    ev = parse_trace_line(line + "\n")
    assert ev is not None and ev.fields() == LINES[line]
    assert trace_fields(line) == LINES[line]


def test_non_event_lines() -> None:
    assert parse_trace_line("CPU:1 [LOST 3 EVENTS]") is None
    assert trace_fields("garbage") == ("", -1, -1, "", 0.0, "garbage")


def test_trace_pipe_over_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "trace_pipe"
    os.mkfifo(fifo)
    with TracePipe(path=fifo) as tp:
        assert tp.poll(0) == []  # no writer yet: nothing, and no blocking
        w = os.open(fifo, os.O_WRONLY)
        try:
            os.write(w, b"  a-1 [000] .... 1.0: bpf_trace_printk: one\nCPU:0 [LOST 5 EVENTS]\nnot an ev")
            first = tp.poll(1.0)
            assert [e.message for e in first] == ["one"]
            assert tp.lost == 5
            os.write(w, b"ent line\n  b-2 [001] .... 2.0: bpf_trace_printk: two\n")
            assert tp.next_event(1.0) == TraceEvent("", -1, -1, "", 0.0, "not an event line", event="")
            assert tp.trace_fields() == ("b", 2, 1, "....", 2.0, "two")
            assert tp.trace_fields(nonblocking=True) is None
        finally:
            os.close(w)
    assert tp.closed
    tp.close()


# ---- the ring buffer consumer protocol over a fake mapping -----------------------------------


class FakeRing:
    """A memfd laid out like a ring buffer map's mapping: consumer page, producer page, data
    twice (the fake writes both copies, as the kernel's double mapping shows them)."""

    type = MapType.RINGBUF
    btf = None

    def __init__(self, size: int = 4096) -> None:
        self.name = "fake"
        self.max_entries = size
        self.fd = FD(os.memfd_create("fake-ringbuf"), kind="memfd")
        os.ftruncate(self.fd.fileno(), 2 * PAGE + 2 * size)
        self.mm = mmap.mmap(self.fd.fileno(), 2 * PAGE + 2 * size)
        self.prod = 0
        self.ring = bytearray(size)

    @property
    def consumer_pos(self) -> int:
        return struct.unpack_from("<Q", self.mm, 0)[0]

    def _sync(self) -> None:
        self.mm[2 * PAGE:2 * PAGE + 2 * self.max_entries] = bytes(self.ring) * 2
        struct.pack_into("<Q", self.mm, PAGE, self.prod)

    def write(self, payload: bytes, flags: int = 0) -> int:
        """Append one record; returns its position."""
        pos = self.prod
        rec = struct.pack("<II", len(payload) | flags, 0) + payload
        rec += b"\0" * (record_span(len(payload)) - len(rec))
        for i, b in enumerate(rec):
            self.ring[(pos + i) % self.max_entries] = b
        self.prod += len(rec)
        self._sync()
        return pos

    def set_flags(self, pos: int, length: int, flags: int) -> None:
        struct.pack_into("<I", self.ring, pos % self.max_entries, length | flags)
        self._sync()

    def close(self) -> None:
        self.mm.close()
        self.fd.close()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRing:
    from pybpf.events import _reader

    def register(self: _reader.EpollReader, src: _reader.Source) -> None:  # a memfd cannot be polled
        self._sources.append(src)

    monkeypatch.setattr(_reader.EpollReader, "_register", register)
    f = FakeRing()
    yield f  # type: ignore[misc]
    f.close()


def test_callback_order_busy_stop_and_discard(fake: FakeRing) -> None:
    got: list[bytes] = []
    with RingBuffer(fake, got.append) as rb:  # type: ignore[arg-type]
        fake.write(b"first")
        busy = fake.write(b"second", RecordFlags.BUSY)
        fake.write(b"third")
        assert rb.consume() == 1 and got == [b"first"]  # stops at the BUSY record, keeps order
        assert fake.consumer_pos == busy
        fake.set_flags(busy, 6, RecordFlags.DISCARD)  # the program discarded it
        assert rb.consume() == 1 and got == [b"first", b"third"]
        assert rb.discarded == 1 and rb.lost == 0
        assert fake.consumer_pos == fake.prod


def test_records_crossing_the_end_of_the_ring(fake: FakeRing) -> None:
    dt = np.dtype([("seq", "<u8"), ("pad", "S24")])
    seen: list[int] = []
    with RingBuffer(fake, lambda r: seen.append(int(r["seq"])), record_type=dt) as rb:  # type: ignore[arg-type]
        for seq in range(1000):  # 40-byte spans in 4096 bytes: records straddle the end
            fake.write(struct.pack("<Q24s", seq, b"x"))
            if seq % 50 == 49:
                if seq % 100 == 99:
                    assert rb.consume() == 50
                else:
                    batch = rb.read_batch()
                    seen.extend(int(s) for s in batch["seq"])
    assert seen == list(range(1000))


def test_batch_stops_at_busy_and_skips_discarded_of_any_size(fake: FakeRing) -> None:
    dt = np.dtype([("seq", "<u8")])
    with RingBuffer(fake, record_type=dt) as rb:  # type: ignore[arg-type]
        fake.write(struct.pack("<Q", 1))
        fake.write(b"x" * 20, RecordFlags.DISCARD)   # discarded, another size
        fake.write(struct.pack("<Q", 2), RecordFlags.DISCARD)
        fake.write(struct.pack("<Q", 3))
        busy = fake.write(struct.pack("<Q", 4), RecordFlags.BUSY)
        fake.write(struct.pack("<Q", 5))
        assert list(rb.read_batch()["seq"]) == [1, 3]
        assert rb.discarded == 2
        fake.set_flags(busy, 8, 0)
        assert list(rb.read_batch(max_records=1)["seq"]) == [4]
        assert list(rb.read_batch()["seq"]) == [5]
        fake.write(b"y" * 20)
        with pytest.raises(RecordTypeError, match="20-byte record"):
            rb.read_batch()


def test_wrong_map_type_and_close_once(fake: FakeRing) -> None:
    fake.type = MapType.HASH  # type: ignore[misc]
    with pytest.raises(Exception, match="RINGBUF"):
        RingBuffer(fake)  # type: ignore[arg-type]
    fake.type = MapType.RINGBUF  # type: ignore[misc]
    rb = RingBuffer(fake, print)  # type: ignore[arg-type]
    ring_fd = rb.rings[0]._fd
    rb.close()
    rb.close()
    assert ring_fd.closed and rb.closed
