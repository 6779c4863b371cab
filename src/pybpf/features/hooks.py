"""Probes for the ways a program can be attached (one function per attach kind).

Each probe returns a :data:`Verdict` ``(supported, reason)``; :mod:`.registry` adds the
minimum kernel version and the alternative. Where a real attach would touch the running
system (network hooks, cgroups), the probe passes a target that cannot exist and reads the
errno: the kernel checks the attach type *before* it looks the target up, so ``ENODEV`` /
``EBADF`` / ``ENOENT`` prove the attach kind is known. Tracing hooks are attached for real
(to harmless targets) and detached at once.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Callable

from .. import _sys
from ..enums import AttachType, ProgramType
from ..errors import SyscallError
from . import env
from ._core import config_note, describe_error, errno_name
from .progs import ProgProbe, btf_id_of, load, program_type

Verdict = tuple[bool, str]

#: An ifindex no device has (tcx/netkit look the device up after checking the attach type).
NO_SUCH_IFINDEX = 0x7FFFFFFF
#: Harmless functions the kernel keeps for BPF self-tests: fentry/fexit/fmod_ret targets.
FENTRY_TARGETS = ("bpf_fentry_test1", "bpf_fentry_test2")
FMOD_RET_TARGETS = ("bpf_modify_return_test",)
LSM_TARGETS = ("bpf_lsm_file_open",)
ITER_TARGETS = ("bpf_iter_bpf_map",)
TP_BTF_TARGETS = ("btf_trace_sys_enter", "btf_trace_sched_switch")


def _type_gate(pt: ProgramType) -> Verdict | None:
    """A negative verdict when the program type itself cannot be loaded."""
    r = program_type(pt)
    return None if r.supported else (False, f"{pt.name.lower()} programs cannot be loaded: {r.reason}")


def _link_probe(
    what: str,
    load_prog: Callable[[], _sys.FD],
    link: Callable[[_sys.FD], _sys.FD],
    known: dict[int, str],
    refused: dict[int, str],
) -> Verdict:
    """Load a program, try a link; ``known`` errnos prove support, ``refused`` ones explain its absence."""
    try:
        prog = load_prog()
    except SyscallError as exc:
        return False, describe_error(exc, f"loading the {what} program")
    try:
        link(prog).close()
        return True, f"{what}: the link attached (and was detached at once)"
    except SyscallError as exc:
        err = exc.errno or 0
        if err in known:
            return True, f"{what}: {known[err]} ({errno_name(err)} for a target that does not exist)"
        return False, f"{what}: {refused.get(err) or describe_error(exc, 'BPF_LINK_CREATE')}"
    finally:
        prog.close()


# --- probe-based hooks (kprobe, uprobe) ------------------------------------------------------


def kprobe() -> Verdict:
    """kprobes: the perf ``kprobe`` PMU (4.17) or tracefs ``kprobe_events``."""
    if (gate := _type_gate(ProgramType.KPROBE)) is not None:
        return gate
    ptype = env.pmu_type("kprobe")
    if ptype is not None:
        return _open_kprobe(ptype)
    tracefs = env.tracefs_dir()
    if tracefs is not None and (tracefs / "kprobe_events").exists():
        return True, f"tracefs has kprobe_events ({tracefs / 'kprobe_events'})"
    config = config_note("CONFIG_KPROBES")
    if tracefs is not None:
        where = "tracefs has no kprobe_events"
    else:
        events = config_note("CONFIG_KPROBE_EVENTS")
        where = f"tracefs is not mounted{f' and {events}' if events else ''}"
    head = f"{config}: " if config else "kprobes are not available: "
    return False, f"{head}{env.PMU_DIR / 'kprobe'} is missing and {where}"


#: Functions every kernel has, to open a (disabled) kprobe on.
KPROBE_TARGETS = ("do_nanosleep", "vfs_read", "do_sys_openat2")


def _open_kprobe(ptype: int) -> Verdict:
    """perf_event_open a disabled kprobe through the PMU and close it: kprobes really work."""
    target = btf_id_of(KPROBE_TARGETS)
    symbol = target[0] if target is not None else KPROBE_TARGETS[0]
    name = ctypes.create_string_buffer(symbol.encode())
    attr = _sys.PerfEventAttr(type=ptype)
    attr.kprobe_func = ctypes.addressof(name)
    attr.probe_offset = 0
    attr.disabled = 1
    try:
        _sys.perf_event_open(attr, pid=-1, cpu=0).close()
    except SyscallError as exc:
        return False, describe_error(exc, f"perf_event_open of a kprobe on {symbol} (kprobe PMU type {ptype})")
    return True, f"the perf kprobe PMU opened a kprobe on {symbol}"


def _uprobe_path() -> str:
    return env.own_executable()


def uprobe() -> Verdict:
    """uprobes: the perf ``uprobe`` PMU, opened on this process's own executable."""
    if (gate := _type_gate(ProgramType.KPROBE)) is not None:
        return gate
    ptype = env.pmu_type("uprobe")
    if ptype is None:
        tracefs = env.tracefs_dir()
        if tracefs is not None and (tracefs / "uprobe_events").exists():
            return True, f"tracefs has uprobe_events ({tracefs / 'uprobe_events'})"
        config = config_note("CONFIG_UPROBE_EVENTS")
        return False, f"{config + ': ' if config else ''}{env.PMU_DIR / 'uprobe'} is missing ({env.tracefs_note()})"
    path = _uprobe_path()
    name = ctypes.create_string_buffer(path.encode())
    attr = _sys.PerfEventAttr(type=ptype)
    attr.uprobe_path = ctypes.addressof(name)
    attr.probe_offset = env.entry_offset(path)
    attr.disabled = 1
    try:
        _sys.perf_event_open(attr, pid=os.getpid(), cpu=-1).close()
    except SyscallError as exc:
        return False, describe_error(exc, f"perf_event_open of a uprobe on {path}")
    return True, f"the perf uprobe PMU opened a uprobe on {path}"


