"""netfilter: run a NETFILTER program at a netfilter hook (kernel >= 6.4), like an nftables chain.

The program returns ``NF_DROP`` (0) or ``NF_ACCEPT`` (1). The link (BPF_LINK_CREATE with
BPF_NETFILTER) is detached when closed or when its process dies. Kernels without netfilter
links (CONFIG_NETFILTER_BPF_LINK) raise :class:`~pybpf.errors.NotSupportedError`.
"""

from __future__ import annotations

import errno
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING

from .. import _sys
from ..errors import NotSupportedError, SyscallError
from .base import Link

if TYPE_CHECKING:
    from ..program import Program


class NFProto(IntEnum):
    """Protocol families of netfilter hooks (``NFPROTO_*``) that BPF links support."""

    IPV4 = 2
    IPV6 = 10


class NFHook(IntEnum):
    """``enum nf_inet_hooks``."""

    PRE_ROUTING = 0
    LOCAL_IN = 1
    FORWARD = 2
    LOCAL_OUT = 3
    POST_ROUTING = 4


class NFLinkFlags(IntFlag):
    """``BPF_F_NETFILTER_*`` flags of the link."""

    NONE = 0
    IP_DEFRAG = 1 << 0  # reassemble fragments before the program runs (kernel >= 6.6)


#: the kernel refuses these priorities (NF_IP_PRI_FIRST / NF_IP_PRI_LAST are reserved)
_PRI_FIRST, _PRI_LAST = -(2**31), 2**31 - 1

#: errno -> why the kernel refused the link
_REFUSALS = {
    errno.EINVAL: "EINVAL: no netfilter links here (CONFIG_NETFILTER_BPF_LINK), or a bad hook/priority",
    errno.EOPNOTSUPP: "EOPNOTSUPP: this kernel does not support this netfilter hook",
    _sys.ENOTSUPP: "ENOTSUPP: netfilter links are not built into this kernel",
    errno.EAFNOSUPPORT: "EAFNOSUPPORT: the protocol family's netfilter module is not loaded",
}


def netfilter(
    prog: Program,
    *,
    pf: NFProto = NFProto.IPV4,
    hook: NFHook = NFHook.LOCAL_IN,
    priority: int = 0,
    flags: NFLinkFlags = NFLinkFlags.NONE,
) -> Link:
    """Attach ``prog`` (NETFILTER) at netfilter hook ``pf``/``hook`` with ``priority``
    (lower runs first; the reserved extremes are refused). Kernel >= 6.4.

        >>> from pybpf import link                                  # doctest: +SKIP
        >>> from pybpf.link.netfilter import NFHook
        >>> with pybpf.load("nf.bpf.o") as obj:
        ...     with link.netfilter(obj.programs["drop_udp"], hook=NFHook.LOCAL_IN, priority=-128):
        ...         ...
    """
    if priority in (_PRI_FIRST, _PRI_LAST):
        raise ValueError(f"netfilter priority {priority} is reserved by the kernel; use a value in between")
    try:
        fd = _sys.link_create_netfilter(prog.fd, int(pf), int(hook), priority, flags=int(flags))
    except SyscallError as exc:
        reason = _REFUSALS.get(exc.errno or 0)
        if reason is None:
            raise
        raise NotSupportedError(
            f"netfilter link at {NFProto(pf).name} {NFHook(hook).name} priority {priority}", reason=reason,
            alternative="filter with tcx/tc or XDP, or with nftables rules",
        ) from exc
    return Link(fd=fd, program=prog,
                description=f"netfilter {NFProto(pf).name.lower()} {NFHook(hook).name.lower()} prio {priority}")


__all__ = ["NFHook", "NFLinkFlags", "NFProto", "netfilter"]
