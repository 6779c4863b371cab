"""kprobes, kretprobes, ksyscalls and kprobe.multi.

How a kprobe is made, in order (probed first through :mod:`pybpf.features`):

1. the perf ``kprobe`` PMU (``/sys/bus/event_source/devices/kprobe``, kernel >= 4.17): the
   probe lives exactly as long as its perf event fd, so nothing outlives the process;
2. tracefs ``kprobe_events`` (kernel >= 4.1): a ``p:pybpf/<name>`` entry, removed on close.
   The kernel does not remove it when the process dies, so each new legacy probe first
   removes the entries of pybpf processes that no longer exist (names carry the pid).

Where the kernel has no kprobes (``CONFIG_KPROBES`` off, as on some hardened kernels), a
KPROBE program gets a :class:`~pybpf.errors.NotSupportedError` saying why and naming the
tracepoints that cover the same event (``__x64_sys_openat`` -> ``syscalls:sys_enter_openat``).

Tracepoint fallback (what the bcc front end builds on): a kprobe-type program cannot run on
a tracepoint (its context is ``pt_regs``), so nothing falls back for it. A program of a type
that *can* attach to a tracepoint -- TRACEPOINT (``syscalls:sys_enter_<name>``/``sys_exit_<name>``)
or RAW_TRACEPOINT (``sys_enter``/``sys_exit``, every syscall: the program filters the syscall
number itself) -- passed to :func:`kprobe`/:func:`kretprobe`/:func:`ksyscall` for a *syscall*
function is attached to that tracepoint instead, with a warning on the ``pybpf.link`` logger
naming the tracepoint taken. Any other combination raises.
"""

from __future__ import annotations

import ctypes
import fnmatch
import itertools
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _sys, tracefs
from .._process import pid_alive
from ..enums import ProgramType
from ..errors import BPFError, NotSupportedError
from .alternatives import refusal, syscall_function, syscall_of
from .base import Link
from .perf_event import attach_perf_fd

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")

_PMU = Path("/sys/bus/event_source/devices/kprobe")
_GROUP = "pybpf"
_LEGACY_NAME = re.compile(rf"^[pr]\d*:{_GROUP}/pybpf_(\d+)_\S+")
_counter = itertools.count()


# -- probing ---------------------------------------------------------------------------------


def _feature(name: str) -> tuple[bool, str]:
    """(supported, reason) of a named feature from :mod:`pybpf.features`."""
    from .. import features

    result = features.feature(name)
    return result.supported, result.reason


def _pmu_type() -> int | None:
    try:
        return int((_PMU / "type").read_text())
    except (OSError, ValueError):
        return None


def _retprobe_bit() -> int:
    """The config bit the kprobe PMU reads as "return probe" (``format/retprobe``: ``config:0``)."""
    try:
        text = (_PMU / "format" / "retprobe").read_text().strip()
        return int(text.split(":")[1])
    except (OSError, ValueError, IndexError):
        return 0


# -- the tracepoint fallback -----------------------------------------------------------------


def _tracepoint_fallback(prog: Program, syscall: str, retprobe: bool) -> Link:
    from .raw_tracepoint import raw_tracepoint
    from .tracepoint import tracepoint

    if prog.type == ProgramType.TRACEPOINT:
        name = f"sys_{'exit' if retprobe else 'enter'}_{syscall}"
        log.warning("program %s is a TRACEPOINT program: attaching it to tracepoint syscalls:%s "
                     "instead of a kprobe on the %s syscall", prog.name, name, syscall)
        return tracepoint(prog, "syscalls", name)
    raw = "sys_exit" if retprobe else "sys_enter"
    log.warning("program %s is a RAW_TRACEPOINT program: attaching it to raw tracepoint %s (every "
                "syscall; the program must check the syscall number of %s) instead of a kprobe",
                prog.name, raw, syscall)
    return raw_tracepoint(prog, raw)