def kprobe_multi() -> Verdict:
    """kprobe.multi links (5.18, needs CONFIG_FPROBE)."""
    if (gate := _type_gate(ProgramType.KPROBE)) is not None:
        return gate
    fprobe = config_note("CONFIG_FPROBE")
    return _link_probe(
        "kprobe.multi",
        lambda: load(ProgramType.KPROBE, probe=ProgProbe("", expected_attach_type=AttachType.TRACE_KPROBE_MULTI)),
        lambda prog: _sys.link_create_kprobe_multi(prog, symbols=["pybpf_probe_no_such_function"]),
        {errno.ENOENT: "the kernel looked the symbol up", errno.ESRCH: "the kernel looked the symbol up"},
        {errno.EOPNOTSUPP: f"EOPNOTSUPP: the kernel has no fprobe support{f' ({fprobe})' if fprobe else ''}",
         errno.EINVAL: "EINVAL: the kernel does not know the kprobe.multi attach type"},
    )


def uprobe_multi() -> Verdict:
    """uprobe.multi links (6.6)."""
    if (gate := _type_gate(ProgramType.KPROBE)) is not None:
        return gate
    return _link_probe(
        "uprobe.multi",
        lambda: load(ProgramType.KPROBE, probe=ProgProbe("", expected_attach_type=AttachType.TRACE_UPROBE_MULTI)),
        lambda prog: _sys.link_create_uprobe_multi(prog, "/nonexistent/pybpf-probe", [0]),
        {errno.ENOENT: "the kernel looked the binary up"},
        {errno.EOPNOTSUPP: f"EOPNOTSUPP: the kernel has no uprobes ({config_note('CONFIG_UPROBES') or 'CONFIG_UPROBES'})",
         errno.EINVAL: "EINVAL: the kernel does not know the uprobe.multi attach type"},
    )


# --- tracepoints and trampolines -------------------------------------------------------------


def tracepoint() -> Verdict:
    """Tracepoints via perf_event_open(PERF_TYPE_TRACEPOINT): needs the ids tracefs publishes."""
    if (gate := _type_gate(ProgramType.TRACEPOINT)) is not None:
        return gate
    if env.pmu_type("tracepoint") is None:
        return False, f"{env.PMU_DIR / 'tracepoint'} is missing: the kernel has no tracepoint perf events"
    if env.tracefs_dir() is None and not env.filesystem_known("tracefs"):
        return False, "the kernel has no tracefs, so tracepoint ids cannot be read"
    return True, f"tracepoint programs load and the tracepoint PMU is present; {env.tracefs_note()}"


