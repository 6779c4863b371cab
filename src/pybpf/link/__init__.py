"""``pybpf.link``: attach loaded programs to their hooks, one module per hook family.

Every attach function takes the program and the required target positionally and options
as keywords, and returns a :class:`Link` (a context manager that detaches on close)::

    from pybpf import link
    with pybpf.load("opens.bpf.o") as obj:
        with link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat"):
            ...
        links = obj.attach_all()        # every program whose section names its hook

=================  ==========================================  ===============
hook               function                                    kernel
=================  ==========================================  ===============
tracepoint         tracepoint(prog, category, name)            4.7 (link 5.15)
raw tracepoint     raw_tracepoint(prog, name)                  4.17
BTF tracepoint     tp_btf(prog)                                5.5
kprobe             kprobe / kretprobe / ksyscall / kprobe_multi 4.1 / 5.18
trampolines        fentry / fexit / fmod_ret / lsm / freplace  5.5 - 5.10
perf sampling      perf_event(prog, frequency=|period=)        4.9
iterator           iter(prog) -> IterLink (.open(), .read())   5.8
=================  ==========================================  ===============

Other hook families (uprobe, usdt, xdp, tc, cgroup, socket, ...) live in their own modules
and are imported from here when present.
"""

from __future__ import annotations

import importlib
from typing import Any

from .alternatives import covering_tracepoints, syscall_of
from .auto import AttachError, attach, attach_all, fully_named
from .base import Closeable, Link, LinkError, LinkGroup
from .info import LinkInfo, PerfEventLinkType
from .iter import CgroupIterOrder, IterLink, iter
from .kprobe import kprobe, kprobe_multi, kretprobe, ksyscall
from .perf_event import attach_perf_fd, perf_event
from .raw_tracepoint import raw_tracepoint, tp_btf
from .tracepoint import tracepoint
from .tracing import fentry, fexit, fmod_ret, freplace, lsm

#: attach functions of the other hook families: name -> module (imported on first use)
_ELSEWHERE = {
    "uprobe": "uprobe", "uretprobe": "uprobe", "uprobe_multi": "uprobe", "usdt": "usdt",
    "xdp": "xdp", "XDPMode": "xdp", "tcx": "tc", "tc": "tc", "socket_filter": "socket", "cgroup": "cgroup",
    "sk_lookup": "sk_lookup", "sockmap": "sockmap", "netfilter": "netfilter",
}


def __getattr__(name: str) -> Any:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pybpf.link' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ImportError as exc:
        raise AttributeError(f"pybpf.link.{name} is not available: {exc}") from exc


__all__ = [
    "AttachError", "CgroupIterOrder", "Closeable", "IterLink", "Link", "LinkError", "LinkGroup", "LinkInfo",
    "PerfEventLinkType", "attach", "attach_all", "attach_perf_fd", "covering_tracepoints", "fentry", "fexit",
    "fmod_ret", "freplace", "fully_named", "iter", "kprobe", "kprobe_multi", "kretprobe", "ksyscall", "lsm",
    "perf_event", "raw_tracepoint", "syscall_of", "tp_btf", "tracepoint",
]
