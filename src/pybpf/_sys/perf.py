"""perf_event_open helpers: building common attrs and the perf ioctls."""

from __future__ import annotations

from .abi import PerfFlags, PerfIoctl, PerfSwConfig, PerfType
from .fd import FD, FdLike, fdno
from .perf_attr import PerfEventAttr
from .syscall import ioctl, perf_event_open


def software_event(
    config: PerfSwConfig, *, sample_period: int = 0, sample_freq: int = 0, disabled: bool = False,
) -> PerfEventAttr:
    """A ``perf_event_attr`` for a software event (e.g. PerfSwConfig.CPU_CLOCK)."""
    attr = PerfEventAttr(type=int(PerfType.SOFTWARE), config=int(config))
    if sample_freq:
        attr.sample_freq, attr.freq = sample_freq, 1
    else:
        attr.sample_period = sample_period
    attr.disabled = int(disabled)
    return attr


def tracepoint_event(tracepoint_id: int) -> PerfEventAttr:
    """A ``perf_event_attr`` for a tracefs tracepoint id (``events/<cat>/<name>/id``)."""
    attr = PerfEventAttr(type=int(PerfType.TRACEPOINT), config=tracepoint_id)
    attr.sample_period, attr.wakeup_events = 1, 1
    return attr


def perf_event_enable(fd: FdLike) -> None:
    """PERF_EVENT_IOC_ENABLE."""
    ioctl(fdno(fd), PerfIoctl.ENABLE, 0, what="PERF_EVENT_IOC_ENABLE")


def perf_event_disable(fd: FdLike) -> None:
    """PERF_EVENT_IOC_DISABLE."""
    ioctl(fdno(fd), PerfIoctl.DISABLE, 0, what="PERF_EVENT_IOC_DISABLE")


def perf_event_set_bpf(fd: FdLike, prog_fd: FdLike) -> None:
    """PERF_EVENT_IOC_SET_BPF: attach a program to the event (the pre-5.15 way, no link)."""
    ioctl(fdno(fd), PerfIoctl.SET_BPF, fdno(prog_fd), what="PERF_EVENT_IOC_SET_BPF")


__all__ = [
    "FD", "PerfEventAttr", "PerfFlags", "perf_event_disable", "perf_event_enable", "perf_event_open",
    "perf_event_set_bpf", "software_event", "tracepoint_event",
]
