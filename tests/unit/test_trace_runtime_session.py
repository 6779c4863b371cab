"""The runtime between the BPF side and the printers: event records decoded with the layouts the
front end produces, maps read in code generation's storage layout, the printers, ``-c``."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Sequence
from typing import Any

import pytest

from pybpf.trace import analyse, parse
from pybpf.trace.codegen.maps import binding_for
from pybpf.trace.runtime.aggregations import Agg, MapData, Stats
from pybpf.trace.runtime.decode import Decoder, Symbolizer, strftime
from pybpf.trace.runtime.formatting import Buffer
from pybpf.trace.runtime.maps import read_map
from pybpf.trace.runtime.output import make_printer
from pybpf.trace.runtime.session import EventHandler, PausedCommand, TraceRuntimeError
from pybpf.trace.semantic.model import Env, EventKind, EventLayout, MapInfo
from pybpf.trace.types import AggKind, AggType, IntType, StackMode, StackType, StringType, TupleType


class FakeSymbols(Symbolizer):
    def ksym(self, address: int, *, offset: bool = False) -> str:
        return {0xFFFF1000: "vfs_read", 0xFFFF2000: "do_syscall_64"}.get(address & ~0xFFF, f"0x{address:x}") + (
            f"+{address & 0xFFF}" if offset else "")

    def usym(self, address: int, pid: int, *, offset: bool = False) -> str:
        return f"0x{address:x}"


def typed(program: str) -> Any:
    return analyse(parse(program), env=Env(btf=None))


def record(ev: EventLayout, *values: bytes) -> bytes:
    raw = bytearray(ev.size)
    raw[:8] = struct.pack("<Q", ev.id)
    for f, v in zip(ev.fields, values):
        raw[f.offset:f.offset + len(v)] = v
    return bytes(raw)


class Run:
    """An EventHandler wired to a text or JSON printer and fixed maps."""

    def __init__(self, program: str, fmt: str = "text", maps: dict[str, MapData] | None = None) -> None:
        self.tp = typed(program)
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.maps = maps or {}
        self.cleared: list[str] = []
        self.zeroed: list[str] = []
        self.handler = EventHandler(self.tp.events, make_printer(self.out, fmt=fmt, err=self.err),
                                    Decoder(FakeSymbols(), ["BEGIN"]), self.maps.__getitem__,
                                    self.cleared.append, self.zeroed.append)

    def event(self, kind: EventKind, nth: int = 0) -> EventLayout:
        found: list[EventLayout] = [e for e in self.tp.events if e.kind is kind]
        return found[nth]


def test_printf_record_decoded_with_the_analysers_layout() -> None:
    run = Run(r'BEGIN { printf("%s is %d, %u|%x\n", comm, (int8)-2, (uint16)65535, (uint32)255); }')
    ev = run.event(EventKind.PRINTF)
    comm, i8, u16, u32 = (f.type for f in ev.fields)
    assert (comm, i8, u16, u32) == (StringType(16), IntType(8, True), IntType(16, False), IntType(32, False))
    run.handler(record(ev, b"bash\0junk", b"\xfe", b"\xff\xff", struct.pack("<I", 255)))
    assert run.out.getvalue() == "bash is -2, 65535|ff\n"


def test_printf_json_record() -> None:
    run = Run(r'BEGIN { printf("a\t\"%d\"\n", 5); }', fmt="json")
    run.handler(record(run.event(EventKind.PRINTF), struct.pack("<q", 5)))
    assert run.out.getvalue() == '{"type": "printf", "data": "a\\t\\"5\\"\\n"}\n'


def test_print_map_with_top_and_div_reads_the_map() -> None:
    m = MapData("@c", Agg.COUNT, {(1,): 10, (2,): 30, (3,): 20})
    run = Run("BEGIN { @c[1] = count(); print(@c, 2, 10); }", maps={"@c": m})
    run.handler(record(run.event(EventKind.PRINT)))
    assert run.out.getvalue() == "@c[3]: 2\n@c[2]: 3\n"


def test_print_value_and_tuple() -> None:
    run = Run('BEGIN { print((1, "two")); }')
    ev = run.event(EventKind.PRINT)
    t = ev.fields[0].type
    assert isinstance(t, TupleType)
    raw = bytearray(t.size)
    raw[0:8] = struct.pack("<q", 1)
    raw[t.offsets[1]:t.offsets[1] + 3] = b"two"
    run.handler(record(ev, bytes(raw)))
    assert run.out.getvalue() == "(1, two)\n"


def test_exit_clear_zero_events() -> None:
    run = Run("BEGIN { @a = count(); @b[1] = sum(2); clear(@a); zero(@b); exit(); }")
    for kind in (EventKind.CLEAR, EventKind.ZERO, EventKind.EXIT):
        run.handler(record(run.event(kind)))
    assert run.cleared == ["@a"] and run.zeroed == ["@b"] and run.handler.exit_requested


def test_unknown_event_id_is_an_error_that_says_why() -> None:
    run = Run("BEGIN { exit(); }")
    with pytest.raises(TraceRuntimeError, match="event id 99 is not one"):
        run.handler(struct.pack("<Q", 99))


def test_lost_events_text_and_json() -> None:
    text = io.StringIO()
    make_printer(text, err=io.StringIO()).lost(3)
    assert text.getvalue() == "Lost 3 events\n"
    out = io.StringIO()
    make_printer(out, fmt="json").lost(3)
    assert out.getvalue() == '{"type": "lost_events", "data": {"events": 3}}\n'


def test_attached_line_and_quiet() -> None:
    out = io.StringIO()
    make_printer(out).attached(1)
    make_printer(out).attached(2)
    make_printer(out, quiet=True).attached(3)
    make_printer(out, fmt="json").attached(2)
    assert out.getvalue() == ('Attaching 1 probe...\nAttaching 2 probes...\n'
                              '{"type": "attached_probes", "data": {"probes": 2}}\n')


# ----------------------------------------------------------------------------- maps


def percpu(*values: bytes) -> list[bytes]:
    return list(values)


def test_count_map_summed_over_cpus() -> None:
    b = binding_for(MapInfo("@c", IntType(64, True), AggType(AggKind.COUNT)), "AT_c")
    items = [(struct.pack("<q", 7), percpu(struct.pack("<q", 2), struct.pack("<q", 3)))]
    m = read_map(b, items, Decoder(FakeSymbols()))
    assert (m.agg, m.entries, m.keyed) == (Agg.COUNT, {(7,): 5}, True)


def test_avg_and_min_layouts() -> None:
    avg = binding_for(MapInfo("@a", None, AggType(AggKind.AVG)), "AT_a")
    m = read_map(avg, [(bytes(8), percpu(struct.pack("<Qq", 2, -10), struct.pack("<Qq", 1, -5)))], Decoder(FakeSymbols()))
    assert m.entries == {(): Stats(3, -15)} and m.entries[()].average == -5
    mn = binding_for(MapInfo("@m", None, AggType(AggKind.MIN)), "AT_m")
    cpus = percpu(struct.pack("<qQ", -4, 1), struct.pack("<qQ", -100, 0), struct.pack("<qQ", 9, 1))
    assert read_map(mn, [(bytes(8), cpus)], Decoder(FakeSymbols())).entries == {(): -4}


def test_hist_buckets_from_bucket_keys() -> None:
    b = binding_for(MapInfo("@h", StringType(16), AggType(AggKind.HIST)), "AT_h")
    assert b.bucket_key and b.key_size == 24
    key = b"bash".ljust(16, b"\0")
    items = [(key + struct.pack("<Q", 4), percpu(struct.pack("<Q", 1), struct.pack("<Q", 2))),
             (key + struct.pack("<Q", 1), percpu(struct.pack("<Q", 1), bytes(8)))]
    m = read_map(b, items, Decoder(FakeSymbols()))
    counts = m.entries[(b"bash",)]
    assert counts[4] == 3 and counts[1] == 1 and sum(counts) == 4
    from pybpf.trace.runtime.aggregations import map_text
    assert map_text(m) == ("@h[bash]: \n"
                           "[0]                    1 |@@@@@@@@@@@@@@@@@                                   |\n"
                           "[1]                    0 |                                                    |\n"
                           "[2, 4)                 0 |                                                    |\n"
                           "[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")


def test_stack_key_read_through_the_stack_map() -> None:
    key_t = TupleType((StackType(True, StackMode.BPFTRACE, 2), IntType(64, True)))
    b = binding_for(MapInfo("@s", key_t, AggType(AggKind.COUNT)), "AT_s")
    b = type(b)(b.info, b.bpf_name, b.key_size, b.value_size, b.percpu, b.bucket_key, "stacks")
    stacks = {5: [0xFFFF1010, 0xFFFF2020]}
    items = [(struct.pack("<qq", 5, 42), percpu(struct.pack("<q", 3)))]
    m = read_map(b, items, Decoder(FakeSymbols()), stacks=lambda name, t, sid: stacks[sid])
    from pybpf.trace.runtime.aggregations import map_text
    assert map_text(m) == "@s[\n    vfs_read+16\n    do_syscall_64+32\n, 42]: 3\n"


def test_kstack_in_printf_is_indented_by_eight() -> None:
    t = StackType(True, StackMode.BPFTRACE, 3)
    raw = struct.pack("<QQQQ", 2, 0xFFFF1010, 0xFFFF2020, 0)
    assert Decoder(FakeSymbols()).value(t, raw) == "\n        vfs_read+16\n        do_syscall_64+32\n"
    perf = StackType(True, StackMode.PERF, 3)
    assert Decoder(FakeSymbols()).value(perf, raw) == "\n\tffff1010 vfs_read+16\n\tffff2020 do_syscall_64+32\n"


def test_buffer_and_special_values() -> None:
    from pybpf.trace.types import BufType, InetType, MacAddrType, SpecialU64Type, U64Kind
    d = Decoder(FakeSymbols(), ["BEGIN", "tracepoint:sched:sched_switch"])
    assert d.value(BufType(4), b"\x03a\x01b\x00") == Buffer(b"a\x01b")
    assert d.value(InetType(), struct.pack("<Q", 2) + bytes([127, 0, 0, 1]) + bytes(12)) == "127.0.0.1"
    assert d.value(InetType(), struct.pack("<Q", 10) + bytes(15) + b"\x01") == "::1"
    assert d.value(MacAddrType(), bytes([0, 0x1b, 0xa, 0xff, 1, 2])) == "00:1B:0A:FF:01:02"
    assert d.value(SpecialU64Type(U64Kind.STRERROR), struct.pack("<Q", 2)) == "No such file or directory"
    assert d.value(SpecialU64Type(U64Kind.USERNAME), struct.pack("<Q", 0)) == "root"
    assert d.value(SpecialU64Type(U64Kind.PROBE), struct.pack("<Q", 1)) == "tracepoint:sched:sched_switch"


def test_strftime_of_boot_relative_ns() -> None:
    boot = 1_700_000_000 * 10**9
    assert strftime("%Y-%m-%d", 0, boot_ns=boot) == time.strftime("%Y-%m-%d", time.localtime(1_700_000_000))
    assert strftime("%f", 123_456_789, boot_ns=boot) == "123456"


# ----------------------------------------------------------------------------- -c


def test_paused_command_does_not_run_before_release(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    cmd = PausedCommand(f"touch {marker}")
    try:
        time.sleep(0.2)
        assert cmd.running() and not marker.exists()
        cmd.release()
        cmd.proc.wait(timeout=10)
        assert marker.exists() and not cmd.running()
    finally:
        cmd.close()


def test_paused_command_closed_unreleased_does_not_leak() -> None:
    cmd = PausedCommand("sleep 30")
    cmd.close()
    assert not cmd.running()


def _unused(_: Sequence[int]) -> None:
    return None


def test_records_after_exit_are_dropped_like_bpftrace() -> None:
    run = Run(r'BEGIN { printf("before\n"); exit(); printf("after\n"); }')
    first, second = (e for e in run.tp.events if e.kind is EventKind.PRINTF)
    run.handler(record(first))
    run.handler(record(run.event(EventKind.EXIT)))
    run.handler(record(second))
    assert run.out.getvalue() == "before\n"
