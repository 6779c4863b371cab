"""uprobes, uretprobes and uprobe.multi: programs on functions of user-space binaries.

Placement (pure ELF reading, :mod:`pybpf.link._uprobe_resolve`): ``binary`` is a path or a
library name resolved like the dynamic loader does (``"c"`` -> ``/lib/x86_64-linux-gnu/libc.so.6``);
``symbol`` is a function name (``"malloc"``, ``"malloc@@GLIBC_2.2.5"``, ``"main+0x10"``), an
address as ``nm`` prints it (``0x401136``), turned into the file offset of its ``PT_LOAD``
segment.

How a uprobe is made, in order:

1. the perf ``uprobe`` PMU (``/sys/bus/event_source/devices/uprobe``, kernel >= 4.17): the
   ``retprobe`` and ``ref_ctr_offset`` config bits come from the PMU's ``format/`` files; the
   probe lives as long as its perf event fd, then a BPF perf link (5.15) or the
   ``PERF_EVENT_IOC_SET_BPF`` ioctl;
2. tracefs ``uprobe_events`` (kernel >= 4.1) when the PMU is missing: a ``p:pybpf/<name>``
   entry, removed on close (stale entries of dead pybpf processes are removed first).

:func:`uprobe_multi` puts many offsets of one file in a single BPF_TRACE_UPROBE_MULTI link
(kernel >= 6.6; the program must be loaded for it: ``SEC("uprobe.multi/...")``); on older
kernels it falls back to one perf uprobe per target, grouped in a
:class:`~pybpf.link.LinkGroup`.

``pid`` limits the probe to one process (None: every process that maps the file).

Sections that ``Collection.attach_all`` attaches (through :mod:`pybpf.link.auto`):
``uprobe/PATH:FUNC[+OFF]``, ``uretprobe/PATH:FUNC``, ``uprobe.multi/PATH:GLOB``,
``uretprobe.multi/PATH:GLOB`` (and their ``.s`` sleepable forms), ``usdt/PATH:PROVIDER:NAME``.
PATH is absolute (``uprobe//usr/bin/bash:readline``) or a library name (``uprobe/c:malloc``).
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _sys, tracefs
from ..errors import BPFError, NotSupportedError, SyscallError
from ._uprobe_resolve import BinaryImage, ProbeTarget, UprobeTargetError, find_library
from .base import Link, LinkGroup
from .perf_event import attach_perf_fd

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")

_PMU = Path("/sys/bus/event_source/devices/uprobe")
_GROUP = "pybpf"
_counter = itertools.count()


# -- the uprobe PMU --------------------------------------------------------------------------


def _pmu_type() -> int | None:
    try:
        return int((_PMU / "type").read_text())
    except (OSError, ValueError):
        return None


def _config_field(name: str, default: int) -> int:
    """The first config bit of the PMU format field ``name`` (``retprobe`` -> ``config:0``)."""
    try:
        text = (_PMU / "format" / name).read_text().strip()
        return int(text.split(":")[1].split("-")[0])
    except (OSError, ValueError, IndexError):
        return default


def _feature(name: str) -> tuple[bool, str]:
    from .. import features

    result = features.feature(name)
    return result.supported, result.reason


def _perf_target(pid: int | None) -> tuple[int, int]:
    """(pid, cpu) for perf_event_open: every process (-1 on cpu 0) or one process on any CPU."""
    return (-1, 0) if pid is None else (pid, -1)


def _open_pmu(pmu: int, path: str, offset: int, *, pid: int | None, retprobe: bool, ref_ctr_offset: int) -> _sys.FD:
    name = ctypes.create_string_buffer(os.fsencode(path))
    attr = _sys.PerfEventAttr(type=pmu)
    config = (1 << _config_field("retprobe", 0)) if retprobe else 0
    if ref_ctr_offset:
        config |= ref_ctr_offset << _config_field("ref_ctr_offset", 32)
    attr.config = config
    attr.uprobe_path = ctypes.addressof(name)
    attr.probe_offset = offset
    attr.sample_period, attr.wakeup_events = 1, 1
    attr.disabled = 1
    p, cpu = _perf_target(pid)
    try:
        fd = _sys.perf_event_open(attr, pid=p, cpu=cpu)
    except SyscallError as exc:
        raise _explain(exc, path, offset, pid) from None
    del name
    return fd


def _explain(exc: SyscallError, path: str, offset: int, pid: int | None) -> BPFError:
    hints = {
        errno.ESRCH: f"process {pid} does not exist",
        errno.EINVAL: f"offset {offset:#x} is not an instruction in {path}, or the PMU refused the config",
        errno.ENOENT: f"{path} does not exist",
    }
    hint = hints.get(exc.errno or 0)
    return SyscallError(f"perf_event_open of a uprobe on {path}:{offset:#x}", exc.errno or errno.EIO,
                        hint or "") if hint else exc


# -- tracefs uprobe_events (no PMU) --------------------------------------------------------


def _open_legacy(path: str, offset: int, *, pid: int | None, retprobe: bool,
                 ref_ctr_offset: int) -> tuple[_sys.FD, Callable[[], None]]:
    from .kprobe import remove_stale_probes

    remove_stale_probes("uprobe_events")
    safe = re.sub(r"[^A-Za-z0-9_]", "_", os.path.basename(path))[:32]
    name = f"pybpf_{os.getpid()}_{safe}_{offset:x}_{next(_counter)}"
    target = f"{path}:{offset:#x}" + (f"({ref_ctr_offset:#x})" if ref_ctr_offset else "")
    tracefs.write_dynamic_event("uprobe_events", f"{'r' if retprobe else 'p'}:{_GROUP}/{name} {target}")

    def remove() -> None:
        tracefs.write_dynamic_event("uprobe_events", f"-:{_GROUP}/{name}")

    p, cpu = _perf_target(pid)
    try:
        pfd = _sys.perf_event_open(_sys.tracepoint_event(tracefs.tracepoint_id(_GROUP, name)), pid=p, cpu=cpu)
    except BaseException:
        remove()
        raise
    return pfd, remove


# -- attaching -------------------------------------------------------------------------------


def attach_offset(
    prog: Program, path: str, offset: int, *, pid: int | None = None, retprobe: bool = False, cookie: int = 0,
    ref_ctr_offset: int = 0, description: str = "",
) -> Link:
    """Attach ``prog`` at file ``offset`` of ``path`` (already resolved; used by :func:`uprobe` and USDT)."""
    kind = "uretprobe" if retprobe else "uprobe"
    where = description or f"{kind} {path}:{offset:#x}"
    if pid is not None:
        where += f" pid={pid}"
    pmu = _pmu_type()
    if pmu is not None:
        pfd = _open_pmu(pmu, path, offset, pid=pid, retprobe=retprobe, ref_ctr_offset=ref_ctr_offset)
        return attach_perf_fd(prog, pfd, description=where, cookie=cookie)
    supported, reason = _feature("uprobe")
    if not supported:
        raise NotSupportedError(f"{kind}s", reason=reason,
                                alternative="use a tracepoint, or sample user stacks with a perf_event program")
    pfd, remove = _open_legacy(path, offset, pid=pid, retprobe=retprobe, ref_ctr_offset=ref_ctr_offset)
    return attach_perf_fd(prog, pfd, description=f"{where} (uprobe_events)", cookie=cookie, cleanups=[remove])


def resolve(binary: str | os.PathLike[str], symbol: str | int, offset: int = 0) -> ProbeTarget:
    """Where :func:`uprobe` would put a probe: the binary's path, the symbol and its file offset.

        >>> resolve("c", "malloc").offset                                   # doctest: +SKIP
        624944
    """
    return BinaryImage.open(find_library(binary)).resolve(symbol, offset)


def uprobe(
    prog: Program,
    binary: str | os.PathLike[str],
    symbol: str | int,
    *,
    pid: int | None = None,
    retprobe: bool = False,
    offset: int = 0,
    cookie: int = 0,
    ref_ctr_offset: int = 0,
) -> Link:
    """Attach ``prog`` (a KPROBE-type program, ``SEC("uprobe")``) to ``symbol`` in ``binary``,
    or to its return with ``retprobe=True``.

    ``binary``: a path or a library name (``"c"``, ``"libssl.so.3"``); ``symbol``: a function
    name (versioned as ``malloc@@GLIBC_2.2.5`` or not, ``"func+0x10"``), or a virtual address
    (``int`` or ``"0x401136"``); ``offset`` is added to it. ``pid`` limits the probe to one
    process; ``cookie`` is what ``bpf_get_attach_cookie()`` returns (kernel >= 5.15);
    ``ref_ctr_offset`` is the file offset of a USDT-style semaphore the kernel increments while
    the probe is attached (kernel >= 4.20).

    Kernel >= 4.17 (perf uprobe PMU; tracefs ``uprobe_events`` from 4.1).

        >>> import pybpf                                                         # doctest: +SKIP
        >>> from pybpf import link  # doctest: +SKIP
        >>> with pybpf.load("malloc.bpf.o") as obj:  # doctest: +SKIP
        ...     with link.uprobe(obj.programs["on_malloc"], "c", "malloc", pid=os.getpid()):
        ...         bytearray(1 << 20)
        ...     print(obj.maps["calls"][0])
    """
    target = resolve(binary, symbol, offset)
    kind = "uretprobe" if retprobe else "uprobe"
    return attach_offset(prog, target.path, target.offset, pid=pid, retprobe=retprobe, cookie=cookie,
                         ref_ctr_offset=ref_ctr_offset, description=f"{kind} {target.path}:{target.symbol}")


def uretprobe(
    prog: Program, binary: str | os.PathLike[str], symbol: str | int, *, pid: int | None = None, offset: int = 0,
    cookie: int = 0, ref_ctr_offset: int = 0,
) -> Link:
    """:func:`uprobe` on the return of ``symbol`` (kernel >= 4.17); ``PT_REGS_RC(ctx)`` is the return value.

        >>> link.uretprobe(obj.programs["on_ret"], "c", "malloc")                  # doctest: +SKIP
    """
    return uprobe(prog, binary, symbol, pid=pid, retprobe=True, offset=offset, cookie=cookie,
                  ref_ctr_offset=ref_ctr_offset)


def multi_targets(binary: str | os.PathLike[str], symbols: str | Sequence[str | int]) -> list[ProbeTarget]:
    """The targets of :func:`uprobe_multi`: one glob pattern, or a list of symbols/addresses."""
    image = BinaryImage.open(find_library(binary))
    if isinstance(symbols, str):
        targets = image.match(symbols) if any(c in symbols for c in "*?[") else [image.resolve(symbols)]
    else:
        targets = [image.resolve(s) for s in symbols]
    if not targets:
        raise UprobeTargetError(f"no function in {image.path} matches {symbols!r}")
    return targets


def uprobe_multi(
    prog: Program,
    binary: str | os.PathLike[str],
    symbols: str | Sequence[str | int],
    *,
    pid: int | None = None,
    retprobe: bool = False,
    cookies: Sequence[int] | None = None,
    ref_ctr_offsets: Sequence[int] | None = None,
) -> Link:
    """Attach ``prog`` to many functions of ``binary`` with one link.

    ``symbols`` is one glob pattern (``"malloc*"``) or a list of names/addresses; ``cookies``
    (one per target, in the order of the list, or of the sorted names for a pattern) are what
    ``bpf_get_attach_cookie()`` returns. The program must be loaded for uprobe.multi
    (``SEC("uprobe.multi")`` / ``SEC("uretprobe.multi")``).

    Kernel >= 6.6 (BPF_TRACE_UPROBE_MULTI); on older kernels one perf uprobe per target
    (then load the program as a plain ``SEC("uprobe")``).

        >>> link.uprobe_multi(obj.programs["on_alloc"], "c", "malloc*")            # doctest: +SKIP
    """
    targets = multi_targets(binary, symbols)
    if cookies is not None and len(cookies) != len(targets):
        raise BPFError(f"uprobe_multi: {len(cookies)} cookies for {len(targets)} targets "
                       f"({', '.join(t.symbol for t in targets[:5])}...)")
    label = symbols if isinstance(symbols, str) else ", ".join(t.symbol for t in targets[:3])
    kind = "uretprobe.multi" if retprobe else "uprobe.multi"
    where = f"{kind} {targets[0].path}:{label} ({len(targets)} targets)" + (f" pid={pid}" if pid is not None else "")
    supported, reason = _feature("uprobe_multi")
    if not supported:
        log.info("%s: %s; attaching one uprobe per target", kind, reason)
        links: list[Link] = []
        try:
            for i, t in enumerate(targets):
                links.append(attach_offset(
                    prog, t.path, t.offset, pid=pid, retprobe=retprobe, cookie=cookies[i] if cookies else 0,
                    ref_ctr_offset=ref_ctr_offsets[i] if ref_ctr_offsets else 0,
                    description=f"{'uretprobe' if retprobe else 'uprobe'} {t.path}:{t.symbol}"))
        except BaseException:
            for member in links:
                member.close()
            raise
        return LinkGroup(links, program=prog, description=where)
    try:
        fd = _sys.link_create_uprobe_multi(
            prog.fd, targets[0].path, [t.offset for t in targets], ref_ctr_offsets=ref_ctr_offsets, cookies=cookies,
            pid=pid or 0, retprobe=retprobe)
    except SyscallError as exc:
        if exc.errno == errno.EINVAL:
            raise BPFError(f"{where}: the kernel refused the link (EINVAL): the program must be loaded from a "
                           "SEC(\"uprobe.multi\") / SEC(\"uretprobe.multi\") section (expected attach type "
                           "TRACE_UPROBE_MULTI) -- or use link.uprobe() per function -- and every offset must "
                           "start an instruction") from None
        raise
    return Link(fd=fd, program=prog, description=where)


__all__ = ["attach_offset", "multi_targets", "resolve", "uprobe", "uprobe_multi", "uretprobe"]
