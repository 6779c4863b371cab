"""trace_pipe reader: the ``bpf_printk()`` / ``bpf_trace_printk()`` output of BPF programs.

``/sys/kernel/tracing/trace_pipe`` (tracefs is mounted when it is missing) is one stream for
the whole system: reading a line consumes it for every other reader, and the lines of all
programs (and of other tracers) are mixed. Filter by pid or by a message of your own.

A line looks like::

    python3-4242    [001] d..31  5210.118221: bpf_trace_printk: hello 42

(an optional ``(  tgid)`` column follows the pid when the ``record-tgid`` option is on). It
becomes ``TraceEvent(task="python3", pid=4242, cpu=1, flags="d..31", timestamp=5210.118221,
message="hello 42", event="bpf_trace_printk")``. The kernel reports its own losses with
``CPU:1 [LOST 12 EVENTS]`` lines: they are added to :attr:`TracePipe.lost`.

>>> with TracePipe() as tp:  # doctest: +SKIP
...     for ev in tp:
...         print(ev.pid, ev.message)
"""

from __future__ import annotations

import errno
import logging
import os
import re
import select
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from .. import tracefs
from .._lifetime import Finalized
from .errors import EventsError

log = logging.getLogger("pybpf.events")

_LINE = re.compile(
    r"^\s*(?P<task>.+)-(?P<pid>\d+)\s+(?:\(\s*(?P<tgid>[-\d]+)\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s\[\]]{4,6})\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>[^:\s]+):\s?(?P<msg>.*)$"
)
_LOST = re.compile(r"^CPU:(?P<cpu>\d+) \[LOST (?P<count>\d+) EVENTS\]")


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One trace_pipe line."""

    task: str
    pid: int
    cpu: int
    flags: str
    timestamp: float
    message: str
    #: the trace event that wrote the line (``bpf_trace_printk`` for bpf_printk)
    event: str = "bpf_trace_printk"

    def fields(self) -> tuple[str, int, int, str, float, str]:
        """``(task, pid, cpu, flags, timestamp, message)``: the shape of bcc's ``trace_fields()``."""
        return (self.task, self.pid, self.cpu, self.flags, self.timestamp, self.message)


def parse_trace_line(line: str) -> TraceEvent | None:
    """Parse one trace_pipe line; None when it is not a trace event line (e.g. a LOST notice)."""
    m = _LINE.match(line.rstrip("\n"))
    if m is None:
        return None
    return TraceEvent(
        task=m["task"].strip(), pid=int(m["pid"]), cpu=int(m["cpu"]), flags=m["flags"] or "",
        timestamp=float(m["ts"]), message=m["msg"], event=m["event"],
    )


def trace_fields(line: str) -> tuple[str, int, int, str, float, str]:
    """bcc's ``trace_fields()`` tuple ``(task, pid, cpu, flags, ts, msg)`` of one line;
    a line that is not an event comes back whole as ``msg`` with pid -1."""
    ev = parse_trace_line(line)
    return ev.fields() if ev is not None else ("", -1, -1, "", 0.0, line.rstrip("\n"))


def _close_fd(fd: int) -> None:
    os.close(fd)


class TracePipe(Finalized):
    """Reads ``trace_pipe``. Iterate for events as they come (blocking), :meth:`poll` for what
    is there now, ``async for`` in asyncio. Owns its fd (context manager, closes once).

    Lines that are not events are kept as events with ``event=""`` and the whole line as the
    message (nothing is dropped); ``[LOST n EVENTS]`` notices count into :attr:`lost`.
    """

    def __init__(self, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else tracefs.root() / "trace_pipe"
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise EventsError(f"cannot open {self.path}: {exc.strerror}; reading it needs root") from exc
        self._finalizer = weakref.finalize(self, _close_fd, self._fd)
        self._partial = b""
        self._ready: deque[TraceEvent] = deque()
        #: events the kernel reported as lost (trace buffer overruns)
        self.lost = 0

    def fileno(self) -> int:
        if not self._finalizer.alive:
            raise EventsError("TracePipe is closed; open a new one")
        return self._fd

    def _read_available(self) -> None:
        fd = self.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise EventsError(f"reading {self.path}: {exc.strerror}") from exc
            if not chunk:
                break
            data = self._partial + chunk
            *lines, self._partial = data.split(b"\n")
            for raw in lines:
                self._take(raw.decode("utf-8", "replace"))

    def _take(self, line: str) -> None:
        if not line.strip():
            return
        lost = _LOST.match(line)
        if lost is not None:
            self.lost += int(lost["count"])
            log.warning("trace_pipe: CPU %s lost %s events", lost["cpu"], lost["count"])
            return
        ev = parse_trace_line(line)
        self._ready.append(ev if ev is not None else TraceEvent("", -1, -1, "", 0.0, line, event=""))

    def _wait(self, timeout: float | None) -> bool:
        p = select.poll()
        p.register(self.fileno(), select.POLLIN)
        return bool(p.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def poll(self, timeout: float = 0.0) -> list[TraceEvent]:
        """Events available within ``timeout`` seconds (0: only what is there now)."""
        if not self._ready and timeout:
            self._wait(timeout)
        self._read_available()
        out = list(self._ready)
        self._ready.clear()
        return out

    def next_event(self, timeout: float | None = None) -> TraceEvent | None:
        """The next event, waiting up to ``timeout`` seconds (None: forever); None on timeout."""
        while not self._ready:
            self._read_available()
            if self._ready:
                break
            if not self._wait(timeout) and timeout is not None:
                self._read_available()
                break
        return self._ready.popleft() if self._ready else None

    def trace_fields(self, *, nonblocking: bool = False) -> tuple[str, int, int, str, float, str] | None:
        """The next event as bcc's ``(task, pid, cpu, flags, ts, msg)``; None when
        ``nonblocking`` and nothing is there."""
        ev = self.next_event(0 if nonblocking else None)
        return ev.fields() if ev is not None else None

    def __iter__(self) -> Iterator[TraceEvent]:
        """Events as they come (blocks; stop by breaking out)."""
        while True:
            ev = self.next_event()
            if ev is not None:
                yield ev

    def __aiter__(self) -> AsyncIterator[TraceEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[TraceEvent]:
        import asyncio  # already imported by whoever runs the loop

        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        fd = self.fileno()
        loop.add_reader(fd, ready.set)
        try:
            while True:
                ready.clear()
                self._read_available()
                if not self._ready:
                    await ready.wait()
                    continue
                while self._ready:
                    yield self._ready.popleft()
        finally:
            if not loop.is_closed():
                loop.remove_reader(fd)



__all__ = ["TraceEvent", "TracePipe", "parse_trace_line", "trace_fields"]