#: Program types that can take the place of a kprobe on a syscall function, and how.
_FALLBACK_TYPES: dict[ProgramType, Callable[[Program, str, bool], Link]] = {
    ProgramType.TRACEPOINT: _tracepoint_fallback,
    ProgramType.RAW_TRACEPOINT: _tracepoint_fallback,
}


# -- the two ways of making a kprobe ----------------------------------------------------------


def _open_pmu(pmu: int, function: str, offset: int, retprobe: bool) -> _sys.FD:
    name = ctypes.create_string_buffer(function.encode())
    attr = _sys.PerfEventAttr(type=pmu)
    attr.config = (1 << _retprobe_bit()) if retprobe else 0
    attr.kprobe_func = ctypes.addressof(name)
    attr.probe_offset = offset
    attr.sample_period, attr.wakeup_events = 1, 1
    attr.disabled = 1
    fd = _sys.perf_event_open(attr, pid=-1, cpu=0)
    del name
    return fd


def remove_stale_probes(control: str = "kprobe_events") -> list[str]:
    """Remove the legacy probes of pybpf processes that have exited (a SIGKILLed tracer's leftovers).

    Returns the removed event names. Also used for ``uprobe_events``.
    """
    removed: list[str] = []
    for line in tracefs.dynamic_events(control):
        m = _LEGACY_NAME.match(line)
        if m is None or pid_alive(int(m[1])):
            continue
        event = line.split()[0].split(":", 1)[1]
        try:
            tracefs.write_dynamic_event(control, f"-:{event}")
            removed.append(event)
        except BPFError as exc:  # still in use (another process holds it): leave it
            log.debug("could not remove stale %s entry %s: %s", control, event, exc)
    return removed


def _legacy_name(function: str, offset: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]", "_", function)[:40]
    return f"pybpf_{os.getpid()}_{safe}_{offset}_{next(_counter)}"


def _open_legacy(function: str, offset: int, retprobe: bool, maxactive: int) -> tuple[_sys.FD, Callable[[], None]]:
    remove_stale_probes()
    name = _legacy_name(function, offset)
    kind = (f"r{maxactive}" if maxactive else "r") if retprobe else "p"
    target = f"{function}+{offset}" if offset else function
    tracefs.write_dynamic_event("kprobe_events", f"{kind}:{_GROUP}/{name} {target}")

    def remove() -> None:
        tracefs.write_dynamic_event("kprobe_events", f"-:{_GROUP}/{name}")

    try:
        pfd = _sys.perf_event_open(_sys.tracepoint_event(tracefs.tracepoint_id(_GROUP, name)), pid=-1, cpu=0)
    except BaseException:
        remove()
        raise
    return pfd, remove


# -- the attach functions ---------------------------------------------------------------------


def kprobe(
    prog: Program, function: str, *, offset: int = 0, retprobe: bool = False, cookie: int = 0, maxactive: int = 0,
) -> Link:
    """Attach ``prog`` (a KPROBE program) to kernel function ``function`` (+``offset``), or to its
    return with ``retprobe=True``.

    Kernel >= 4.1 (tracefs), 4.17 (perf kprobe PMU), 5.15 (``cookie``). Raises
    NotSupportedError naming the covering tracepoints where the kernel has no kprobes; see the
    module docstring for the tracepoint fallback of TRACEPOINT / RAW_TRACEPOINT programs.

        >>> from pybpf import link                                              # doctest: +SKIP
        >>> with pybpf.load("opens.bpf.o") as obj:
        ...     with link.kprobe(obj.programs["on_openat2"], "do_sys_openat2"):
        ...         open("/etc/hostname").close()
    """
    kind = "kretprobe" if retprobe else "kprobe"
    syscall = syscall_of(function)
    fallback = _FALLBACK_TYPES.get(prog.type)
    if fallback is not None:
        if syscall is None:
            raise NotSupportedError(
                f"a {prog.type.name} program on {kind} {function}",
                reason="only kprobes on syscall functions have a tracepoint to fall back to",
                alternative=refusal(kind, function, "", retprobe=retprobe).alternative,
            )
        return fallback(prog, syscall, retprobe)
    supported, reason = _feature("kprobe")
    if not supported:
        raise refusal(f"{kind}s", function, reason, retprobe=retprobe)
    pmu = _pmu_type()
    where = f"{kind} {function}{f'+{offset}' if offset else ''}"

    def again(new: Program) -> Link:
        return kprobe(new, function, offset=offset, retprobe=retprobe, cookie=cookie, maxactive=maxactive)

    if pmu is not None:
        pfd = _open_pmu(pmu, function, offset, retprobe)
        return attach_perf_fd(prog, pfd, description=where, cookie=cookie, reattach=again)
    pfd, remove = _open_legacy(function, offset, retprobe, maxactive)
    return attach_perf_fd(prog, pfd, description=f"{where} (kprobe_events)", cookie=cookie, cleanups=[remove],
                          reattach=again)


