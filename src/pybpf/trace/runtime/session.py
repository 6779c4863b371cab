"""The run loop of ``pybpf trace``: BEGIN, attach, read events, END, print maps.

Order of a run (as bpftrace does it):

1. ``-c CMD``: the command is started *paused* (it waits on a pipe before ``exec``) so its pid is
   known (``cpid``) and probes are attached before it runs a single instruction of the command.
2. the object is loaded; "Attaching N probes..." is printed (BEGIN and END count), every probe
   is attached, then the BEGIN program runs once (``BPF_PROG_TEST_RUN``) and its events are
   printed.
3. the command is released; events are read from the ring buffer and printed until ``exit()``
   is called, SIGINT (Ctrl-C) arrives, the ``-c`` command exits, or the ``-p`` process is gone.
4. the END program runs, its events are printed, then every map (two empty lines first).

Lost events are reported once per poll (``Lost N events`` with the output, a ``lost_events`` record
under ``-f json``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..._log import get_logger
from ..._process import pid_alive
from ...errors import BPFError
from .. import points as A
from ..layouts import EventKind, EventLayout
from ..points import ProbeType as P
from .decode import Decoder, Symbolizer
from .formatting import format_printf
from .maps import LiveMap, read_map
from .output import Printer
from .render import Renderer, compile_printf

if TYPE_CHECKING:
    from ..._sys.record import Recorder
    from ..codegen.result import CompiledScript, ProbeAttach
    from .aggregations import MapData
    from .startup import Adopted

log = get_logger("pybpf.trace.runtime.session")


class TraceRuntimeError(BPFError):
    """The runtime cannot run the compiled script (bad event id, missing map, attach failure...)."""


@dataclass
class SessionOptions:
    """Command line options that change the run."""

    pid: int | None = None
    #: seconds between polls; also how quickly Ctrl-C and child exit are noticed
    poll_interval: float = 0.1
    #: after a read that found records, seconds to let more arrive before the next read: a busy
    #: trace is then read (and written) in batches instead of at every record's wakeup, for at
    #: most this much delay; an event arriving after a quiet spell is still printed at once, and
    #: a producer fast enough to fill the ring during the wait is read without it; 0: no wait
    batch_wait: float = 0.001
    #: record the load and attach and hand the launch record (see .startup) to this callable
    #: once the probes are attached and BEGIN has run (pybpf trace keeps it in its cache)
    record_launch: Callable[[dict[str, Any]], None] | None = None


# ----------------------------------------------------------------------------- events

@dataclass
class EventHandler:
    """Decodes ring buffer records and prints them; ``exit_requested`` after ``exit()``.

    :meth:`batch` takes the records of one ring buffer read: printf records (nearly all of a busy
    trace) are rendered straight from their bytes and written with one call per batch.
    """

    events: Sequence[EventLayout]
    printer: Printer
    decoder: Decoder
    read_map: Callable[[str], MapData]
    clear_map: Callable[[str], None]
    zero_map: Callable[[str], None]
    #: watchpoint:FUNC+argN: set the watchpoint at the address a WATCH record carries
    watch: Callable[[EventLayout, list[Any]], None] | None = None
    #: unwatch(addr): remove the watchpoints set at the address an UNWATCH record carries
    unwatch: Callable[[int], None] | None = None
    exit_requested: bool = False
    _table: dict[EventKind, Callable[[EventLayout, list[Any]], None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {ev.id: (ev, self.decoder.compile([(f.type, f.offset) for f in ev.fields], ev.size))
                       for ev in self.events}
        #: the 8 id bytes of a printf event -> the renderer of its records (compiled when the
        #: first one arrives: a bad format is reported where format_printf would report it)
        self._renderers: dict[bytes, Renderer] = {}
        self._printf_ids = {ev.id for ev in self.events if ev.kind is EventKind.PRINTF}
        self._table = {
            EventKind.PRINTF: lambda ev, args: self.printer.printf(ev.fmt, args),
            EventKind.PRINT: self._print,
            EventKind.TIME: lambda ev, args: self.printer.time(ev.fmt or "%H:%M:%S\n"),
            EventKind.JOIN: self._join,
            EventKind.EXIT: self._exit,
            EventKind.CAT: self._cat,
            EventKind.SYSTEM: self._system,
            EventKind.CLEAR: lambda ev, args: self.clear_map(ev.map),
            EventKind.ZERO: lambda ev, args: self.zero_map(ev.map),
            EventKind.WATCH: lambda ev, args: self.watch(ev, args) if self.watch is not None else None,
            EventKind.UNWATCH: lambda ev, args: self.unwatch(int(args[0])) if self.unwatch is not None else None,
        }

    def __call__(self, raw: bytes) -> None:
        if self.exit_requested:
            return  # like bpftrace: nothing after exit() is printed (END's output comes later)
        ev, decode = self._event(raw)
        self._table[ev.kind](ev, decode(raw))

    def _event(self, raw: bytes) -> tuple[EventLayout, Callable[[bytes], list[Any]]]:
        if len(raw) < 8:
            raise TraceRuntimeError(f"event record of {len(raw)} bytes has no id")
        event_id = int.from_bytes(raw[:8], "little")
        known = self._by_id.get(event_id)
        if known is None:
            raise TraceRuntimeError(f"event id {event_id} is not one the compiled script defines "
                                    f"(known: {sorted(self._by_id)}); the object and the runtime disagree")
        return known

    def _renderer(self, id_bytes: bytes) -> Renderer | None:
        """The renderer of the printf records with this id (None for other events)."""
        event_id = int.from_bytes(id_bytes, "little")
        if len(id_bytes) < 8 or event_id not in self._printf_ids:
            return None
        ev = self._by_id[event_id][0]
        render = self._renderers[id_bytes] = compile_printf(ev.fmt, ev.fields, ev.size, self.decoder)
        return render

    def batch(self, records: Sequence[bytes]) -> None:
        """Print ``records`` in order (as many calls of this handler would), then flush the output."""
        texts: list[str] = []
        renderers = self._renderers
        for raw in records:
            if self.exit_requested:
                break
            render = renderers.get(raw[:8]) or self._renderer(raw[:8])
            if render is not None:
                texts.append(render(raw))
                continue
            if texts:  # keep the order: what came before goes out first
                self.printer.printf_texts(texts)
                texts = []
            self(raw)
        if texts:
            self.printer.printf_texts(texts)
        self.printer.flush()

    def _print(self, ev: EventLayout, args: list[Any]) -> None:
        if ev.map:
            top, div = (list(ev.extra) + [0, 1])[:2] if ev.extra else (0, 1)
            self.printer.map(self.read_map(ev.map), top=int(top), div=int(div or 1))  # type: ignore[call-overload]
        else:
            self.printer.value(args[0])

    def _join(self, ev: EventLayout, args: list[Any]) -> None:
        sep = str(ev.extra[0]) if ev.extra else " "
        parts = args[0] if args and isinstance(args[0], list) else args
        self.printer.join([p for p in parts if p], sep)

    def _exit(self, ev: EventLayout, args: list[Any]) -> None:
        self.exit_requested = True

    def _cat(self, ev: EventLayout, args: list[Any]) -> None:
        path = format_printf(ev.fmt, args)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                self.printer.text("cat", f.read())
        except OSError as exc:
            self.printer.warning(f"failed to open file '{path}': {exc.strerror}")

    def _system(self, ev: EventLayout, args: list[Any]) -> None:
        import subprocess  # system() needs --unsafe: rare, so not imported at start-up

        command = format_printf(ev.fmt, args)
        done = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
        self.printer.text("syscall", done.stdout)  # the record type bpftrace uses for system()


# ----------------------------------------------------------------------------- attaching

#: the context BEGIN/END programs are test-run with (they are raw_tracepoint programs: no data)
SPECIAL_CTX = bytes(8)


def run_special(prog: Any) -> None:
    """Run a BEGIN/END program once (``BPF_PROG_TEST_RUN``; test_run knows a raw_tracepoint's rules)."""
    prog.test_run(ctx=SPECIAL_CTX)


#: software/hardware event names (with bpftrace's aliases) -> (perf config name, default count)
_SOFTWARE_EVENTS: dict[str, tuple[str, int]] = {
    "cpu-clock": ("CPU_CLOCK", 1_000_000), "cpu": ("CPU_CLOCK", 1_000_000), "task-clock": ("TASK_CLOCK", 1_000_000),
    "page-faults": ("PAGE_FAULTS", 100), "faults": ("PAGE_FAULTS", 100),
    "context-switches": ("CONTEXT_SWITCHES", 1000), "cs": ("CONTEXT_SWITCHES", 1000),
    "cpu-migrations": ("CPU_MIGRATIONS", 1), "migrations": ("CPU_MIGRATIONS", 1),
    "minor-faults": ("PAGE_FAULTS_MIN", 100), "major-faults": ("PAGE_FAULTS_MAJ", 1),
    "alignment-faults": ("ALIGNMENT_FAULTS", 1), "emulation-faults": ("EMULATION_FAULTS", 1),
    "dummy": ("DUMMY", 1), "bpf-output": ("BPF_OUTPUT", 1),
}
_HARDWARE_EVENTS: dict[str, tuple[str, int]] = {
    "cpu-cycles": ("CPU_CYCLES", 1_000_000), "cycles": ("CPU_CYCLES", 1_000_000),
    "instructions": ("INSTRUCTIONS", 1_000_000), "cache-references": ("CACHE_REFERENCES", 1_000_000),
    "cache-misses": ("CACHE_MISSES", 1_000_000), "branch-instructions": ("BRANCH_INSTRUCTIONS", 100_000),
    "branches": ("BRANCH_INSTRUCTIONS", 100_000), "branch-misses": ("BRANCH_MISSES", 100_000),
    "bus-cycles": ("BUS_CYCLES", 100_000), "frontend-stalls": ("STALLED_CYCLES_FRONTEND", 1_000_000),
    "backend-stalls": ("STALLED_CYCLES_BACKEND", 1_000_000), "ref-cycles": ("REF_CPU_CYCLES", 1_000_000),
}
#: nanoseconds per interval/profile unit (``hz`` is a frequency instead)
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}