def raw_tp() -> Verdict:
    """Raw tracepoints (4.17): load and attach to sys_enter, then detach."""
    if (gate := _type_gate(ProgramType.RAW_TRACEPOINT)) is not None:
        return gate
    prog = load(ProgramType.RAW_TRACEPOINT)
    try:
        _sys.raw_tracepoint_open(prog, "sys_enter").close()
    except SyscallError as exc:
        return False, describe_error(exc, "BPF_RAW_TRACEPOINT_OPEN(sys_enter)")
    finally:
        prog.close()
    return True, "a raw_tp program attached to sys_enter (and was detached at once)"


def tp_btf() -> Verdict:
    """BTF-typed raw tracepoints (5.5): a TRACING program of attach type TRACE_RAW_TP."""
    target = btf_id_of(TP_BTF_TARGETS)
    if target is None:
        return False, f"the kernel BTF has none of {', '.join(TP_BTF_TARGETS)}"
    try:
        prog = load(ProgramType.TRACING, probe=ProgProbe(
            "", expected_attach_type=AttachType.TRACE_RAW_TP, attach_btf=TP_BTF_TARGETS))
    except SyscallError as exc:
        return False, describe_error(exc, f"loading a tp_btf program for {target[0]}")
    try:
        _sys.raw_tracepoint_open(prog).close()
    except SyscallError as exc:
        return False, describe_error(exc, f"attaching a tp_btf program to {target[0]}")
    finally:
        prog.close()
    return True, f"a tp_btf program for {target[0]} loaded and attached (and was detached at once)"


def _trampoline(label: str, pt: ProgramType, attach_type: AttachType, targets: tuple[str, ...]) -> Verdict:
    """Load and attach a program that needs a BPF trampoline (fentry/fexit/fmod_ret/lsm)."""
    target = btf_id_of(targets)
    if target is None:
        return False, f"the kernel BTF has none of {', '.join(targets)} to attach {label} to"
    name, btf_id = target
    what = f"BPF_PROG_LOAD of a {label} program for {name} (BTF id {btf_id})"
    try:
        prog = load(pt, probe=ProgProbe("", expected_attach_type=attach_type, attach_btf=targets))
    except SyscallError as exc:
        reason = describe_error(exc, what)
        if getattr(exc, "log", "") == "" and exc.errno in (errno.EINVAL, errno.ENOTSUP, _sys.ENOTSUPP):
            reason += ": the kernel cannot build a BPF trampoline here"
        return False, reason
    try:
        _sys.link_create_tracing(prog, attach_type).close()
    except SyscallError as exc:
        return False, describe_error(exc, f"attaching the {label} program to {name}")
    finally:
        prog.close()
    return True, f"a {label} program for {name} loaded and attached (and was detached at once)"


def fentry() -> Verdict:
    return _trampoline("fentry", ProgramType.TRACING, AttachType.TRACE_FENTRY, FENTRY_TARGETS)


def fexit() -> Verdict:
    return _trampoline("fexit", ProgramType.TRACING, AttachType.TRACE_FEXIT, FENTRY_TARGETS)


def fmod_ret() -> Verdict:
    return _trampoline("fmod_ret", ProgramType.TRACING, AttachType.MODIFY_RETURN, FMOD_RET_TARGETS)


def lsm() -> Verdict:
    verdict = _trampoline("lsm", ProgramType.LSM, AttachType.LSM_MAC, LSM_TARGETS)
    if not verdict[0] and config_note("CONFIG_BPF_LSM").endswith("is off"):
        return False, f"CONFIG_BPF_LSM is off; {verdict[1]}"
    return verdict


def perf_event() -> Verdict:
    """perf_event programs on a software cpu-clock event, linked with BPF_LINK_CREATE (5.15) or the ioctl."""
    if (gate := _type_gate(ProgramType.PERF_EVENT)) is not None:
        return gate
    attr = _sys.software_event(_sys.PerfSwConfig.CPU_CLOCK, sample_period=1 << 40, disabled=True)
    try:
        event = _sys.perf_event_open(attr, pid=0, cpu=-1)
    except SyscallError as exc:
        return False, describe_error(exc, "perf_event_open of a software cpu-clock event")
    prog = load(ProgramType.PERF_EVENT)
    try:
        try:
            _sys.link_create_perf_event(prog, event).close()
            how = "BPF_LINK_CREATE"
        except SyscallError:
            _sys.perf_event_set_bpf(event, prog)
            how = "PERF_EVENT_IOC_SET_BPF"
    except SyscallError as exc:
        return False, describe_error(exc, "attaching a perf_event program")
    finally:
        prog.close()
        event.close()
    return True, f"a perf_event program attached to a cpu-clock event with {how}"


