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
and are re-exported here.
"""

from __future__ import annotations

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

# The other hook families are imported eagerly: a lazy ``__getattr__`` would be shadowed by
# the submodule itself once imported (``link.xdp`` would turn into the module ``pybpf.link.xdp``).
from .cgroup import cgroup
from .netfilter import netfilter
from .sk_lookup import sk_lookup
from .sockmap import sockmap
from .socket import socket_filter
from .tc import TCDirection, tc, tcx
from .uprobe import uprobe, uprobe_multi, uretprobe
from .usdt import usdt
from .xdp import XDPMode, xdp

__all__ = [
    "AttachError", "CgroupIterOrder", "Closeable", "IterLink", "Link", "LinkError", "LinkGroup", "LinkInfo",
    "PerfEventLinkType", "attach", "attach_all", "attach_perf_fd", "covering_tracepoints", "fentry", "fexit",
    "fmod_ret", "freplace", "fully_named", "iter", "kprobe", "kprobe_multi", "kretprobe", "ksyscall", "lsm",
    "perf_event", "raw_tracepoint", "syscall_of", "tp_btf", "tracepoint",
    "TCDirection", "XDPMode", "cgroup", "netfilter", "sk_lookup", "sockmap", "socket_filter", "tc", "tcx",
    "uprobe", "uprobe_multi", "uretprobe", "usdt", "xdp",
]
