"""sk_msg / sk_skb programs on a SOCKMAP or SOCKHASH: verdicts on the messages and the stream
data of every socket in the map (redirects between sockets, drops, parsing).

``sockmap(prog, map)`` uses a sockmap link (BPF_LINK_CREATE on the map fd, kernel >= 6.10),
detached when closed or when its process dies; older kernels get BPF_PROG_ATTACH to the map
(kernel >= 4.14 for sk_skb, 4.17 for sk_msg), which lasts as long as the map exists or until it
is detached (closing the :class:`Link` does that). Sockops programs that fill the map attach to
a cgroup: :func:`pybpf.link.cgroup` with ``AttachType.CGROUP_SOCK_OPS``.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from .. import _sys
from .._sys import HasFileno
from ..enums import AttachType, ProgramType
from ..errors import SyscallError
from ._attach_common import choose_attach_type, prog_detach_quietly
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")

#: attach types a SOCKMAP/SOCKHASH takes, with the program type each needs
SOCKMAP_ATTACH_TYPES: dict[AttachType, ProgramType] = {
    AttachType.SK_MSG_VERDICT: ProgramType.SK_MSG,
    AttachType.SK_SKB_STREAM_PARSER: ProgramType.SK_SKB,
    AttachType.SK_SKB_STREAM_VERDICT: ProgramType.SK_SKB,
    AttachType.SK_SKB_VERDICT: ProgramType.SK_SKB,
}

#: program types with one obvious attach type when the section does not say
_DEFAULT_BY_TYPE = {ProgramType.SK_MSG: AttachType.SK_MSG_VERDICT}

#: BPF_LINK_CREATE answers meaning "this kernel has no sockmap links": fall back to PROG_ATTACH
_NO_LINKS = (errno.EINVAL, errno.EOPNOTSUPP, _sys.ENOTSUPP)


def sockmap(prog: Program, sock_map: HasFileno, attach_type: AttachType | None = None, *,
            use_link: bool | None = None) -> Link:
    """Attach ``prog`` (SK_MSG or SK_SKB) to ``sock_map`` (a SOCKMAP or SOCKHASH :class:`~pybpf.Map`).

    ``attach_type`` defaults to the section's (``SEC("sk_msg")`` -> SK_MSG_VERDICT,
    ``SEC("sk_skb/stream_verdict")`` ...). A link needs kernel >= 6.10 (``use_link=None`` tries
    it and falls back to BPF_PROG_ATTACH).

        >>> from pybpf import link                                  # doctest: +SKIP
        >>> with pybpf.load("redir.bpf.o") as obj:
        ...     with link.sockmap(obj.programs["msg_verdict"], obj.maps["socks"]):
        ...         obj.maps["socks"][0] = sock.fileno()
    """
    at = choose_attach_type(prog, attach_type, SOCKMAP_ATTACH_TYPES, _DEFAULT_BY_TYPE, hook="sockmap",
                            example="link.sockmap(prog, map, AttachType.SK_SKB_STREAM_VERDICT)")
    description = f"{at.name.lower()} on map fd {sock_map.fileno()}"
    if use_link is not False:
        try:
            return Link(fd=_sys.link_create(prog.fd, sock_map.fileno(), at), program=prog, description=description)
        except SyscallError as exc:
            if use_link or exc.errno not in _NO_LINKS:
                raise
            log.debug("no sockmap link (%s); attaching with BPF_PROG_ATTACH", exc)
    _sys.prog_attach(sock_map.fileno(), prog.fd, at)
    map_fd = _sys.FD(_sys.current().dup(sock_map.fileno()), kind="map")
    own_prog = prog.fd.dup()
    return Link(fd=None, program=prog, description=description + " (prog_attach)",
                cleanups=[lambda: prog_detach_quietly(map_fd, at, own_prog, gone=(errno.ENOENT, errno.EINVAL),
                                                     what="sockmap")])




__all__ = ["SOCKMAP_ATTACH_TYPES", "sockmap"]
