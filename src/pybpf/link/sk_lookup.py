"""sk_lookup: choose the socket that receives a new connection or datagram in a network namespace.

An SK_LOOKUP program runs when the kernel looks up the listening (TCP) or receiving (UDP) socket
for an incoming packet; it can steer the packet to any socket held in a SOCKMAP/SOCKHASH with
``bpf_sk_assign`` -- e.g. one socket serving a whole port range. The link (BPF_LINK_CREATE on a
network namespace fd, kernel >= 5.9) is detached when closed or when its process dies.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from .. import _sys
from .._sys import HasFileno
from ..enums import AttachType
from ..errors import SyscallError
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

#: the calling thread's own network namespace
SELF_NETNS = "/proc/thread-self/ns/net"


def open_netns(netns: str | os.PathLike[str] | HasFileno | int | None) -> tuple[int, bool, str]:
    """``(fd, owned, description)`` for a network namespace given by path (``/run/netns/<name>``,
    ``/proc/<pid>/ns/net``), bare ``ip netns`` name, fd, or None (this thread's)."""
    if netns is None or isinstance(netns, (str, os.PathLike)):
        path = os.fspath(netns) if netns is not None else SELF_NETNS
        if netns is not None and os.sep not in path:
            path = f"/run/netns/{path}"  # a name made with `ip netns add`
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC), True, "netns" if netns is None else f"netns {path}"
        except OSError as exc:
            raise SyscallError("open netns", exc.errno or errno.ENOENT,
                               f"{path}: give /run/netns/<name>, /proc/<pid>/ns/net or an fd") from None
    fd = netns if isinstance(netns, int) else netns.fileno()
    return fd, False, f"netns fd {fd}"


def sk_lookup(prog: Program, netns: str | os.PathLike[str] | HasFileno | int | None = None) -> Link:
    """Attach ``prog`` (SK_LOOKUP) to a network namespace: this one by default (kernel >= 5.9).

    Several sk_lookup programs may be attached to one namespace; they run in attach order.
    ``update(new)`` swaps the program atomically.

        >>> from pybpf import link                                  # doctest: +SKIP
        >>> with pybpf.load("steer.bpf.o") as obj:
        ...     obj.maps["target"][0] = server_socket.fileno()
        ...     with link.sk_lookup(obj.programs["steer"]):
        ...         ...   # connections to the steered ports reach server_socket
    """
    fd, owned, where = open_netns(netns)
    try:
        return Link(fd=_sys.link_create(prog.fd, fd, AttachType.SK_LOOKUP), program=prog,
                    description=f"sk_lookup {where}")
    finally:
        if owned:
            os.close(fd)


__all__ = ["SELF_NETNS", "open_netns", "sk_lookup"]
