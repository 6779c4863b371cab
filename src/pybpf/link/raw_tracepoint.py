"""Raw tracepoints: ``SEC("raw_tp/<name>")`` and BTF tracepoints ``SEC("tp_btf/<name>")``.

A raw tracepoint program gets the tracepoint's raw arguments (``u64 args[]``); it needs no
tracefs. ``tp_btf`` programs are TRACING programs verified against ``btf_trace_<name>`` at
load time, so attaching them names nothing.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from .. import _sys
from ..enums import AttachType
from ..errors import SyscallError
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")


def raw_tracepoint(prog: Program, name: str, *, cookie: int = 0) -> Link:
    """Attach ``prog`` (RAW_TRACEPOINT or RAW_TRACEPOINT_WRITABLE) to raw tracepoint ``name``
    (``"sys_enter"``, ``"sched_switch"``; no category).

    Kernel >= 4.17; ``cookie`` >= 6.10.

        >>> from pybpf import link                                             # doctest: +SKIP
        >>> with pybpf.load("raw.bpf.o") as obj:
        ...     with link.raw_tracepoint(obj.programs["on_sys_enter"], "sys_enter"):
        ...         os.getppid()
    """
    fd = _sys.raw_tracepoint_open(prog.fd, name, cookie=cookie)
    return Link(fd=fd, program=prog, description=f"raw_tracepoint {name}",
                reattach=lambda new: raw_tracepoint(new, name, cookie=cookie))


def tp_btf(prog: Program, *, cookie: int = 0) -> Link:
    """Attach a ``SEC("tp_btf/<name>")`` program to the tracepoint it was loaded for.

    BPF_LINK_CREATE (kernel >= 5.19 for tracing links with cookies), else
    BPF_RAW_TRACEPOINT_OPEN without a name (kernel >= 5.5).

        >>> with pybpf.load("sched.bpf.o") as obj:                             # doctest: +SKIP
        ...     with link.tp_btf(obj.programs["on_switch"]):
        ...         time.sleep(0.1)
    """
    try:
        fd = _sys.link_create_tracing(prog.fd, AttachType.TRACE_RAW_TP, cookie=cookie)
    except SyscallError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, _sys.ENOTSUPP) or cookie:
            raise
        log.debug("LINK_CREATE for tp_btf refused (%s); using BPF_RAW_TRACEPOINT_OPEN", exc)
        fd = _sys.raw_tracepoint_open(prog.fd, None)
    spec = getattr(prog, "spec", None)
    target = getattr(spec, "attach_to", "") or prog.name
    return Link(fd=fd, program=prog, description=f"tp_btf {target}",
                reattach=lambda new: tp_btf(new, cookie=cookie))


__all__ = ["raw_tracepoint", "tp_btf"]
