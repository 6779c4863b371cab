"""``FD``: ownership of one kernel file descriptor (bpf object, perf event, ...)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Protocol, Union

from .._log import get_logger
from ..errors import BPFError

if TYPE_CHECKING:
    from types import TracebackType

    from .syscall import Syscalls

log = get_logger("pybpf._sys")


class HasFileno(Protocol):
    """Anything with ``fileno()`` (an :class:`FD`, a socket, a file)."""

    def fileno(self) -> int: ...


#: What the command wrappers accept where the kernel wants an fd.
FdLike = Union[int, HasFileno]


class ClosedFDError(BPFError, ValueError):
    """An :class:`FD` was used after it was closed."""


def _close_quietly(syscalls: Syscalls, fd: int, what: str) -> None:
    try:
        syscalls.close(fd)
    except OSError as exc:  # close() failing means the fd was already gone: nothing to do
        log.debug("closing %s fd %d: %s", what, fd, exc)


class FD:
    """Owns one file descriptor: closes it exactly once.

    ``close()`` or leaving a ``with`` block closes it; if neither happens, garbage collection
    closes it (``weakref.finalize`` backstop). ``fileno()`` gives the number for syscalls.

    >>> with map_create(MapType.ARRAY, 4, 8, 1) as fd:  # doctest: +SKIP
    ...     fd.fileno()
    """

    __slots__ = ("_fd", "_finalizer", "_syscalls", "kind", "__weakref__")

    def __init__(self, fd: int, *, kind: str = "fd", syscalls: Syscalls | None = None) -> None:
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        if syscalls is None:
            from .syscall import current

            syscalls = current()
        self._fd = fd
        self._syscalls = syscalls
        self.kind = kind
        self._finalizer = weakref.finalize(self, _close_quietly, syscalls, fd, kind)

    def fileno(self) -> int:
        """The descriptor number; :class:`ClosedFDError` once closed."""
        if not self._finalizer.alive:
            raise ClosedFDError(f"{self.kind} fd {self._fd} is closed; reopen the object to use it")
        return self._fd

    @property
    def closed(self) -> bool:
        """True once :meth:`close` (or :meth:`release`) has run."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Close the descriptor; later calls do nothing."""
        self._finalizer()

    def release(self) -> int:
        """Give up ownership and return the raw number; the caller must close it."""
        fd = self.fileno()
        self._finalizer.detach()
        return fd

    def dup(self) -> FD:
        """A new :class:`FD` (close-on-exec) for the same open object."""
        return FD(self._syscalls.dup(self.fileno()), kind=self.kind, syscalls=self._syscalls)

    def __enter__(self) -> FD:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else str(self._fd)
        return f"<FD {self.kind} {state}>"


def fdno(obj: FdLike) -> int:
    """The number of ``obj`` (an int, or anything with ``fileno()``)."""
    return obj if isinstance(obj, int) else obj.fileno()
