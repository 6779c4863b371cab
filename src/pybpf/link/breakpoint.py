"""Hardware watchpoints: run a ``SEC("perf_event")`` program when an address is read, written
or executed (a perf event of type PERF_TYPE_BREAKPOINT, kernel >= 4.9 for BPF programs on it).

In a process (``pid``) the address is a user-space address of that process; without ``pid`` it
is a kernel address, watched on every online CPU. The CPU has few debug registers (four on
x86), so only a handful of watchpoints can be active at once.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .. import _sys
from .._sys.abi import BreakpointType, PerfType
from ..errors import NotSupportedError, SyscallError
from .base import Link, LinkGroup
from .perf_event import attach_perf_fd, online_cpus

if TYPE_CHECKING:
    from ..program import Program

#: watchable lengths (x86 debug registers: 1, 2, 4 or 8 aligned bytes)
LENGTHS = (1, 2, 4, 8)
#: an execute breakpoint covers one instruction start: the kernel wants sizeof(long)
EXEC_LENGTH = 8


def access_of(mode: str) -> BreakpointType:
    """bpftrace's mode string (``"w"``, ``"rw"``, ``"x"``) as a :class:`BreakpointType`."""
    if not mode or any(c not in "rwx" for c in mode):
        raise ValueError(f"watchpoint mode must be made of r, w and x, not {mode!r}")
    flags = {"r": BreakpointType.R, "w": BreakpointType.W, "x": BreakpointType.X}
    out = BreakpointType.EMPTY
    for c in mode:
        out |= flags[c]
    return out


def breakpoint_attr(address: int, length: int, access: BreakpointType) -> _sys.PerfEventAttr:
    """The ``perf_event_attr`` of a watchpoint: every hit is a sample (period 1), created disabled.

    Raises ValueError for what no kernel accepts: a length other than 1/2/4/8, an address not
    aligned to its length, execute combined with read/write, an execute length other than 8.
    """
    if access & BreakpointType.X and access & BreakpointType.RW:
        raise ValueError("a watchpoint cannot watch execution together with reads or writes (use two probes)")
    if access & BreakpointType.X:
        if length != EXEC_LENGTH:
            raise ValueError(f"an execute watchpoint has length {EXEC_LENGTH} (sizeof(long)), not {length}")
    elif length not in LENGTHS:
        raise ValueError(f"watchpoint length must be 1, 2, 4 or 8 bytes, not {length}")
    elif address % length:
        raise ValueError(f"watchpoint address {address:#x} is not aligned to its length {length}")
    if not access:
        raise ValueError("a watchpoint needs an access mode (r, w, rw or x)")
    attr = _sys.PerfEventAttr(type=int(PerfType.BREAKPOINT))
    attr.bp_type = int(access)
    attr.bp_addr = address
    attr.bp_len = length
    attr.sample_period = 1
    attr.wakeup_events = 1
    attr.disabled = 1
    return attr


def _open(attr: _sys.PerfEventAttr, access: BreakpointType, pid: int, cpu: int) -> _sys.FD:
    try:
        return _sys.perf_event_open(attr, pid=pid, cpu=cpu)
    except SyscallError as exc:
        if exc.errno == errno.EINVAL and access == BreakpointType.R:
            raise NotSupportedError("read-only watchpoints", reason="x86 debug registers watch writes, or reads "
                                    "and writes together, but not reads alone",
                                    alternative="watch with mode rw") from None
        if exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV):
            raise NotSupportedError("hardware breakpoint perf events",
                                    reason=f"perf_event_open(PERF_TYPE_BREAKPOINT) answered "
                                           f"{errno.errorcode.get(exc.errno or 0)} (CONFIG_HAVE_HW_BREAKPOINT, "
                                           "or a hypervisor without debug registers)",
                                    alternative="trace the code that writes the variable with a uprobe") from None
        if exc.errno == errno.ENOSPC:
            raise NotSupportedError("another watchpoint", reason="every debug register of the CPU is in use",
                                    alternative="remove a watchpoint (or a debugger's breakpoint) first") from None
        raise


def watchpoint(prog: Program, address: int, length: int, *, access: BreakpointType | str = BreakpointType.W,
               pid: int | None = None) -> LinkGroup:
    """Run ``prog`` (``SEC("perf_event")``) each time ``address`` is accessed as ``access``
    says (``BreakpointType.W``, ``"rw"``, ``"x"``...).

    With ``pid``, ``address`` is in that process's address space; without, it is a kernel
    address watched on every online CPU. Kernel >= 4.9; the context is ``struct
    bpf_perf_event_data`` (registers at the access, ``addr`` the watched address).

        >>> from pybpf import link                                             # doctest: +SKIP
        >>> with pybpf.load("watch.bpf.o") as obj:
        ...     with link.watchpoint(obj.programs["on_write"], 0x601040, 4, access="w", pid=1234):
        ...         time.sleep(1)
    """
    kind = access_of(access) if isinstance(access, str) else BreakpointType(access)
    where = f"pid {pid}" if pid is not None else "kernel"
    description = f"watchpoint {address:#x}:{length}:{kind.name} ({where})"
    targets = [(pid, -1)] if pid is not None else [(-1, c) for c in online_cpus()]
    links: list[Link] = []
    try:
        for p, cpu in targets:
            pfd = _open(breakpoint_attr(address, length, kind), kind, p, cpu)
            links.append(attach_perf_fd(prog, pfd, description=f"{description} cpu {cpu}"))
    except BaseException:
        for done in links:
            done.close()
        raise
    return LinkGroup(links, program=prog, description=description,
                     reattach=lambda new: watchpoint(new, address, length, access=kind, pid=pid))


__all__ = ["access_of", "breakpoint_attr", "watchpoint"]
