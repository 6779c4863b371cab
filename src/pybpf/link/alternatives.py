"""Which tracepoints cover the same event as a kernel function (for kprobe/fentry refusals).

A syscall's entry function (``__x64_sys_openat``, ``do_sys_openat2``, ``ksys_read``...) is
covered exactly by ``syscalls:sys_enter_<name>`` and ``syscalls:sys_exit_<name>``; for any
other function the tracepoints whose names share the longest ``_``-separated prefix with it
are the nearest thing (``tcp_v4_connect`` -> ``tcp:tcp_*``). The bcc front end builds its
kprobe -> tracepoint rewriting on :func:`syscall_of` and :func:`covering_tracepoints`.

    >>> syscall_of("__x64_sys_openat")                         # doctest: +SKIP
    'openat'
    >>> covering_tracepoints("do_sys_openat2")                 # doctest: +SKIP
    ['syscalls:sys_enter_openat2', 'syscalls:sys_exit_openat2']
"""

from __future__ import annotations

import platform

from .. import tracefs
from ..errors import BPFError, NotSupportedError

#: Prefixes of the kernel functions that implement a syscall, most specific first.
SYSCALL_PREFIXES = (
    "__x64_sys_", "__ia32_sys_", "__ia32_compat_sys_", "__x32_compat_sys_", "__arm64_sys_",
    "__arm64_compat_sys_", "__riscv_sys_", "__s390x_sys_", "__s390_sys_", "__powerpc_sys_",
    "__se_sys_", "__do_sys_", "__se_compat_sys_", "__do_compat_sys_", "compat_sys_",
    "do_sys_", "ksys_", "__sys_", "sys_",
)

#: The syscall wrapper prefix per machine (kernels >= 4.17 with syscall wrappers).
ARCH_SYSCALL_PREFIX: dict[str, str] = {
    "x86_64": "__x64_sys_", "aarch64": "__arm64_sys_", "arm64": "__arm64_sys_", "riscv64": "__riscv_sys_",
    "s390x": "__s390x_sys_", "ppc64le": "__powerpc_sys_", "ppc64": "__powerpc_sys_",
}


def syscall_function(syscall: str, *, machine: str | None = None) -> str:
    """The kernel function a kprobe on syscall ``syscall`` targets (``openat`` -> ``__x64_sys_openat``)."""
    return ARCH_SYSCALL_PREFIX.get(machine or platform.machine(), "sys_") + syscall


def _tp_exists(category: str, name: str) -> bool:
    try:
        return tracefs.tracepoint_exists(category, name)
    except (BPFError, OSError):
        return False


def syscall_of(function: str) -> str | None:
    """The syscall name ``function`` implements, if tracefs has its ``syscalls`` tracepoints."""
    for prefix in SYSCALL_PREFIXES:
        if function.startswith(prefix):
            name = function[len(prefix):]
            if name and _tp_exists("syscalls", f"sys_enter_{name}"):
                return name
    return None


def covering_tracepoints(function: str, *, retprobe: bool | None = None) -> list[str]:
    """``"category:name"`` tracepoints that cover ``function``'s event, best first.

    For a syscall function, its enter and exit tracepoints (only exit for ``retprobe=True``,
    only enter for ``retprobe=False``, both for None); otherwise tracepoints with names like it.
    """
    syscall = syscall_of(function)
    if syscall is not None:
        enter, leave = f"syscalls:sys_enter_{syscall}", f"syscalls:sys_exit_{syscall}"
        return {None: [enter, leave], False: [enter], True: [leave]}[retprobe]
    stripped = function.lstrip("_")
    for prefix in ("do_", "__do_"):
        stripped = stripped.removeprefix(prefix)
    try:
        return tracefs.similar_tracepoints(stripped.split("_")[0], stripped)
    except (BPFError, OSError):
        return []


def alternative_text(function: str, *, retprobe: bool | None = None) -> str:
    """The sentence a NotSupportedError ends with: which tracepoint to use instead."""
    tps = covering_tracepoints(function, retprobe=retprobe)
    if not tps:
        return (f"no tracepoint is named like {function}; use a raw tracepoint (SEC(\"raw_tp/<name>\")) "
                f"near that code path: list them with pybpf.tracefs.categories() / pybpf.tracefs.tracepoints(cat)")
    exact = syscall_of(function) is not None
    what = "the same event" if exact else "related events"
    first_cat, first_name = tps[0].split(":", 1)
    return (f"use a tracepoint, which covers {what}: {', '.join(tps)} "
            f"(SEC(\"tracepoint/{first_cat}/{first_name}\") with pybpf.link.tracepoint(prog, {first_cat!r}, {first_name!r}))")


def refusal(feature: str, function: str, reason: str, *, retprobe: bool | None = None) -> NotSupportedError:
    """The NotSupportedError for ``feature`` on ``function``: the reason and the tracepoints instead."""
    return NotSupportedError(f"{feature} ({function})", reason=reason, alternative=alternative_text(function, retprobe=retprobe))


__all__ = [
    "ARCH_SYSCALL_PREFIX", "SYSCALL_PREFIXES", "alternative_text", "covering_tracepoints", "refusal",
    "syscall_function", "syscall_of",
]
