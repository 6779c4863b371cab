"""XDP: run a program on every packet an interface receives, before the kernel allocates an skb.

``xdp(prog, interface)`` makes a BPF link (BPF_LINK_CREATE with BPF_XDP, kernel >= 5.9): the
program is detached when the link is closed or its process dies. On older kernels (or with
``use_link=False``) the program is attached with netlink (RTM_SETLINK, IFLA_XDP) through
pyroute2 (``pip install pybpf[net]``); such an attachment outlives the process that made
it, so a killed process leaves it on the interface (``ip link set dev <if> xdp off`` removes it).
"""

from __future__ import annotations

import errno
import logging
from enum import IntEnum
from typing import TYPE_CHECKING

from .. import _sys, features
from ..enums import AttachType
from ..errors import BPFError, SyscallError
from . import _netlink
from ._netlink import XDPFlags, interface_index, interface_name
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")


class XDPMode(IntEnum):
    """Where the XDP program runs (the mode bits of ``XDP_FLAGS_*``).

    ``AUTO`` lets the kernel choose (native driver mode when the driver has it, else generic);
    ``SKB`` is generic XDP (every device, after the skb exists); ``DRIVER`` needs driver
    support (veth has it); ``HW`` offloads to a NIC that can run BPF.
    """

    AUTO = 0
    SKB = int(XDPFlags.SKB_MODE)
    DRIVER = int(XDPFlags.DRV_MODE)
    HW = int(XDPFlags.HW_MODE)


class XDPBusyError(SyscallError):
    """Another XDP program is attached to the interface in this mode."""


def _busy(ifname: str, exc: SyscallError, how: str) -> XDPBusyError:
    return XDPBusyError(
        "BPF_LINK_CREATE" if how == "link" else "netlink IFLA_XDP", exc.errno or errno.EBUSY,
        f"interface {ifname} already has an XDP program in this mode (see `ip link show dev {ifname}`); "
        "detach it first, or pass replace=True (netlink attachments only: use_link=False)",
    )


def _link_xdp(prog: Program, ifindex: int, mode: XDPMode, description: str) -> Link:
    try:
        fd = _sys.link_create(prog.fd, ifindex, AttachType.XDP, flags=int(mode))
    except SyscallError as exc:
        if exc.errno in (errno.EBUSY, errno.EEXIST):
            raise _busy(interface_name(ifindex), exc, "link") from None
        raise
    return Link(fd=fd, program=prog, description=description)


def _netlink_detach(ifindex: int, mode: XDPMode, prog_fd: _sys.FD, prog_id: int) -> None:
    """Remove our program from ``ifindex`` if it is still the attached one, then drop our fd."""
    try:
        _netlink.xdp_set(ifindex, -1, int(mode) | int(XDPFlags.REPLACE), expected_fd=prog_fd.fileno())
    except SyscallError as exc:
        if exc.errno == errno.EINVAL:  # kernel < 5.7: no XDP_FLAGS_REPLACE; compare ids, then detach
            if _netlink.xdp_prog_id(ifindex, int(mode)) == prog_id:
                _netlink.xdp_set(ifindex, -1, int(mode))
        elif exc.errno not in (errno.EEXIST, errno.ENODEV, errno.ENOENT):
            raise
        else:
            log.debug("XDP on %d: not ours any more or gone (%s)", ifindex, exc)
    finally:
        prog_fd.close()


def _netlink_xdp(prog: Program, ifindex: int, mode: XDPMode, replace: bool | Program, description: str) -> Link:
    flags, expected = int(mode), None
    if replace is False:
        flags |= int(XDPFlags.UPDATE_IF_NOEXIST)
    elif replace is not True:
        flags |= int(XDPFlags.REPLACE)
        expected = replace.fd.fileno()
    try:
        _netlink.xdp_set(ifindex, prog.fd.fileno(), flags, expected_fd=expected)
    except SyscallError as exc:
        if exc.errno in (errno.EBUSY, errno.EEXIST):
            raise _busy(interface_name(ifindex), exc, "netlink") from None
        raise
    own, prog_id = prog.fd.dup(), prog.id  # the detach names the program by fd: keep one as long as the attachment
    return Link(fd=None, program=prog, description=description,
                cleanups=[lambda: _netlink_detach(ifindex, mode, own, prog_id)],
                reattach=lambda new: _netlink_xdp(new, ifindex, mode, True, description))


def xdp(
    prog: Program,
    interface: str | int,
    *,
    mode: XDPMode = XDPMode.AUTO,
    replace: bool | Program = False,
    use_link: bool | None = None,
) -> Link:
    """Attach ``prog`` (an XDP program) to ``interface`` (a name or an ifindex).

    Kernel >= 5.9 for the BPF link (``use_link=None`` picks it when the kernel has it), else
    netlink (kernel >= 4.8; needs pyroute2: ``pip install pybpf[net]``). ``replace`` applies
    to netlink attachments: ``True`` replaces whatever program is attached, a
    :class:`~pybpf.Program` replaces only that one (kernel >= 5.7); by default an interface
    that has an XDP program raises :class:`XDPBusyError`. ``update(new_prog)`` swaps the
    program in place (a link keeps its id).

        >>> from pybpf import link                                      # doctest: +SKIP
        >>> with pybpf.load("drop.bpf.o") as obj:
        ...     with link.xdp(obj.programs["xdp_drop_udp"], "veth0", mode=link.XDPMode.SKB):
        ...         ...   # UDP packets arriving on veth0 are dropped here
    """
    ifindex = interface_index(interface)
    description = f"xdp {interface_name(ifindex)}" + (f" ({mode.name.lower()})" if mode != XDPMode.AUTO else "")
    if use_link is None:
        use_link = features.feature("xdp_link").supported and replace is False
    if use_link:
        if replace is not False:
            raise BPFError("replace= applies to netlink XDP attachments; pass use_link=False, or detach "
                           "the attached program first (a BPF link cannot take over another attachment)")
        return _link_xdp(prog, ifindex, mode, description)
    return _netlink_xdp(prog, ifindex, mode, replace, description)


def attached_program_id(interface: str | int, mode: XDPMode = XDPMode.AUTO) -> int:
    """The id of the XDP program attached to ``interface`` (in ``mode``; AUTO: any), 0 for none.

    Reads the interface over netlink, so it needs pyroute2.
    """
    return _netlink.xdp_prog_id(interface_index(interface), int(mode))


__all__ = ["XDPBusyError", "XDPMode", "attached_program_id", "xdp"]
