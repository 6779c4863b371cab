"""perf events: attaching a program to a perf event fd, and sampling programs (``SEC("perf_event")``).

:func:`attach_perf_fd` is what tracepoint, kprobe and uprobe links share: a BPF perf link
(BPF_LINK_CREATE, kernel >= 5.15), or on older kernels ``PERF_EVENT_IOC_SET_BPF`` (4.1+),
which gives a :class:`~pybpf.link.Link` without a link fd.

:func:`perf_event` samples every CPU (or one) with a software clock at a frequency or a
period, or with a hardware counter where the CPU has a PMU the kernel drives.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Union

from .. import _sys
from .._log import get_logger
from .._sys import PerfHwConfig, PerfSwConfig, PerfType
from .._sys.cpus import parse_cpu_list
from ..errors import BPFError, NotSupportedError, SyscallError
from .base import Closeable, Link, LinkGroup

if TYPE_CHECKING:
    from ..program import Program

log = get_logger("pybpf.link")

#: errnos of BPF_LINK_CREATE that mean "this kernel has no perf links" (then use the ioctl).
_NO_PERF_LINK = frozenset({errno.EINVAL, errno.EOPNOTSUPP, _sys.ENOTSUPP})
_ONLINE = "/sys/devices/system/cpu/online"
#: A perf PMU for hardware counters (x86 ``cpu``, arm ``armv8_pmuv3*``...): its sysfs entry.
_PMU_DIR = "/sys/bus/event_source/devices"
_DEFAULT_FREQUENCY = 99


def attach_perf_fd(
    prog: Program,
    perf_fd: _sys.FD,
    *,
    description: str,
    cookie: int = 0,
    cleanups: Iterable[Callable[[], None]] = (),
    use_link: bool = True,
    reattach: Callable[[Program], Link] | None = None,
) -> Link:
    """Attach ``prog`` to an open perf event and enable it; the Link owns ``perf_fd``.

    On failure ``perf_fd`` is closed and ``cleanups`` run before the error propagates.
    ``use_link=False`` forces the pre-5.15 ioctl path (for tests and old kernels).
    """
    owned: list[Closeable] = [perf_fd]
    cleanup_list = list(cleanups)
    try:
        link_fd: _sys.FD | None = None
        if use_link:
            try:
                link_fd = _sys.link_create_perf_event(prog.fd, perf_fd, cookie=cookie)
            except SyscallError as exc:
                if exc.errno not in _NO_PERF_LINK:
                    raise
                log.debug("no BPF perf link for %s (%s); using PERF_EVENT_IOC_SET_BPF", description, exc)
        if link_fd is None:
            if cookie:
                raise NotSupportedError("BPF cookies on perf events", reason="the kernel has no BPF perf links (5.15)",
                                        alternative="attach without a cookie")
            _sys.perf_event_set_bpf(perf_fd, prog.fd)
        _sys.perf_event_enable(perf_fd)
    except SyscallError as exc:
        _undo(perf_fd, cleanup_list)
        if exc.errno == errno.EACCES and os.geteuid() == 0:
            raise AttachRefusedError(
                f"attaching {prog.name} to {description} was refused with EACCES although we run as root: the "
                "program reads its context past the end of this event's record (a program written for another "
                "tracepoint's format?); check the fields against the tracepoint's format file "
                "(pybpf.tracefs.tracepoint_format)") from None
        raise
    except BaseException:
        _undo(perf_fd, cleanup_list)
        raise
    return Link(fd=link_fd, program=prog, description=description, resources=owned, cleanups=cleanup_list,
                reattach=reattach)


def _undo(perf_fd: _sys.FD, cleanups: list[Callable[[], None]]) -> None:
    perf_fd.close()
    for fn in cleanups:
        fn()


class AttachRefusedError(BPFError):
    """The kernel refused to attach this program to this event (see the message for why)."""


def online_cpus() -> list[int]:
    """The CPUs that are online now (``/sys/devices/system/cpu/online``)."""
    try:
        with open(_ONLINE) as f:
            return parse_cpu_list(f.read())
    except (OSError, ValueError):
        return [0]


def hardware_pmu() -> str | None:
    """The name of a PMU that drives hardware counters, or None (e.g. in most VMs)."""
    try:
        names = os.listdir(_PMU_DIR)
    except OSError:
        return None
    for name in names:
        if name == "cpu" or name.startswith(("cpu_", "armv", "riscv_pmu", "cpum_cf")):
            return name
    return None


Event = Union[PerfSwConfig, PerfHwConfig]

#: The perf ``type`` per event enum.
_EVENT_TYPES: dict[type, PerfType] = {PerfSwConfig: PerfType.SOFTWARE, PerfHwConfig: PerfType.HARDWARE}


def _sampling_attr(event: Event, frequency: int | None, period: int | None) -> _sys.PerfEventAttr:
    if frequency is not None and period is not None:
        raise ValueError("give either frequency or period, not both")
    if frequency is None and period is None:
        frequency = _DEFAULT_FREQUENCY
    attr = _sys.PerfEventAttr(type=int(_EVENT_TYPES[type(event)]), config=int(event))
    if frequency is not None:
        if frequency <= 0:
            raise ValueError(f"frequency must be positive, got {frequency}")
        attr.sample_freq, attr.freq = frequency, 1
    else:
        assert period is not None
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        attr.sample_period = period
    attr.disabled = 1
    return attr


def _check_hardware(event: Event) -> None:
    if isinstance(event, PerfHwConfig) and hardware_pmu() is None:
        raise NotSupportedError(
            f"hardware perf event {event.name}",
            reason=f"no hardware PMU is exposed ({_PMU_DIR} has no cpu PMU; common in virtual machines)",
            alternative="sample with a software event: pybpf.link.perf_event(prog, event=PerfSwConfig.CPU_CLOCK)",
        )


def perf_event(
    prog: Program,
    *,
    frequency: int | None = None,
    period: int | None = None,
    event: Event = PerfSwConfig.CPU_CLOCK,
    cpu: int | None = None,
    pid: int = -1,
    cookie: int = 0,
) -> LinkGroup:
    """Run ``prog`` (a ``SEC("perf_event")`` program) on each sample of ``event``.

    Samples every online CPU (or only ``cpu``) ``frequency`` times a second (default 99) or
    every ``period`` events (for CPU_CLOCK: nanoseconds). ``pid`` limits it to one process
    (default -1: every process). Hardware events raise NotSupportedError where the machine has
    no hardware PMU. Kernel >= 4.9 (perf_event programs), 5.15 for links.

        >>> from pybpf import link                                        # doctest: +SKIP
        >>> with pybpf.load("profile.bpf.o") as obj:
        ...     with link.perf_event(obj.programs["on_sample"], frequency=999):
        ...         time.sleep(1)
    """
    _check_hardware(event)
    cpus = [cpu] if cpu is not None else online_cpus()
    links: list[Link] = []
    try:
        for c in cpus:
            attr = _sampling_attr(event, frequency, period)
            try:
                pfd = _sys.perf_event_open(attr, pid=pid, cpu=c)
            except SyscallError as exc:
                if isinstance(event, PerfHwConfig) and exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV):
                    raise NotSupportedError(f"hardware perf event {event.name}",
                                            reason=f"perf_event_open answered {errno.errorcode.get(exc.errno or 0)}",
                                            alternative="sample with PerfSwConfig.CPU_CLOCK") from None
                raise
            how = f"{frequency} Hz" if frequency is not None else (f"every {period}" if period else f"{_DEFAULT_FREQUENCY} Hz")
            links.append(attach_perf_fd(prog, pfd, description=f"perf_event {event.name} cpu {c} {how}", cookie=cookie))
    except BaseException:
        for done in links:
            done.close()
        raise
    where = f"cpu {cpu}" if cpu is not None else f"{len(cpus)} cpus"
    return LinkGroup(links, program=prog, description=f"perf_event {event.name} on {where}",
                     reattach=lambda new: perf_event(new, frequency=frequency, period=period, event=event,
                                                     cpu=cpu, pid=pid, cookie=cookie))


__all__ = ["AttachRefusedError", "attach_perf_fd", "hardware_pmu", "online_cpus", "perf_event"]
