"""The runtime's session loop against the kernel (file named for the [TRACE-RUNTIME] test area).

A C program (progs_trace_runtime/session.bpf.c) stands in for code generation's output: it
emits printf/exit records in the layouts the analyser defines and counts into a per-CPU map, and
a ``CompiledScript`` describes it the way codegen does. The session must load it, run BEGIN,
attach, release the ``-c`` command, print its events, stop on ``exit()`` or when the command
exits, run END, and print the maps — with bpftrace's exact output.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pybpf.cc
from pybpf.spec import ObjectSpec
from pybpf.trace.ast import AttachPoint, ProbeType
from pybpf.trace.codegen.maps import RINGBUF_SIZE
from pybpf.trace.codegen.result import CompiledScript, MapBinding, ProbeAttach
from pybpf.trace.runtime.output import make_printer
from pybpf.trace.runtime.session import PausedCommand, Session
from pybpf.trace.semantic.model import EventField, EventKind, EventLayout, MapInfo
from pybpf.trace.types import INT64, AggKind, AggType

HERE = Path(__file__).parent / "progs_trace_runtime"

EVENTS = [
    EventLayout(0, EventKind.PRINTF, (EventField(INT64, 8),), 16, fmt="begin %d\n"),
    EventLayout(1, EventKind.PRINTF, (EventField(INT64, 8),), 16, fmt="getppid from %d\n"),
    EventLayout(2, EventKind.EXIT, (), 8),
    EventLayout(3, EventKind.PRINTF, (), 8, fmt="end\n"),
]


def script(cpid: int, limit: int) -> CompiledScript:
    spec = ObjectSpec.from_file(pybpf.cc.compile(HERE / "session.bpf.c"))
    spec.rodata["cpid"] = cpid
    spec.rodata["limit"] = limit
    points = [
        (ProbeType.BEGIN, "begin", AttachPoint("BEGIN", ProbeType.BEGIN)),
        (ProbeType.TRACEPOINT, "on_getppid",
         AttachPoint("tracepoint:syscalls:sys_enter_getppid", ProbeType.TRACEPOINT, "syscalls", func="sys_enter_getppid")),
        (ProbeType.END, "end", AttachPoint("END", ProbeType.END)),
    ]
    probes = [ProbeAttach(i, prog, kind, ap, ap.name, i) for i, (kind, prog, ap) in enumerate(points)]
    maps = {"@c": MapBinding(MapInfo("@c", None, AggType(AggKind.COUNT)), "AT_c", 8, 8, True)}
    return CompiledScript(spec, probes, maps, EVENTS, "ringbuf", None, "", b"")  # type: ignore[arg-type]


def child(calls: int) -> PausedCommand:
    return PausedCommand(f"{sys.executable} -c 'import os\nfor _ in range({calls}): os.getppid()'")


def test_session_runs_until_the_command_exits() -> None:
    cmd = child(4)
    out = io.StringIO()
    try:
        status = Session(script(cmd.pid, 0), make_printer(out), child=cmd).run()
    finally:
        cmd.close()
    assert status == 0
    text = out.getvalue()
    n = text.count(f"getppid from {cmd.pid}\n")  # python's start-up may call getppid too
    assert n >= 4
    assert text == ("Attaching 3 probes...\nbegin 42\n" + f"getppid from {cmd.pid}\n" * n
                    + f"end\n\n\n@c: {n}\n")


def test_session_stops_at_exit_and_prints_json() -> None:
    cmd = child(50)
    out = io.StringIO()
    try:
        Session(script(cmd.pid, 2), make_printer(out, fmt="json", quiet=True), child=cmd).run()
    finally:
        cmd.close()
    lines = out.getvalue().split("\n")
    assert lines[0] == '{"type": "printf", "data": "begin 42\\n"}'
    got = [ln for ln in lines if "getppid from" in ln]
    # exit() stops reading: records already in the ring when it arrives may still be printed
    assert 2 <= len(got) <= 50
    assert got[0] == f'{{"type": "printf", "data": "getppid from {cmd.pid}\\n"}}'
    tail = out.getvalue().split('{"type": "printf", "data": "end\\n"}\n', 1)[1]
    assert tail.startswith("\n\n{\"type\": \"map\", \"data\": {\"@c\": ")


def test_ctrl_c_runs_end_and_prints_maps() -> None:
    import os
    import signal
    import threading

    out = io.StringIO()
    done = threading.Event()

    def poke() -> None:
        # the session takes SIGINT from before BEGIN runs: wait for BEGIN's output
        while "begin 42\n" not in out.getvalue():
            if done.wait(0.01):
                return
        for _ in range(3):
            os.getppid()
        done.wait(0.3)
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    poker = threading.Thread(target=poke)
    poker.start()
    try:
        assert Session(script(os.getpid(), 0), make_printer(out, quiet=True)).run() == 0
    finally:
        done.set()
        poker.join()
    text = out.getvalue()
    n = text.count(f"getppid from {os.getpid()}\n")
    assert n >= 3
    assert text.endswith(f"end\n\n\n@c: {n}\n") and text.startswith("begin 42\n")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class CountingOut(io.StringIO):
    """Counts the writes the printer makes."""

    writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_a_busy_trace_is_printed_in_batches() -> None:
    """20,000 events: every one printed, with far fewer writes than lines (one per ring read)."""
    cmd = child(20000)
    out = CountingOut()
    busy = script(cmd.pid, 0)
    busy.object_spec.maps["ringbuf"].max_entries = RINGBUF_SIZE  # codegen's size (the fixture's holds 170 records)
    try:
        Session(busy, make_printer(out, quiet=True), child=cmd).run()
    finally:
        cmd.close()
    text = out.getvalue()
    n = text.count(f"getppid from {cmd.pid}\n")
    assert n >= 20000
    assert text == "begin 42\n" + f"getppid from {cmd.pid}\n" * n + f"end\n\n\n@c: {n}\n"
    assert out.writes <= n // 10, f"{out.writes} writes for {n} lines"
