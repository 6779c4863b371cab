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
watchpoint         watchpoint(prog, address, length, access=)  4.9
iterator           iter(prog) -> IterLink (.open(), .read())   5.8
=================  ==========================================  ===============

Other hook families (uprobe, usdt, xdp, tc, cgroup, socket, ...) live in their own modules
and are re-exported here. Each module is imported on first use of one of its names, so
``link.tracepoint`` does not pull in the netlink, cgroup or uprobe machinery.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .base import Closeable, Link, LinkError, LinkGroup

if TYPE_CHECKING:
    from .alternatives import covering_tracepoints, syscall_of
    from .auto import AttachError, attach, attach_all, fully_named
    from .cgroup import cgroup
    from .info import LinkInfo, PerfEventLinkType
    from .iter import CgroupIterOrder, IterLink, iter
    from .kprobe import kprobe, kprobe_multi, kretprobe, ksyscall
    from .netfilter import netfilter
    from .breakpoint import watchpoint
    from .perf_event import attach_perf_fd, perf_event
    from .raw_tracepoint import raw_tracepoint, tp_btf
    from .sk_lookup import sk_lookup
    from .socket import socket_filter
    from .sockmap import sockmap
    from .tc import TCDirection, tc, tcx
    from .tracepoint import tracepoint
    from .tracing import fentry, fexit, fmod_ret, freplace, lsm
    from .uprobe import uprobe, uprobe_multi, uretprobe
    from .usdt import usdt
    from .xdp import XDPMode, xdp

#: re-exported name -> the submodule defining it; imported on first use so that attaching a
#: tracepoint does not import the netlink, cgroup, uprobe and usdt machinery (``pybpf trace``
#: start-up)
_LAZY: dict[str, str] = {
    "covering_tracepoints": "alternatives", "syscall_of": "alternatives",
    "AttachError": "auto", "attach": "auto", "attach_all": "auto", "fully_named": "auto",
    "LinkInfo": "info", "PerfEventLinkType": "info",
    "CgroupIterOrder": "iter", "IterLink": "iter", "iter": "iter",
    "kprobe": "kprobe", "kprobe_multi": "kprobe", "kretprobe": "kprobe", "ksyscall": "kprobe",
    "attach_perf_fd": "perf_event", "perf_event": "perf_event", "watchpoint": "breakpoint",
    "raw_tracepoint": "raw_tracepoint", "tp_btf": "raw_tracepoint",
    "tracepoint": "tracepoint",
    "fentry": "tracing", "fexit": "tracing", "fmod_ret": "tracing", "freplace": "tracing", "lsm": "tracing",
    "cgroup": "cgroup", "netfilter": "netfilter", "sk_lookup": "sk_lookup", "sockmap": "sockmap",
    "socket_filter": "socket", "TCDirection": "tc", "tc": "tc", "tcx": "tc",
    "uprobe": "uprobe", "uprobe_multi": "uprobe", "uretprobe": "uprobe", "usdt": "usdt",
    "XDPMode": "xdp", "xdp": "xdp",
}

#: submodules named like the attach function they define (``link.xdp`` is the function)
_SAME_NAME = frozenset(name for name, module in _LAZY.items() if name == module)


class _LinkPackage(types.ModuleType):
    """The package module: keeps ``link.<hook>`` the attach function once its module is imported.

    Importing a submodule sets the package attribute of the same name to the module (the import
    system does ``setattr(package, "xdp", module)``, whichever way the import was spelled, e.g.
    ``from pybpf.link.xdp import XDPMode``); for the modules named like their function, the
    function is stored instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in _SAME_NAME and isinstance(value, types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _LinkPackage


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:  # a submodule read as an attribute (``link.tracing.require(...)``)
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AttachError", "CgroupIterOrder", "Closeable", "IterLink", "Link", "LinkError", "LinkGroup", "LinkInfo",
    "PerfEventLinkType", "attach", "attach_all", "attach_perf_fd", "covering_tracepoints", "fentry", "fexit",
    "fmod_ret", "freplace", "fully_named", "iter", "kprobe", "kprobe_multi", "kretprobe", "ksyscall", "lsm",
    "perf_event", "raw_tracepoint", "syscall_of", "tp_btf", "tracepoint",
    "TCDirection", "XDPMode", "cgroup", "netfilter", "sk_lookup", "sockmap", "socket_filter", "tc", "tcx",
    "uprobe", "uprobe_multi", "uretprobe", "usdt", "xdp",
]