def kretprobe(prog: Program, function: str, *, cookie: int = 0, maxactive: int = 0) -> Link:
    """:func:`kprobe` on the return of ``function`` (kernel >= 4.1).

        >>> link.kretprobe(obj.programs["on_ret"], "do_sys_openat2")             # doctest: +SKIP
    """
    return kprobe(prog, function, retprobe=True, cookie=cookie, maxactive=maxactive)


def ksyscall(prog: Program, syscall: str, *, retprobe: bool = False, cookie: int = 0) -> Link:
    """Attach to syscall ``syscall`` (``"openat"``) through its architecture's entry function
    (``__x64_sys_openat``); TRACEPOINT/RAW_TRACEPOINT programs take the syscall tracepoints.

    Kernel >= 4.17 (syscall wrappers). On a kernel without kprobes a KPROBE program gets a
    NotSupportedError that names ``syscalls:sys_enter_<syscall>`` / ``sys_exit_<syscall>``.

        >>> link.ksyscall(obj.programs["on_openat"], "openat")                  # doctest: +SKIP
    """
    function = syscall_function(syscall)
    if prog.type in _FALLBACK_TYPES and syscall_of(function) is None:
        raise NotSupportedError(f"syscall {syscall!r}", reason="tracefs has no syscalls:sys_enter_" + syscall,
                                alternative="check the syscall name (pybpf.tracefs.tracepoints('syscalls'))")
    return kprobe(prog, function, retprobe=retprobe, cookie=cookie)


def _expand(pattern: str) -> list[str]:
    try:
        text = (tracefs.root() / "available_filter_functions").read_text()
    except OSError:
        return []
    names = {line.split()[0] for line in text.splitlines() if line}
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def kprobe_multi(
    prog: Program,
    functions: Sequence[str] | str,
    *,
    retprobe: bool = False,
    cookies: Sequence[int] | None = None,
) -> Link:
    """Attach ``prog`` to many kernel functions with one link (kprobe.multi, kernel >= 5.18,
    CONFIG_FPROBE). ``functions`` is a list of names or one glob pattern (``"tcp_*"``).

        >>> link.kprobe_multi(obj.programs["on_any"], "vfs_*")                   # doctest: +SKIP
    """
    names = _expand(functions) if isinstance(functions, str) else list(functions)
    label = functions if isinstance(functions, str) else ", ".join(names[:3]) + ("..." if len(names) > 3 else "")
    supported, reason = _feature("kprobe_multi")
    if not supported:
        raise refusal("kprobe.multi", names[0] if names else str(functions), reason, retprobe=retprobe)
    if not names:
        raise NotSupportedError(f"kprobe.multi on {functions!r}", reason="no kernel function matches",
                                alternative="check available_filter_functions in tracefs")
    fd = _sys.link_create_kprobe_multi(prog.fd, symbols=names, cookies=cookies, retprobe=retprobe)
    return Link(fd=fd, program=prog, description=f"kprobe.multi{' (return)' if retprobe else ''} {label}")


__all__ = ["kprobe", "kprobe_multi", "kretprobe", "ksyscall", "remove_stale_probes"]