# --- network and cgroup links ------------------------------------------------------------------


def _ifindex_link(label: str, pt: ProgramType, attach_type: AttachType, refused: dict[int, str]) -> Verdict:
    if (gate := _type_gate(pt)) is not None:
        return gate
    return _link_probe(
        label,
        lambda: load(pt, probe=ProgProbe("", expected_attach_type=attach_type)),
        lambda prog: _sys.link_create_ordered(prog, NO_SUCH_IFINDEX, attach_type),
        {errno.ENODEV: "the kernel looked the device up"},
        refused,
    )


def tcx() -> Verdict:
    """tcx links (6.6): multi-program tc ingress/egress without qdiscs."""
    return _ifindex_link("tcx", ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, {
        errno.EINVAL: f"EINVAL: the kernel does not know tcx links ({config_note('CONFIG_NET_XGRESS') or 'CONFIG_NET_XGRESS'})",
    })


def netkit() -> Verdict:
    """netkit device programs (6.7)."""
    return _ifindex_link("netkit", ProgramType.SCHED_CLS, AttachType.NETKIT_PRIMARY, {
        errno.EINVAL: f"EINVAL: the kernel has no netkit devices ({config_note('CONFIG_NETKIT') or 'CONFIG_NETKIT'})",
    })


def xdp_link() -> Verdict:
    """XDP links (5.9). The kernel answers EINVAL both for an unknown attach type and a missing
    device, so this probe attaches an XDP_PASS program to ``lo`` for an instant."""
    if (gate := _type_gate(ProgramType.XDP)) is not None:
        return gate
    ifindex = socket.if_nametoindex("lo")
    return _link_probe(
        "xdp link",
        lambda: load(ProgramType.XDP, "r0 = 2\nexit"),  # XDP_PASS
        lambda prog: _sys.link_create(prog, ifindex, AttachType.XDP),
        {errno.EBUSY: "lo already has an XDP program, so the kernel reached the device"},
        {errno.EINVAL: "EINVAL: the kernel does not know XDP links"},
    )


def cgroup_link() -> Verdict:
    """cgroup links (5.7): a cgroup_skb program linked to an fd that is not a cgroup."""
    if (gate := _type_gate(ProgramType.CGROUP_SKB)) is not None:
        return gate
    not_a_cgroup = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _link_probe(
            "cgroup link",
            lambda: load(ProgramType.CGROUP_SKB, "r0 = 1\nexit",
                         probe=ProgProbe("", expected_attach_type=AttachType.CGROUP_INET_INGRESS)),
            lambda prog: _sys.link_create(prog, not_a_cgroup, AttachType.CGROUP_INET_INGRESS),
            {errno.EBADF: "the kernel tried to open the cgroup"},
            {errno.EINVAL: "EINVAL: the kernel does not know cgroup links"},
        )
    finally:
        os.close(not_a_cgroup)


def iterator() -> Verdict:
    """BPF iterators (5.8): a bpf_map iterator loaded, linked, opened and read."""
    target = btf_id_of(ITER_TARGETS)
    if target is None:
        return False, f"the kernel BTF has none of {', '.join(ITER_TARGETS)}"
    try:
        prog = load(ProgramType.TRACING, probe=ProgProbe("", expected_attach_type=AttachType.TRACE_ITER, attach_btf=ITER_TARGETS))
    except SyscallError as exc:
        return False, describe_error(exc, f"loading an iterator program for {target[0]}")
    try:
        link = _sys.link_create_iter(prog)
        try:
            it = _sys.iter_create(link)
            try:
                os.read(it.fileno(), 64)
            finally:
                it.close()
        finally:
            link.close()
    except SyscallError as exc:
        return False, describe_error(exc, "creating the iterator")
    finally:
        prog.close()
    return True, f"a {target[0].removeprefix('bpf_iter_')} iterator loaded, was created and read"


__all__ = [
    "Verdict", "cgroup_link", "fentry", "fexit", "fmod_ret", "iterator", "kprobe", "kprobe_multi", "lsm", "netkit",
    "perf_event", "raw_tp", "tcx", "tp_btf", "tracepoint", "uprobe", "uprobe_multi", "xdp_link",
]

