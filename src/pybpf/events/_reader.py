"""What the ring buffer and perf buffer readers share: epoll over their sources, poll/consume,
asyncio iteration, and closing once.

A *source* is one mmap'ed ring (one ring buffer map, or one CPU's perf ring). It drains
records into a *sink* (a callable taking one record); the reader decides where the sink
goes: the user's callback (:meth:`EpollReader.poll`, :meth:`EpollReader.consume`) or a queue
feeding ``async for``.
"""

from __future__ import annotations

import select
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from .._lifetime import Finalized
from .._log import get_logger
from .errors import EventsError

log = get_logger("pybpf.events")

#: a sink takes one record (bytes, or a numpy record when a record type is set)
Sink = Callable[[Any], object]


class Source(Protocol):
    """One mmap'ed ring that a reader polls."""

    def fileno(self) -> int: ...

    def drain(self, sink: Sink | None, limit: int) -> int: ...

    def close(self) -> None: ...

    @property
    def lost(self) -> int: ...


def _close_all(epoll: select.epoll, sources: list[Source]) -> None:
    for src in sources:
        src.close()
    epoll.close()


#: consume() stops after this many records per source, so a producer that never pauses
#: cannot keep one call running forever
DEFAULT_LIMIT = 1 << 30


class EpollReader(Finalized):
    """Base of :class:`~pybpf.events.RingBuffer` and :class:`~pybpf.events.PerfBuffer`."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._sources: list[Source] = []
        self._by_fd: dict[int, Source] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._epoll, self._sources)

    # ---- sources -------------------------------------------------------------------------

    def _register(self, src: Source) -> None:
        self._check_open()
        fd = src.fileno()
        self._epoll.register(fd, select.EPOLLIN)
        self._sources.append(src)
        self._by_fd[fd] = src

    def _sink_of(self, src: Source) -> Sink | None:
        """The sink of ``src`` for poll()/consume() (its callback); None means no callback."""
        raise NotImplementedError

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise EventsError(f"{type(self).__name__} is closed; create a new reader")

    def _need_sink(self, src: Source) -> Sink:
        sink = self._sink_of(src)
        if sink is None:
            raise EventsError(
                f"{type(self).__name__}: no callback for {src!r}; pass callback=..., or read with "
                "read_batch() or `async for`"
            )
        return sink

    # ---- reading -------------------------------------------------------------------------

    def fileno(self) -> int:
        """The epoll fd: readable when any source has data (for select/selectors/asyncio)."""
        self._check_open()
        return self._epoll.fileno()

    @property
    def lost(self) -> int:
        """Records lost before they reached this reader (sum over the sources)."""
        return sum(src.lost for src in self._sources)

    def poll(self, timeout: float | None = None) -> int:
        """Wait up to ``timeout`` seconds (None: forever) for data, then hand every available
        record to the callbacks. Returns the number of records delivered (0 on timeout)."""
        self._check_open()
        try:
            ready = self._epoll.poll(-1 if timeout is None else timeout)
        except InterruptedError:
            return 0
        count = 0
        for fd, _events in ready:
            src = self._by_fd[fd]
            count += src.drain(self._need_sink(src), DEFAULT_LIMIT)
        return count

    def consume(self, *, limit: int = DEFAULT_LIMIT) -> int:
        """Hand every available record of every source to the callbacks without waiting.
        Returns the number of records delivered."""
        self._check_open()
        return sum(src.drain(self._need_sink(src), limit) for src in self._sources)

    def __aiter__(self) -> AsyncIterator[Any]:
        """``async for record in reader``: records as they arrive (callbacks are bypassed)."""
        return self._records()

    async def _records(self) -> AsyncIterator[Any]:
        pending: deque[Any] = deque()

        def take() -> bool:
            for src in self._sources:
                src.drain(pending.append, DEFAULT_LIMIT)
            return bool(pending)

        async for _ in self._when_ready(take):
            while pending:
                yield pending.popleft()

    async def _when_ready(self, take: Callable[[], bool]) -> AsyncIterator[None]:
        """Yield each time ``take()`` (which reads what is there) found something; between
        times, wait in the running asyncio loop for the epoll fd to become readable."""
        import asyncio  # already imported by whoever runs the loop

        self._check_open()
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        fd = self._epoll.fileno()
        loop.add_reader(fd, ready.set)
        try:
            while True:
                ready.clear()  # clear first: data arriving after take() sets it again (level-triggered)
                if take():
                    yield None
                    continue
                await ready.wait()
                self._epoll.poll(0)  # drops stale entries from our epoll's ready list (else it stays readable)
        finally:
            if not loop.is_closed():
                loop.remove_reader(fd)

    # ---- lifetime ------------------------------------------------------------------------