def _timer(prog: Any, point: A.AttachPoint) -> Any:
    """profile (every CPU) and interval (one CPU): a cpu-clock perf event."""
    from ...link import perf_event
    cpu = 0 if point.provider is P.INTERVAL else None
    if point.unit == "hz":
        return perf_event(prog, frequency=point.freq, cpu=cpu)
    return perf_event(prog, period=point.freq * _UNIT_NS[point.unit], cpu=cpu)


def _counter(prog: Any, point: A.AttachPoint) -> Any:
    """software:EVENT:COUNT / hardware:EVENT:COUNT, on every CPU."""
    from ...link import perf_event
    from ..._sys.abi import PerfHwConfig, PerfSwConfig
    table, enum = ((_SOFTWARE_EVENTS, PerfSwConfig) if point.provider is P.SOFTWARE
                   else (_HARDWARE_EVENTS, PerfHwConfig))
    try:
        config, default = table[point.func]
    except KeyError:
        raise TraceRuntimeError(f"unknown {point.provider} event {point.func!r}; use one of: "
                                + ", ".join(sorted(table))) from None
    return perf_event(prog, period=point.freq or default, event=enum[config])


def _watchpoint(prog: Any, point: A.AttachPoint, pid: int | None, address: int | None = None) -> Any:
    """watchpoint:ADDR:LEN:MODE: a user address of the traced process (-p/-c), else a kernel address."""
    from ...link.breakpoint import watchpoint
    try:
        return watchpoint(prog, point.address or 0 if address is None else address, point.length,
                          access=point.mode, pid=pid)
    except ValueError as e:
        raise TraceRuntimeError(f"{point.raw}: {e}") from None


