"""The lean start of a cached ``pybpf trace``: attached, and the first events out, before the runtime is imported.

A run of a program that is in the trace cache (:mod:`pybpf.trace.cache`) used to spend most of
its start-up importing pybpf's loader, runtime and their types (tens of milliseconds of class
creation) before the first bpf() call. The first run of a program records its load and attach
(:mod:`pybpf.trace.runtime.startup`); every later launch, here:

1. computes the cache key and reads the entry (:meth:`TraceCache.read_entry`, no decoding);
2. replays the recorded load and attach with ctypes (:mod:`pybpf._sys.replay`), printing
   "Attaching N probes..." at its mark; BEGIN runs as recorded;
3. reads the ring buffer and prints printf events by their recipes (one unpack, one %-format:
   :func:`pybpf.trace.runtime.render.printf_recipe`) until it has printed a first batch, a
   record of another kind is next, Ctrl-C comes, or :data:`LEAN_WINDOW` has passed;
4. hands over: the runtime is imported and adopts the collection, links and ring buffer
   position (:func:`pybpf.trace.runtime.startup.adopt`) and runs the trace to its end.

This module imports only the standard library's cheap modules at start-up (no typing, enum,
dataclasses, re). What it does not handle (``-c``, ``-p``, ``-f json``, ``-o``, kprobes,
watchpoints, iterators, an entry without a launch record) goes the ordinary way, as does any
failure before the hand-over: everything replayed is closed again and the ordinary launch
reports the error with its full explanation.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .._sys.replay import Replayed

#: how long the lean start prints events by itself at most before handing over, in seconds
LEAN_WINDOW = 0.05
#: ring buffer record header bits (``BPF_RINGBUF_BUSY_BIT``, ``BPF_RINGBUF_DISCARD_BIT``)
_BUSY, _DISCARD = 1 << 31, 1 << 30
_HEADER = 8
#: the launch record layout read here (pybpf.trace.runtime.startup.LAUNCH_FORMAT)
LAUNCH_FORMAT = 1


class Declined:
    """Why a launch did not start the lean way, for the ordinary start: ``attaching_printed``
    (the replay failed after printing the Attaching line: not printed again), ``stale`` (the
    entry's launch record did not replay: this run records a new one) and the cache ``key``
    when it was computed (the ordinary start does not compute it again)."""

    __slots__ = ("attaching_printed", "stale", "key")

    def __init__(self, *, attaching_printed: bool = False, stale: bool = False, key: str | None = None) -> None:
        self.attaching_printed = attaching_printed
        self.stale = stale
        self.key = key


#: a launch that never tried the lean start
NOT_TRIED = Declined()


def replayable(args: Any) -> bool:
    """Whether a launch with these arguments starts the lean way (and so is worth recording)."""
    return (args.format == "text" and args.output is None and args.command is None and args.pid is None
            and not args.emit_obj and not args.dry_run and not args.list)


def _renderer(recipe: Any) -> Callable[[bytes], str]:
    import struct

    fmt, pyfmt, strings = recipe
    unpack = struct.Struct(fmt).unpack_from
    if not strings:
        return lambda raw: pyfmt % unpack(raw)

    def render(raw: bytes) -> str:
        values = list(unpack(raw))
        for i in strings:
            values[i] = values[i].partition(b"\0")[0].decode("utf-8", "surrogateescape")
        return pyfmt % tuple(values)  # type: ignore[no-any-return]
    return render


class StartupRing:
    """The consumer side of a BPF ring buffer, for the lean start: takes printf records in order
    and stops before the first record it has no renderer for (the runtime's reader goes on
    from there: the consumer position is the kernel's)."""

    def __init__(self, fd: int, size: int, renderers: dict[bytes, Callable[[bytes], str]]) -> None:
        import mmap
        import select

        self._page = mmap.PAGESIZE
        self._mask = size - 1
        self._consumer = mmap.mmap(fd, self._page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            self._producer = mmap.mmap(fd, self._page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=self._page)
        except BaseException:
            self._consumer.close()
            raise
        self._poller = select.epoll()
        self._poller.register(fd, select.EPOLLIN)
        self._renderers = renderers
        #: a record with no renderer is next: the runtime must take over
        self.blocked = False

    def wait(self, timeout: float) -> None:
        self._poller.poll(timeout)

    def take(self) -> list[str]:
        """The texts of the printf records ready now (the consumer position moves past them)."""
        cons = int.from_bytes(self._consumer[:8], "little")
        prod = int.from_bytes(self._producer[:8], "little")
        data, base, texts = self._producer, self._page, []
        while cons < prod:
            at = base + (cons & self._mask)
            header = int.from_bytes(data[at:at + 4], "little")
            if header & _BUSY:
                break
            length = header & ~(_BUSY | _DISCARD)
            if not header & _DISCARD:
                raw = data[at + _HEADER:at + _HEADER + length]
                render = self._renderers.get(raw[:8])
                if render is None:  # another kind of record: the runtime's
                    self.blocked = True
                    break
                try:
                    texts.append(render(raw))
                except Exception:  # noqa: BLE001 - a record the runtime reports (too short...)
                    self.blocked = True
                    break
            cons += (length + _HEADER + 7) & ~7
        self._consumer[:8] = cons.to_bytes(8, "little")
        return texts

    def close(self) -> None:
        self._poller.close()
        self._producer.close()
        self._consumer.close()


def launch(args: Any) -> int | Declined:
    """Run the trace ``args`` describe the lean way: its exit status, or :class:`Declined` when
    it cannot start so (all it made is closed: the caller launches it the ordinary way)."""
    from . import cache as trace_cache

    if not replayable(args) or not trace_cache.enabled(args.no_cache):
        return NOT_TRIED
    from ..cli.trace import program_source
    from ..errors import BPFError

    try:
        text, filename, params = program_source(args)
    except BPFError:  # no program, an unreadable script: the ordinary launch says so
        return NOT_TRIED
    cache = trace_cache.TraceCache()
    key = trace_cache.cache_key(text, filename, params, unsafe=args.unsafe)
    entry = cache.read_entry(key)
    if entry is None or entry[5] is None:
        return Declined(key=key)
    record = entry[5]
    if not isinstance(record, dict) or record.get("format") != LAUNCH_FORMAT:
        return Declined(stale=True, key=key)
    if "unusable" in record:  # the first run found its start cannot be replayed
        return Declined(key=key)
    import _signal  # type: ignore[import-not-found]  # signal's enums cost ~3 ms; _signal is what it wraps

    interrupted: list[int] = []
    # Ctrl-C from here on ends the trace as it does in the runtime (END runs, maps are printed);
    # the runtime's handler takes over from this one and reads what it caught
    previous = _signal.signal(_signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    replayed, printed = _start(record, quiet=args.quiet)
    if replayed is None:
        _signal.signal(_signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt
        return Declined(attaching_printed=printed, stale=True, key=key)
    if not interrupted:
        _first_events(record, replayed, interrupted)
    from ..cli.trace import run_adopted

    return run_adopted(args, cache, entry, record, replayed, interrupted=lambda: bool(interrupted))


def _start(record: dict[str, Any], *, quiet: bool) -> tuple[Replayed | None, bool]:
    """Replay the load and attach: (what it made, whether the Attaching line is out); None
    (everything it made closed) if it failed. The tracepoints are looked up first: one that is
    gone fails the lean start before anything is made or printed."""
    from .._sys.raw import RawSyscalls
    from .._sys.replay import ReplayError, replay

    root = record["tracefs"]
    probes = record["probes"]
    out = sys.stdout
    printed: list[str] = []
    ids: dict[tuple[str, str], int] = {}
    try:
        for step in record["steps"]:
            for patch in step[2] if step[0] == "perf" else ():
                if patch[1] == "tracepoint":
                    with open(os.path.join(root, "events", patch[2], patch[3], "id"), "rb") as f:
                        ids[(patch[2], patch[3])] = int(f.read())
    except (OSError, ValueError, IndexError, TypeError) as exc:
        _log_fallback(exc)
        return None, False

    def on_mark(name: str) -> None:
        if name == "attaching" and not quiet:
            out.write(f"Attaching {probes} probe{'' if probes == 1 else 's'}...\n")
            out.flush()
            printed.append(name)

    try:
        return replay(record["steps"], RawSyscalls(), tracepoint_id=lambda c, n: ids[(c, n)], on_mark=on_mark), False
    except (ReplayError, KeyError) as exc:
        _log_fallback(exc)
        return None, bool(printed)


def _log_fallback(exc: BaseException) -> None:
    from .._log import get_logger

    get_logger("pybpf.trace.quick").debug("lean start failed (%s); starting the ordinary way", exc)


def _first_events(record: dict[str, Any], replayed: Replayed, interrupted: list[int]) -> None:
    """Print printf events until a first batch is out, another kind of record is next, Ctrl-C
    (``interrupted`` filled by the handler) or :data:`LEAN_WINDOW` has passed."""
    import time

    ring = record["ringbuf"]
    fd = replayed.fds[ring[0]] if ring is not None else None
    if fd is None:
        return
    reader = StartupRing(fd, ring[1], {k: _renderer(v) for k, v in record["printf"].items()})
    out = sys.stdout
    try:
        deadline = time.monotonic() + LEAN_WINDOW
        while not interrupted:
            texts = reader.take()
            if texts:
                out.write("".join(texts))
                out.flush()
                return
            left = deadline - time.monotonic()
            if reader.blocked or left <= 0:
                return
            reader.wait(min(left, 0.01))
    finally:
        reader.close()
