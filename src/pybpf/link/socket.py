"""Socket programs on one socket: filters (``SO_ATTACH_BPF``) and reuseport selection.

``socket_filter(prog, sock)`` runs a SOCKET_FILTER program on each packet queued to ``sock``
(a Python :class:`socket.socket` or anything with ``fileno()``): a return value of 0 drops
the packet, ``n`` > 0 keeps its first ``n`` bytes. ``reuseport(prog, sock)`` lets an
SK_REUSEPORT (or SOCKET_FILTER) program pick the socket of a ``SO_REUSEPORT`` group.

These attachments belong to the socket, not to a BPF link: they go away when the socket is
closed (or its process dies); closing the :class:`Link` detaches them earlier.
"""

from __future__ import annotations

import errno
import logging
import socket as _socket
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._sys import HasFileno
from ..errors import SyscallError
from .base import Link, LinkError

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")

#: ``SOL_SOCKET`` options (asm-generic/socket.h; x86_64, arm64, riscv64, loongarch64)
SO_DETACH_FILTER = 27
SO_ATTACH_BPF = 50
SO_ATTACH_REUSEPORT_EBPF = 52
SO_DETACH_REUSEPORT_BPF = 68


def _as_socket(sock: _socket.socket | HasFileno | int) -> tuple[_socket.socket, bool]:
    """A socket object for ``sock`` and whether we made it (a dup that we must close)."""
    if isinstance(sock, _socket.socket):
        return sock, False
    fd = sock if isinstance(sock, int) else sock.fileno()
    return _socket.socket(fileno=_socket.dup(fd)), True


def _setsockopt(sock: _socket.socket, option: int, value: int, what: str) -> None:
    try:
        sock.setsockopt(_socket.SOL_SOCKET, option, value)
    except OSError as exc:
        raise SyscallError(f"setsockopt({what})", exc.errno or errno.EINVAL,
                           f"socket fd {sock.fileno()}") from None


def _detacher(sock: _socket.socket, owned: bool, option: int, what: str) -> Callable[[], None]:
    """A cleanup that detaches from the socket if it is still open (holding it only weakly)."""
    ref = weakref.ref(sock) if not owned else None
    strong = sock if owned else None

    def detach() -> None:
        s = strong if strong is not None else (ref() if ref is not None else None)
        if s is None or s.fileno() < 0:
            return  # the socket is gone, and its filter with it
        try:
            s.setsockopt(_socket.SOL_SOCKET, option, 0)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # ENOENT: nothing attached any more
                raise SyscallError(f"setsockopt({what})", exc.errno or errno.EINVAL) from None
        finally:
            if owned:
                s.close()

    return detach


class SocketLink(Link):
    """A program attached to a socket by setsockopt; ``update`` re-attaches in place."""

    def __init__(self, sock: _socket.socket, owned: bool, option: int, name: str, *, program: Program,
                 cleanup: Callable[[], None], description: str) -> None:
        super().__init__(fd=None, program=program, description=description, cleanups=[cleanup])
        self._sock_ref = weakref.ref(sock) if not owned else (lambda: sock)
        self._option, self._option_name = option, name

    def update(self, prog: Program) -> None:
        """Attach ``prog`` in place of the current program (the kernel swaps it atomically)."""
        sock = self._sock_ref()
        if self.closed or sock is None or sock.fileno() < 0:
            raise LinkError(f"update(): {self.description} is detached or its socket is closed")
        _setsockopt(sock, self._option, prog.fd.fileno(), self._option_name)
        self.program = prog


def _attach(prog: Program, sock: _socket.socket | HasFileno | int, attach: int, detach: int,
            names: tuple[str, str], kind: str) -> Link:
    s, owned = _as_socket(sock)
    try:
        _setsockopt(s, attach, prog.fd.fileno(), names[0])
    except BaseException:
        if owned:
            s.close()
        raise
    return SocketLink(s, owned, attach, names[0], program=prog, cleanup=_detacher(s, owned, detach, names[1]),
                      description=f"{kind} on socket fd {s.fileno()}")


def socket_filter(prog: Program, sock: _socket.socket | HasFileno | int) -> Link:
    """Attach ``prog`` (SOCKET_FILTER) to ``sock`` with ``SO_ATTACH_BPF`` (kernel >= 3.19).

    The program sees each packet queued to the socket; returning 0 drops it. ``close()``
    detaches (``SO_DETACH_BPF``) if the socket is still open; ``update(new)`` attaches ``new``
    in its place (a socket has one filter, so the old one is replaced atomically).

        >>> import socket                                            # doctest: +SKIP
        >>> from pybpf import link
        >>> s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        >>> with pybpf.load("filter.bpf.o") as obj, link.socket_filter(obj.programs["drop_all"], s):
        ...     ...
    """
    return _attach(prog, sock, SO_ATTACH_BPF, SO_DETACH_FILTER, ("SO_ATTACH_BPF", "SO_DETACH_BPF"), "socket filter")


def reuseport(prog: Program, sock: _socket.socket | HasFileno | int) -> Link:
    """Attach ``prog`` to the ``SO_REUSEPORT`` group of ``sock`` (``SO_ATTACH_REUSEPORT_EBPF``,
    kernel >= 4.5; SK_REUSEPORT programs >= 4.19; detached with SO_DETACH_REUSEPORT_BPF, >= 5.3).

    A SOCKET_FILTER program returns the index of the socket in the group; an SK_REUSEPORT
    program selects one with ``bpf_sk_select_reuseport``.

        >>> s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # doctest: +SKIP
        >>> s.bind(("127.0.0.1", 5353))
        >>> lk = link.reuseport(obj.programs["pick"], s)
    """
    return _attach(prog, sock, SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_REUSEPORT_BPF,
                   ("SO_ATTACH_REUSEPORT_EBPF", "SO_DETACH_REUSEPORT_BPF"), "reuseport program")


__all__ = ["SocketLink", "reuseport", "socket_filter"]