_WATCHPOINTS = frozenset({P.WATCHPOINT, P.ASYNCWATCHPOINT})


def _run_iterators(links: Sequence[Any], drain: Callable[[], None]) -> bool:
    """Run each iterator probe's pass over its kernel objects (one ``read()`` of a new iterator
    drives the program over all of them; what it prints arrives through the ring buffer, drained
    between reads). True when there was one: the trace then ends, as bpftrace's does."""
    iter_module = sys.modules.get("pybpf.link.iter")
    if iter_module is None:  # never imported, so no IterLink exists (and start-up skips the import)
        return False
    IterLink = iter_module.IterLink  # noqa: N806 - the class
    ran = False
    for ln in links:
        if isinstance(ln, IterLink):
            with ln.open() as f:
                while f.read(65536):
                    drain()
            drain()
            ran = True
    return ran


def _attachers() -> dict[P, Callable[[Any, A.AttachPoint, int | None], Any]]:
    from ... import link
    return {
        P.TRACEPOINT: lambda prog, ap, pid: link.tracepoint(prog, ap.target, ap.func),
        P.RAWTRACEPOINT: lambda prog, ap, pid: link.raw_tracepoint(prog, ap.func),
        P.KPROBE: lambda prog, ap, pid: link.kprobe(prog, ap.func, offset=ap.offset or 0),
        P.KRETPROBE: lambda prog, ap, pid: link.kretprobe(prog, ap.func),
        P.FENTRY: lambda prog, ap, pid: link.fentry(prog),
        P.FEXIT: lambda prog, ap, pid: link.fexit(prog),
        P.UPROBE: lambda prog, ap, pid: link.uprobe(prog, ap.target, ap.address if ap.address is not None else ap.func,
                                                    pid=pid, offset=ap.offset or 0),
        P.URETPROBE: lambda prog, ap, pid: link.uretprobe(prog, ap.target,
                                                          ap.address if ap.address is not None else ap.func, pid=pid),
        P.USDT: lambda prog, ap, pid: link.usdt(prog, ap.target, ap.namespace, ap.func, pid=pid),
        P.PROFILE: lambda prog, ap, pid: _timer(prog, ap),
        P.INTERVAL: lambda prog, ap, pid: _timer(prog, ap),
        P.SOFTWARE: lambda prog, ap, pid: _counter(prog, ap),
        P.HARDWARE: lambda prog, ap, pid: _counter(prog, ap),
        P.ITER: lambda prog, ap, pid: link.iter(prog),
        P.WATCHPOINT: _watchpoint,
        P.ASYNCWATCHPOINT: _watchpoint,
    }


