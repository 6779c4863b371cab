"""Tracepoints: ``SEC("tracepoint/<category>/<name>")`` programs on tracefs tracepoints.

The tracepoint's id comes from tracefs (mounted on demand, see :mod:`pybpf.tracefs`); a perf
event of type TRACEPOINT is opened for it on CPU 0 with ``pid=-1`` (a tracepoint perf event
with a program fires on every CPU), and the program is attached through a BPF perf link
(kernel >= 5.15) or ``PERF_EVENT_IOC_SET_BPF`` (kernel >= 4.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _sys, tracefs
from .base import Link
from .perf_event import attach_perf_fd

if TYPE_CHECKING:
    from ..program import Program


def split_name(target: str) -> tuple[str, str]:
    """``"syscalls/sys_enter_openat"`` or ``"syscalls:sys_enter_openat"`` -> ``("syscalls", "sys_enter_openat")``."""
    for sep in ("/", ":"):
        cat, found, name = target.partition(sep)
        if found and cat and name:
            return cat, name
    raise ValueError(f"not a tracepoint name: {target!r}; write it as <category>/<name>, e.g. syscalls/sys_enter_openat")


def tracepoint(prog: Program, category: str, name: str, *, cookie: int = 0, use_link: bool = True) -> Link:
    """Attach ``prog`` (a TRACEPOINT program) to tracepoint ``category:name``.

    Kernel >= 4.7 (``PERF_EVENT_IOC_SET_BPF``), >= 5.15 for a BPF link and ``cookie``.

        >>> from pybpf import link                                             # doctest: +SKIP
        >>> with pybpf.load("opens.bpf.o") as obj:
        ...     with link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat"):
        ...         open("/etc/hostname").close()
    """
    tp_id = tracefs.tracepoint_id(category, name)
    pfd = _sys.perf_event_open(_sys.tracepoint_event(tp_id), pid=-1, cpu=0)
    return attach_perf_fd(prog, pfd, description=f"tracepoint {category}:{name}", cookie=cookie, use_link=use_link,
                          reattach=lambda new: tracepoint(new, category, name, cookie=cookie, use_link=use_link))


__all__ = ["split_name", "tracepoint"]
