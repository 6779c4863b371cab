"""TC: run a SCHED_CLS program on the packets an interface receives (ingress) or sends (egress).

``tcx(prog, interface)`` makes a tcx link (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS, kernel
>= 6.6): no qdisc, several programs per hook in a chosen order, detached when the link is closed
or its process dies. ``tc(prog, interface)`` uses tcx when the kernel has it and otherwise the
classic way: a ``clsact`` qdisc and a direct-action ``cls_bpf`` filter added over netlink through
pyroute2 (``pip install pybpf[net]``). The classic filter outlives a killed process (``tc filter
del dev <if> ingress pref <prio>`` removes it); the clsact qdisc it needs is left in place.

The program's return value is the verdict: ``TC_ACT_OK`` (0) lets the packet pass, ``TC_ACT_SHOT``
(2) drops it; for tcx ``TCX_NEXT`` (-1) hands it to the next program.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING

from .. import _sys, features
from .._sys import AttachFlags
from ..enums import AttachType
from ..errors import BPFError
from . import _netlink
from ._attach_common import program_section
from ._netlink import TC_H_CLSACT_EGRESS, TC_H_CLSACT_INGRESS, interface_index, interface_name
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")


class TCDirection(Enum):
    """Which packets a tc program sees: those arriving (INGRESS) or leaving (EGRESS)."""

    INGRESS = "ingress"
    EGRESS = "egress"

    @property
    def attach_type(self) -> AttachType:
        return _ATTACH_TYPES[self]

    @property
    def parent(self) -> int:
        """The clsact qdisc's hook for this direction (classic tc)."""
        return _PARENTS[self]


_ATTACH_TYPES = {TCDirection.INGRESS: AttachType.TCX_INGRESS, TCDirection.EGRESS: AttachType.TCX_EGRESS}
_PARENTS = {TCDirection.INGRESS: TC_H_CLSACT_INGRESS, TCDirection.EGRESS: TC_H_CLSACT_EGRESS}
_BY_ATTACH_TYPE = {v: k for k, v in _ATTACH_TYPES.items()}


def _direction(prog: Program, direction: TCDirection | str | None) -> TCDirection:
    """The given direction, else the one the program's section names (``SEC("tcx/egress")``), else INGRESS."""
    if direction is not None:
        return TCDirection(direction)
    sec = program_section(prog)
    if sec is not None and sec.attach_type in _BY_ATTACH_TYPE:
        return _BY_ATTACH_TYPE[sec.attach_type]
    return TCDirection.INGRESS


def _anchor(flag: AttachFlags, anchor: object) -> tuple[AttachFlags, int, int]:
    """``(flags, relative_fd, relative_id)`` for an anchor (None: first/last of the hook)."""
    from ..program import Program

    if anchor is None:
        return flag, 0, 0
    if isinstance(anchor, Program):
        return flag, anchor.fd.fileno(), 0
    if isinstance(anchor, Link):
        return flag | AttachFlags.LINK, anchor.fileno(), 0
    if isinstance(anchor, int) and not isinstance(anchor, bool):
        return flag | AttachFlags.ID, 0, anchor
    raise TypeError(f"before=/after= takes a Program, a Link or a program id, not {type(anchor).__name__}")


_UNSET = object()


def tcx(
    prog: Program,
    interface: str | int,
    *,
    direction: TCDirection | str | None = None,
    before: object = _UNSET,
    after: object = _UNSET,
    expected_revision: int = 0,
) -> Link:
    """Attach ``prog`` (a SCHED_CLS program) to ``interface`` with a tcx link (kernel >= 6.6).

    ``direction`` defaults to the one the section names (``SEC("tcx/egress")``), else ingress.
    Programs run in attach order; ``before=``/``after=`` place this one relative to a
    :class:`~pybpf.Program`, a :class:`Link` or a program id, or with ``None`` first/last of
    the hook. ``expected_revision`` (non-zero) makes the attach fail if the hook changed.

        >>> from pybpf.link.tc import TCDirection, tcx                 # doctest: +SKIP
        >>> with pybpf.load("count.bpf.o") as obj:
        ...     with tcx(obj.programs["count"], "lo", direction=TCDirection.EGRESS):
        ...         ...
    """
    if before is not _UNSET and after is not _UNSET:
        raise BPFError("tcx: give before= or after=, not both")
    features.require("tcx")
    d = _direction(prog, direction)
    ifindex = interface_index(interface)
    flags, rel_fd, rel_id = AttachFlags.NONE, 0, 0
    if before is not _UNSET:
        flags, rel_fd, rel_id = _anchor(AttachFlags.BEFORE, before)
    elif after is not _UNSET:
        flags, rel_fd, rel_id = _anchor(AttachFlags.AFTER, after)
    fd = _sys.link_create_ordered(prog.fd, ifindex, d.attach_type, flags=flags, relative_fd=rel_fd,
                                  relative_id=rel_id, expected_revision=expected_revision)
    return Link(fd=fd, program=prog, description=f"tcx {interface_name(ifindex)} {d.value}")


def _classic(prog: Program, ifindex: int, d: TCDirection, priority: int, handle: int) -> Link:
    _netlink.tc_ensure_clsact(ifindex)
    _netlink.tc_add_filter(ifindex, d.parent, prog.fd.fileno(), prog.name or "pybpf", priority=priority,
                           handle=handle)

    def remove() -> None:
        _netlink.tc_del_filter(ifindex, d.parent, priority=priority, handle=handle)

    return Link(fd=None, program=prog, cleanups=[remove],
                reattach=lambda new: _classic_replace(new, ifindex, d, priority, handle),
                description=f"tc {interface_name(ifindex)} {d.value} (clsact pref {priority})")


def _classic_replace(new: Program, ifindex: int, d: TCDirection, priority: int, handle: int) -> Link:
    """Add ``new`` at the next free priority; the old filter is removed when the old link is released."""
    used = {int(f["priority"]) for f in _netlink.tc_filters(ifindex, d.parent)}  # type: ignore[call-overload]
    nxt = next(p for p in range(priority + 1, 0x10000) if p not in used)
    return _classic(new, ifindex, d, nxt, handle)


def tc(
    prog: Program,
    interface: str | int,
    *,
    direction: TCDirection | str | None = None,
    priority: int = 1,
    handle: int = 1,
    use_tcx: bool | None = None,
) -> Link:
    """Attach ``prog`` (SCHED_CLS) to ``interface``: a tcx link where the kernel has them (6.6),
    else a clsact qdisc and a direct-action cls_bpf filter (kernel >= 4.5, pyroute2 needed).

    ``priority`` and ``handle`` name the classic filter (``tc filter show dev <if> ingress``);
    ``use_tcx=False`` forces the classic way.

        >>> from pybpf import link                                     # doctest: +SKIP
        >>> with pybpf.load("count.bpf.o") as obj:
        ...     with link.tc(obj.programs["count"], "lo", direction="ingress") as lk:
        ...         print(lk)
    """
    d = _direction(prog, direction)
    if use_tcx is None:
        use_tcx = features.feature("tcx").supported
    if use_tcx:
        return tcx(prog, interface, direction=d)
    if not 0 < priority < 0x10000:
        raise BPFError(f"tc priority must be 1..65535, not {priority}")
    return _classic(prog, interface_index(interface), d, priority, handle)


__all__ = ["TCDirection", "tc", "tcx"]