def _replayed_pmu(pmu_type: int) -> str | None:
    """The name of the dynamic PMU with this perf type number, among those a launch record
    replays (uprobe)."""
    from ...features.env import pmu_type as type_of

    return "uprobe" if type_of("uprobe") == pmu_type else None


# ----------------------------------------------------------------------------- the command

#: tells it is ready on fd argv[2], waits for the go byte on fd argv[1], then becomes the command
#: (same pid) with one execv; exits 125 if never told to go
_TRAMPOLINE = (
    "import os, sys, json\n"
    "go_fd, ready_fd = int(sys.argv[1]), int(sys.argv[2])\n"
    "argv = json.loads(sys.argv[3])\n"
    "os.write(ready_fd, b'r')\n"
    "os.close(ready_fd)\n"
    "go = os.read(go_fd, 1)\n"
    "os.close(go_fd)\n"
    "if not go: os._exit(125)\n"
    "os.execv(argv[0], argv)\n"
)


class PausedCommand:
    """``-c CMD``: started at once but held before running ``CMD`` until :meth:`release`.

    A small trampoline waits on a pipe, then execs the command (split like a shell would split
    it, but not run through a shell, as bpftrace does) in the same process, so the pid known
    before release (``cpid``) is the command's.
    """

    def __init__(self, command: str) -> None:
        """Start ``command`` (``"ls -l /"``; quotes group words) held before it runs."""
        import json  # -c only: a trace without it does not pay for these imports at start-up
        import shlex
        import shutil
        import subprocess

        argv = shlex.split(command)
        if not argv:
            raise TraceRuntimeError("-c needs a command to run")
        path = shutil.which(argv[0])
        if path is None:
            raise TraceRuntimeError(f"-c {argv[0]}: command not found (give a path, or put it on PATH)")
        r, self._w = os.pipe()
        ready_r, ready_w = os.pipe()
        try:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-S", "-c", _TRAMPOLINE, str(r), str(ready_w), json.dumps([path, *argv[1:]])],
                pass_fds=(r, ready_w))
        finally:
            os.close(r)
            os.close(ready_w)
        # wait until its own start-up (which opens files, maps libraries...) is over, so that
        # probes attached from now on see only the command
        with os.fdopen(ready_r, "rb") as ready:
            ready.read(1)
        self.pid = self.proc.pid
        self.path = path  # the binary it becomes (uprobes set before release name it)
        self.released = False

    def release(self) -> None:
        """Let the command run."""
        if not self.released:
            self.released = True
            os.write(self._w, b"go\n")
            os.close(self._w)

    def running(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop it: killed if never released (tracing failed), terminated if still running."""
        if not self.released:
            self.released = True
            os.close(self._w)
            self.proc.kill()
        elif self.running():
            self.proc.terminate()
        self.proc.wait()


@contextlib.contextmanager
def _sigint_flag() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) while the loop runs; the previous handler comes back."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Session:
    """One run of a compiled script; :meth:`run` returns the exit status.

    ``child`` is the ``-c`` command, already started paused (its pid was compiled in as ``cpid``);
    the session releases it once every probe is attached and stops when it exits.
    """

    def __init__(self, script: CompiledScript, printer: Printer, options: SessionOptions | None = None, *,
                 child: PausedCommand | None = None, symbolizer: Symbolizer | None = None,
                 loader: Callable[[Any], Any] | None = None) -> None:
        self.script = script
        self.printer = printer
        self.options = options or SessionOptions()
        self.child = child
        self.decoder = Decoder(symbolizer or Symbolizer(), [p.name for p in script.probes])
        self._loader = loader
        self._live: dict[str, LiveMap] = {}
        self._stacks: dict[str, Any] = {}
        self._lost_map: LiveMap | None = None
        #: watchpoints set by watchpoint:FUNC+argN as addresses arrive, by (probe index, address)
        self._watched: dict[tuple[int, int], Any] = {}

    # -- maps ---------------------------------------------------------------------------

    def _binding(self, name: str) -> Any:
        try:
            return self.script.maps[name]
        except KeyError:
            raise TraceRuntimeError(f"map {name} is not in the compiled script") from None

    def _stack(self, stack_map: str, t: Any, stack_id: int) -> list[int]:
        try:
            return list(self._stacks[stack_map].stack(stack_id))
        except BPFError as exc:
            log.debug("stack %d of %s: %s", stack_id, stack_map, exc)
            return []

    def snapshot(self, name: str) -> MapData:
        """The current contents of bpftrace map ``name``."""
        return read_map(self._binding(name), self._live[name].raw_items(), self.decoder, stacks=self._stack)

    def _clear(self, name: str) -> None:
        self._binding(name)
        self._live[name].delete_all()

    def _zero(self, name: str) -> None:
        self._binding(name)
        self._live[name].zero_all()

    # -- run ----------------------------------------------------------------------------

    def run(self, adopted: Adopted | None = None) -> int:
        """Run to the end; maps are printed on every way out (exit, Ctrl-C, command exit).

        ``adopted``: what a lean start (:mod:`pybpf.trace.quick`) loaded and attached, BEGIN
        already run; the run goes on from there.
        """
        if adopted is not None:
            with adopted.collection as coll:
                return self._run(coll, adopted, None)
        import pybpf

        load = self._loader or pybpf.load
        if self.options.record_launch is None:
            with load(self.script.object_spec) as coll:
                return self._run(coll, None, None)
        from ... import _sys
        from ..._sys.record import Recorder
        from ...tracefs import tracepoint_name

        recorder = Recorder(_sys.current(), tracepoint_name=tracepoint_name, pmu_name=_replayed_pmu)
        with _sys.override(recorder), load(self.script.object_spec) as coll:
            return self._run(coll, None, recorder)

    def _run(self, coll: Any, adopted: Adopted | None, recorder: Recorder | None) -> int:
        from ...events import RingBuffer

        if adopted is None:
            with recorder.dynamic("monotonic_ns") if recorder is not None else contextlib.nullcontext():
                self.script.prepare(coll)
        for name, b in self.script.maps.items():
            self._live[name] = LiveMap(coll.maps[b.bpf_name], percpu=b.percpu)
        for name in getattr(self.script, "stack_maps", {}):
            from ...stacks import StackTraceMap  # only scripts with stacks pay for the import

            self._stacks[name] = StackTraceMap(coll.maps[name])
        lost_map = getattr(self.script, "lost_map", "")  # per-CPU u64: ring buffer reserve failures
        if lost_map:
            self._lost_map = LiveMap(coll.maps[lost_map], percpu=True)
        handler = EventHandler(self.script.events, self.printer, self.decoder, self.snapshot,
                               self._clear, self._zero, watch=lambda ev, args: self._watch(coll, ev, args),
                               unwatch=self._unwatch)
        reader = (RingBuffer(coll.maps[self.script.ringbuf_map], handler.batch, batch=True)
                  if self.script.ringbuf_map else None)
        try:
            return self._loop(coll, handler, reader, adopted, recorder)
        finally:
            if reader is not None:
                reader.close()

    def _lost(self, reader: Any) -> int:
        """Records dropped so far: the reader's count plus the script's per-CPU lost counter."""
        n = reader.lost if reader is not None else 0
        if self._lost_map is not None:
            n += sum(int.from_bytes(v[:8], "little") for _, cpus in self._lost_map.raw_items() for v in cpus)
        return n

    def _report_lost(self, reader: Any, seen_lost: list[int]) -> None:
        lost = self._lost(reader)
        if lost > seen_lost[0]:
            self.printer.lost(lost - seen_lost[0])
            seen_lost[0] = lost
        self.printer.flush()

    def _drain(self, reader: Any, seen_lost: list[int]) -> None:
        if reader is not None:
            reader.consume()
        self._report_lost(reader, seen_lost)

    def _calm_read(self, coll: Any) -> int:
        """Reads of fewer records than this are followed by ``batch_wait``: as many more of the
        largest records arriving during the wait fill at most a quarter of the ring buffer
        (a faster producer is read without waiting, so the wait never makes the ring overflow)."""
        if not self.options.batch_wait or not self.script.ringbuf_map:
            return 0
        from ...events.ringbuf import record_span

        largest = record_span(max((ev.size for ev in self.script.events), default=8))
        return int(coll.maps[self.script.ringbuf_map].max_entries) // (4 * largest)

    def _attach_watchpoint(self, coll: Any, probe: ProbeAttach) -> Any:
        """An address watchpoint (in the traced process, or the kernel without one); for
        FUNC+argN, the uprobe on FUNC that reports the address to watch."""
        from ... import link
        pid = self._target_pid()
        if not probe.watch_setup_program:
            return _watchpoint(coll.programs[probe.program_name], probe.attach_point, pid)
        if pid is None:
            raise TraceRuntimeError(f"{probe.name} watches an address of a process: give -p PID or -c CMD")
        binary = self.child.path if self.child is not None and self.options.pid is None else f"/proc/{pid}/exe"
        return link.uprobe(coll.programs[probe.watch_setup_program], binary, probe.func, pid=pid)

    def _target_pid(self) -> int | None:
        """The traced process: -p PID, or the command of -c."""
        if self.options.pid is not None:
            return self.options.pid
        return self.child.pid if self.child is not None else None

    def _watch(self, coll: Any, ev: EventLayout, args: list[Any]) -> None:
        """watchpoint:FUNC+argN was called with ``args[0]`` in argN: watch that address (once per
        probe and address), then continue the process the synchronous form stopped."""
        probe = next(p for p in self.script.probes if p.attach_point.node_id == ev.node_id)
        address, pid = int(args[0]), self._target_pid()
        try:
            if (probe.index, address) not in self._watched:
                self._watched[(probe.index, address)] = None  # also when setting it fails: not retried
                self._watched[(probe.index, address)] = _watchpoint(coll.programs[probe.program_name],
                                                                    probe.attach_point, pid, address)
        except OSError as e:
            if e.errno != errno.ESRCH:
                raise
            log.debug("%s: the process exited before its watchpoint was set", probe.name)  # asyncwatchpoint
        finally:
            if probe.kind is P.WATCHPOINT and pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def _unwatch(self, address: int) -> None:
        """``unwatch(addr)``: remove the watchpoints set at ``address`` (a later call of the
        function with that address sets it again)."""
        for key in [k for k in self._watched if k[1] == address]:
            ln = self._watched.pop(key)
            if ln is not None:
                ln.close()

    def _continue_stopped(self) -> None:
        """A synchronous watchpoint:FUNC+argN stops the process at each call until its WATCH
        record is handled; records left unhandled (after exit(), at Ctrl-C) must not leave it stopped."""
        pid = self._target_pid()
        if pid is not None and any(p.watch_setup_program and p.kind is P.WATCHPOINT for p in self.script.probes):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def _stop(self) -> bool:
        if self.child is not None and not self.child.running():
            return True
        return self.options.pid is not None and not pid_alive(self.options.pid)

    def _attach(self, coll: Any, links: list[Any], recorder: Recorder | None) -> None:
        """Print "Attaching N probes...", attach every probe (into ``links``), run BEGIN."""
        attachers = _attachers()
        if recorder is not None:
            recorder.mark("attaching")
        self.printer.attached(len(self.script.probes))
        for probe in self.script.probes:
            if probe.kind in (P.BEGIN, P.END):
                continue
            attach = attachers.get(probe.kind)
            if attach is None:
                raise TraceRuntimeError(f"{probe.kind} probes cannot be attached by pybpf trace")
            if probe.kind in _WATCHPOINTS:
                links.append(self._attach_watchpoint(coll, probe))
                continue
            links.append(attach(coll.programs[probe.program_name], probe.attach_point, self.options.pid))
        for probe in self.script.begin:
            run_special(coll.programs[probe.program_name])
        if recorder is not None and self.options.record_launch is not None:
            recorder.stop()
            from .startup import launch_record

            self.options.record_launch(launch_record(recorder, coll, links, self.script, len(self.script.probes)))

    def _loop(self, coll: Any, handler: EventHandler, reader: Any, adopted: Adopted | None = None,
              recorder: Recorder | None = None) -> int:
        lost = [0]
        links: list[Any] = []
        # Ctrl-C is taken from here on: BEGIN may already print what a user reacts to
        with _sigint_flag() as interrupted:
            try:
                if adopted is None:
                    self._attach(coll, links, recorder)
                else:
                    links = list(adopted.links)
                    if adopted.interrupted():  # Ctrl-C came before this loop's handler was set
                        interrupted.set()
                self._drain(reader, lost)
                if _run_iterators(links, lambda: self._drain(reader, lost)):
                    handler.exit_requested = True
                if not handler.exit_requested and self.child is not None:
                    self.child.release()
                interval, batch_wait = self.options.poll_interval, self.options.batch_wait
                calm = self._calm_read(coll)
                next_check = 0.0
                while not (handler.exit_requested or interrupted.is_set()):
                    # lost records and the traced process are checked once per interval, not at
                    # every wakeup: a busy trace wakes up thousands of times a second
                    now = time.monotonic()
                    if now >= next_check:
                        next_check = now + interval
                        self._report_lost(reader, lost)
                        if self._stop():
                            break
                    if reader is not None:
                        # hands the records to the handler, which prints and flushes them
                        if 0 < reader.poll(interval) < calm:
                            time.sleep(batch_wait)
                    else:
                        interrupted.wait(interval)
            finally:
                for ln in links + [w for w in self._watched.values() if w is not None]:
                    ln.close()
                self._continue_stopped()
            self._drain(reader, lost)  # what probes sent before they were detached (dropped after exit())
            handler.exit_requested = False
            for probe in self.script.end:
                run_special(coll.programs[probe.program_name])
            self._drain(reader, lost)
            self.printer.exit_maps([self.snapshot(n) for n in sorted(self.script.maps)])
            self.printer.flush()
        return 0


def format_probe_names(probes: Sequence[ProbeAttach]) -> list[str]:
    """The canonical names of the probes (what the ``probe`` builtin prints)."""
    return [p.name for p in probes]
