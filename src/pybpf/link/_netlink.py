"""Netlink attachment for kernels without XDP/tcx links, through pyroute2 (the ``net`` extra).

Only the fallback paths of :mod:`pybpf.link.xdp` and :mod:`pybpf.link.tc` use this module,
and pyroute2 is imported when one of them runs, so ``pip install pybpf`` works without it.
Everything here acts on the network namespace of the calling thread.

Netlink attachments are not BPF links: the kernel keeps them after the process that made
them exits (``ip link show`` lists the XDP program, ``tc filter show`` the cls_bpf filter)
until someone removes them. :class:`~pybpf.link.Link` removes them on close; a SIGKILLed
process cannot, which is why the link paths are preferred where the kernel has them.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any

from ..errors import BPFError, SyscallError

log = logging.getLogger("pybpf.link")


class NetlinkError(BPFError):
    """A netlink request (through pyroute2) failed or pyroute2 is missing."""


class XDPFlags(IntEnum):
    """``XDP_FLAGS_*`` of IFLA_XDP_FLAGS / LINK_CREATE (include/uapi/linux/if_link.h)."""

    UPDATE_IF_NOEXIST = 1 << 0
    SKB_MODE = 1 << 1
    DRV_MODE = 1 << 2
    HW_MODE = 1 << 3
    REPLACE = 1 << 4


#: TC parent handles of the clsact qdisc's two hooks (``TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_*)``)
TC_H_CLSACT_INGRESS = 0xFFFFFFF2
TC_H_CLSACT_EGRESS = 0xFFFFFFF3
#: ``TCA_BPF_FLAG_ACT_DIRECT``: the program's return code is the tc action
TCA_BPF_FLAG_ACT_DIRECT = 1
_ETH_P_ALL = 0x0003


def interface_index(interface: str | int) -> int:
    """The ifindex of ``interface`` (a name like ``"veth0"`` or an index) in this network namespace.

    Raises :class:`~pybpf.errors.SyscallError` (ENODEV) when there is no such interface.
    """
    if isinstance(interface, int):
        if interface <= 0:
            raise SyscallError("interface lookup", errno.ENODEV, f"{interface} is not an interface index")
        return interface
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise SyscallError("interface lookup", errno.ENODEV,
                           f"no interface named {interface!r} in this network namespace (see `ip link show`)") from None


def interface_name(ifindex: int) -> str:
    """The name of interface ``ifindex`` (the index as text when it has none any more)."""
    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return str(ifindex)


@contextmanager
def iproute() -> Iterator[Any]:
    """A pyroute2 ``IPRoute`` socket, closed afterwards; a clear error when pyroute2 is missing."""
    try:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError as PyrouteError
    except ImportError as exc:
        raise NetlinkError(
            "attaching through netlink needs pyroute2, which is not installed "
            f"({exc}); install it with `pip install pybpf[net]` (or `pip install pyroute2`)"
        ) from None
    ipr = IPRoute()
    try:
        yield ipr
    except PyrouteError as exc:
        code = int(exc.code) if isinstance(exc.code, int) else errno.EIO
        raise SyscallError("netlink", code, str(exc)) from None
    finally:
        ipr.close()


# -- XDP (IFLA_XDP) ---------------------------------------------------------------------------

#: XDP attach mode flag -> the IFLA_XDP attribute holding that mode's program id
_MODE_PROG_ID: dict[int, str] = {
    int(XDPFlags.SKB_MODE): "IFLA_XDP_SKB_PROG_ID",
    int(XDPFlags.DRV_MODE): "IFLA_XDP_DRV_PROG_ID",
    int(XDPFlags.HW_MODE): "IFLA_XDP_HW_PROG_ID",
}


def xdp_set(ifindex: int, prog_fd: int, flags: int, *, expected_fd: int | None = None) -> None:
    """Attach (``prog_fd`` >= 0) or detach (``-1``) an XDP program with RTM_SETLINK/IFLA_XDP.

    ``expected_fd`` (kernel >= 5.7, with ``XDPFlags.REPLACE``) makes the change only if that
    program is the one attached.
    """
    attrs: list[tuple[str, int]] = [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]
    if expected_fd is not None:
        attrs.append(("IFLA_XDP_EXPECTED_FD", expected_fd))
    with iproute() as ipr:
        ipr.link("set", index=ifindex, xdp={"attrs": attrs})


def xdp_prog_id(ifindex: int, mode_flag: int = 0) -> int:
    """The id of the XDP program attached to ``ifindex`` in ``mode_flag`` (0: any mode), or 0."""
    with iproute() as ipr:
        msgs = ipr.get_links(ifindex)
    if not msgs:
        return 0
    xdp = msgs[0].get_attr("IFLA_XDP")
    if xdp is None:
        return 0
    attr = _MODE_PROG_ID.get(mode_flag, "IFLA_XDP_PROG_ID")
    return int(xdp.get_attr(attr) or xdp.get_attr("IFLA_XDP_PROG_ID") or 0)


# -- tc (clsact + cls_bpf) --------------------------------------------------------------------


def tc_ensure_clsact(ifindex: int) -> bool:
    """Add a clsact qdisc to ``ifindex`` unless it has one; True if this call added it."""
    try:
        with iproute() as ipr:
            ipr.tc("add", "clsact", ifindex)
    except SyscallError as exc:
        if exc.errno == errno.EEXIST:  # there is one already
            return False
        raise
    return True


def tc_add_filter(ifindex: int, parent: int, prog_fd: int, name: str, *, priority: int, handle: int) -> None:
    """Add a direct-action cls_bpf filter running ``prog_fd`` at clsact hook ``parent``."""
    with iproute() as ipr:
        ipr.tc("add-filter", "bpf", ifindex, handle, fd=prog_fd, name=name, parent=parent, prio=priority,
               protocol=_ETH_P_ALL, classid=1, direct_action=True)


def tc_del_filter(ifindex: int, parent: int, *, priority: int, handle: int) -> None:
    """Remove the cls_bpf filter ``priority``/``handle`` at ``parent`` (absent already: nothing)."""
    try:
        with iproute() as ipr:
            ipr.tc("del-filter", "bpf", ifindex, handle, parent=parent, prio=priority, protocol=_ETH_P_ALL)
    except SyscallError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
            raise
        log.debug("tc filter on %d already gone: %s", ifindex, exc)


def tc_filters(ifindex: int, parent: int) -> list[dict[str, object]]:
    """The cls_bpf filters at ``parent``: ``{"priority", "handle", "name"}`` each."""
    out: list[dict[str, object]] = []
    with iproute() as ipr:
        for msg in ipr.get_filters(index=ifindex, parent=parent):
            opts = msg.get_attr("TCA_OPTIONS")
            if msg.get_attr("TCA_KIND") != "bpf" or opts is None:
                continue
            out.append({"priority": (msg["info"] >> 16) & 0xFFFF, "handle": msg["handle"],
                        "name": opts.get_attr("TCA_BPF_NAME")})
    return out


__all__ = [
    "TCA_BPF_FLAG_ACT_DIRECT", "TC_H_CLSACT_EGRESS", "TC_H_CLSACT_INGRESS", "NetlinkError", "XDPFlags",
    "interface_index", "interface_name", "iproute", "tc_add_filter", "tc_del_filter", "tc_ensure_clsact",
    "tc_filters", "xdp_prog_id", "xdp_set",
]
