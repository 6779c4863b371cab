"""What the rewriter needs to know about the target kernel, behind one small interface:
tracepoint formats, whether kprobes work, the syscall wrapper prefix and the CPU count.

:class:`LiveKernel` asks the running kernel (tracefs, :mod:`pybpf.features`); tests pass a
:class:`StaticKernel` with fixed answers, so rewriting is pure and testable without root.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from typing import Protocol

from ... import tracefs
from ...errors import BPFError
from ...link.alternatives import ARCH_SYSCALL_PREFIX, SYSCALL_PREFIXES


class KernelInfo(Protocol):
    """The facts about the target kernel that rewriting depends on."""

    has_kprobes: bool
    ncpus: int
    syscall_prefix: str

    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        """The tracepoint's format, None when it does not exist."""
        ...

    def tracepoints(self, category: str) -> list[str]:
        """The tracepoint names of ``category`` (empty when unknown)."""
        ...


class LiveKernel:
    """The running kernel (reads tracefs; mounts it when needed)."""

    def __init__(self) -> None:
        from ... import _sys, features

        self.has_kprobes = features.feature("kprobe").supported
        self.ncpus = _sys.possible_cpus()
        self.syscall_prefix = ARCH_SYSCALL_PREFIX.get(platform.machine(), "sys_")

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance per process (see live_kernel)
    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        try:
            if not tracefs.tracepoint_exists(category, event):
                return None
            return tracefs.tracepoint_format(category, event)
        except (BPFError, OSError, ValueError):
            return None

    def tracepoints(self, category: str) -> list[str]:
        try:
            return tracefs.tracepoints(category)
        except (BPFError, OSError):
            return []


@functools.lru_cache(maxsize=1)
def live_kernel() -> LiveKernel:
    """The one :class:`LiveKernel` of this process (its answers are cached)."""
    return LiveKernel()


@dataclass
class StaticKernel:
    """Fixed answers: ``formats`` maps ``"cat:event"`` to a format file's text."""

    formats: dict[str, str] = field(default_factory=dict)
    has_kprobes: bool = False
    ncpus: int = 4
    syscall_prefix: str = "__x64_sys_"

    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        text = self.formats.get(f"{category}:{event}")
        return tracefs.parse_format(text) if text is not None else None

    def tracepoints(self, category: str) -> list[str]:
        return sorted(k.split(":", 1)[1] for k in self.formats if k.startswith(category + ":"))


def syscall_name(function: str, kernel: KernelInfo) -> str | None:
    """The syscall a kernel function (``__x64_sys_clone``, ``sys_clone``...) implements,
    when the kernel has its ``syscalls:sys_enter_<name>`` tracepoint."""
    for prefix in SYSCALL_PREFIXES:
        if function.startswith(prefix):
            name = function[len(prefix):]
            if name and kernel.tracepoint_format("syscalls", f"sys_enter_{name}") is not None:
                return name
    return None


__all__ = ["KernelInfo", "LiveKernel", "StaticKernel", "live_kernel", "syscall_name"]
