"""Program type and helper probes.

A program type is supported when a minimal program of that type (``r0 = 0; exit`` with the
attach settings the type needs, :data:`PROGRAM_PROBES`) loads. A helper is supported for a
program type when the verifier does not refuse the *call*: the probe loads ``call HELPER``
in a program of that type and reads the verifier log. "program of this type cannot use
helper", "unknown func", "invalid func" and "might sleep in a non-sleepable prog" mean
refused; any other verifier complaint is about the arguments (R1 is the context), which
means the kernel gave the program the helper.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from dataclasses import dataclass

from .. import _sys
from ..enums import AttachType, ProgramFlags, ProgramType
from ..errors import SyscallError, VerifierError
from ..isa import HELPER_IDS, HELPER_NAMES, assemble, encode
from ._core import (
    ENOTSUPP, FeatureResult, UnknownFeatureError, cached, config_note, config_off, describe_error, errno_name,
    log_reason, no, yes,
)

#: Enough for the few lines a probe's verifier log has; grown by _sys on ENOSPC.
_LOG_SIZE = 1 << 14


@dataclass(frozen=True)
class ProgProbe:
    """How to load a minimal program of one type, and what the answer means."""

    min_kernel: str
    config: str | None = None
    expected_attach_type: AttachType | int = 0
    flags: ProgramFlags = ProgramFlags.NONE
    #: BTF FUNC/TYPEDEF names to use as attach_btf_id (first one present in the kernel BTF)
    attach_btf: tuple[str, ...] = ()
    #: errnos that still prove the kernel knows the type (e.g. struct_ops needs a real target)
    known_errnos: frozenset[int] = frozenset()
    #: a verifier message that still proves the type is known
    known_log: str | None = None
    note: str = ""


_TRACEPOINT_BTF = ("btf_trace_sys_enter", "btf_trace_sched_switch", "btf_trace_task_newtask")

#: Program type -> the minimal load that proves it. Types not listed load with defaults.
PROGRAM_PROBES: dict[ProgramType, ProgProbe] = {
    ProgramType.SOCKET_FILTER: ProgProbe("3.19"),
    ProgramType.KPROBE: ProgProbe("4.1", "CONFIG_BPF_EVENTS"),
    ProgramType.SCHED_CLS: ProgProbe("4.1"),
    ProgramType.SCHED_ACT: ProgProbe("4.1"),
    ProgramType.TRACEPOINT: ProgProbe("4.7", "CONFIG_BPF_EVENTS"),
    ProgramType.XDP: ProgProbe("4.8"),
    ProgramType.PERF_EVENT: ProgProbe("4.9", "CONFIG_BPF_EVENTS"),
    ProgramType.CGROUP_SKB: ProgProbe("4.10", "CONFIG_CGROUP_BPF"),
    ProgramType.CGROUP_SOCK: ProgProbe("4.10", "CONFIG_CGROUP_BPF"),
    ProgramType.LWT_IN: ProgProbe("4.10", "CONFIG_LWTUNNEL_BPF"),
    ProgramType.LWT_OUT: ProgProbe("4.10", "CONFIG_LWTUNNEL_BPF"),
    ProgramType.LWT_XMIT: ProgProbe("4.10", "CONFIG_LWTUNNEL_BPF"),
    ProgramType.SOCK_OPS: ProgProbe("4.13", "CONFIG_CGROUP_BPF"),
    ProgramType.SK_SKB: ProgProbe("4.14", "CONFIG_BPF_STREAM_PARSER"),
    ProgramType.CGROUP_DEVICE: ProgProbe("4.15", "CONFIG_CGROUP_BPF"),
    ProgramType.SK_MSG: ProgProbe("4.17", "CONFIG_BPF_STREAM_PARSER"),
    ProgramType.RAW_TRACEPOINT: ProgProbe("4.17", "CONFIG_BPF_EVENTS"),
    ProgramType.CGROUP_SOCK_ADDR: ProgProbe(
        "4.17", "CONFIG_CGROUP_BPF", expected_attach_type=AttachType.CGROUP_INET4_CONNECT),
    ProgramType.LWT_SEG6LOCAL: ProgProbe("4.18", "CONFIG_IPV6_SEG6_BPF"),
    ProgramType.LIRC_MODE2: ProgProbe("4.18", "CONFIG_BPF_LIRC_MODE2"),
    ProgramType.SK_REUSEPORT: ProgProbe("4.19"),
    ProgramType.FLOW_DISSECTOR: ProgProbe("4.20"),
    ProgramType.CGROUP_SYSCTL: ProgProbe("5.2", "CONFIG_CGROUP_BPF"),
    ProgramType.RAW_TRACEPOINT_WRITABLE: ProgProbe("5.2", "CONFIG_BPF_EVENTS"),
    ProgramType.CGROUP_SOCKOPT: ProgProbe(
        "5.3", "CONFIG_CGROUP_BPF", expected_attach_type=AttachType.CGROUP_GETSOCKOPT),
    # tp_btf is the TRACING flavour that needs no trampoline; fentry/fexit are probed as features
    ProgramType.TRACING: ProgProbe(
        "5.5", "CONFIG_BPF_EVENTS", expected_attach_type=AttachType.TRACE_RAW_TP, attach_btf=_TRACEPOINT_BTF,
        note="probed as tp_btf; fentry/fexit/fmod_ret are the separate features of those names"),
    ProgramType.STRUCT_OPS: ProgProbe(
        "5.6", "CONFIG_BPF_JIT", known_errnos=frozenset({ENOTSUPP}),
        note="the kernel knows the type (a real load needs a struct_ops target)"),
    ProgramType.EXT: ProgProbe(
        "5.6", "CONFIG_BPF_JIT", known_log=r"must provide btf_id|attach_prog_fd",
        note="the kernel knows the type (a real load needs a target program)"),
    ProgramType.LSM: ProgProbe(
        "5.7", "CONFIG_BPF_LSM", expected_attach_type=AttachType.LSM_MAC, attach_btf=("bpf_lsm_file_open",)),
    ProgramType.SK_LOOKUP: ProgProbe("5.9", expected_attach_type=AttachType.SK_LOOKUP),
    ProgramType.SYSCALL: ProgProbe("5.14", flags=ProgramFlags.SLEEPABLE),
    ProgramType.NETFILTER: ProgProbe("6.4", "CONFIG_NETFILTER_BPF_LINK", expected_attach_type=AttachType.NETFILTER),
}

#: Every program type a user can ask about (UNSPEC is not one).
PROGRAM_TYPES: tuple[ProgramType, ...] = tuple(PROGRAM_PROBES)


def prog_name(pt: ProgramType) -> str:
    """``xdp``, ``sched_cls``, ... (bpftool's spelling)."""
    return pt.name.lower()


def btf_id_of(names: tuple[str, ...]) -> tuple[str, int] | None:
    """The first of ``names`` found in the kernel BTF (a FUNC or TYPEDEF), with its id."""
    from ..btf import Kind, kernel_btf

    btf = kernel_btf()
    for name in names:
        for kind in (Kind.FUNC, Kind.TYPEDEF):
            ids = btf.find(name, kind)
            if ids:
                return name, ids[0]
    return None


def load(pt: ProgramType, text: str = "r0 = 0\nexit", probe: ProgProbe | None = None, **overrides: object) -> _sys.FD:
    """Load ``text`` as a program of type ``pt`` with the probe's attach settings (raises on refusal)."""
    probe = probe or PROGRAM_PROBES.get(pt, ProgProbe(""))
    kwargs: dict[str, object] = {
        "expected_attach_type": probe.expected_attach_type, "flags": probe.flags, "log_level": 1,
        "log_size": _LOG_SIZE, "name": "pybpf_probe",
    }
    if probe.attach_btf:
        target = btf_id_of(probe.attach_btf)
        if target is None:
            raise UnknownFeatureError(f"none of {', '.join(probe.attach_btf)} is in the kernel BTF")
        kwargs["attach_btf_id"] = target[1]
    kwargs.update(overrides)
    return _sys.prog_load_logged(pt, encode(assemble(text)), **kwargs).fd  # type: ignore[arg-type]


def _probe_program_type(pt: ProgramType) -> FeatureResult:
    probe = PROGRAM_PROBES[pt]
    what = f"loading a minimal {prog_name(pt)} program"
    try:
        load(pt, probe=probe).close()
    except VerifierError as exc:
        if (exc.errno or 0) in probe.known_errnos:
            return yes(f"{probe.note} ({errno_name(exc.errno or 0)} without one)", probe.min_kernel)
        if probe.known_log and re.search(probe.known_log, exc.log):
            return yes(f"{probe.note} (verifier: {log_reason(exc.log)})", probe.min_kernel)
        return no(describe_error(exc, what), probe.min_kernel)
    except SyscallError as exc:
        err = exc.errno or 0
        if err in probe.known_errnos:
            return yes(f"{probe.note} ({errno_name(err)} without one)", probe.min_kernel)
        reason = describe_error(exc, what)
        if err == errno.EINVAL:
            reason += ": the kernel does not know this program type"
        if config_off(probe.config):
            reason = f"{config_note(probe.config)}; {reason}"
        return no(reason, probe.min_kernel)
    return yes(f"a minimal {prog_name(pt)} program loads" + (f" ({probe.note})" if probe.note else ""), probe.min_kernel)


def program_type(pt: ProgramType) -> FeatureResult:
    """Can this kernel load programs of type ``pt``? Probed once per process.

    >>> from pybpf import features
    >>> features.program_type(ProgramType.XDP).min_kernel
    '4.8'
    """
    if pt not in PROGRAM_PROBES:
        raise UnknownFeatureError(f"no probe for program type {pt!r}")
    return cached(("program_type", pt), lambda: _probe_program_type(pt), min_kernel=PROGRAM_PROBES[pt].min_kernel)


# --- helpers -------------------------------------------------------------------------------

#: Verifier messages that mean "this program may not call this helper", with what they mean.
HELPER_REFUSALS: dict[str, str] = {
    r"program of this type cannot use helper": "the verifier refuses it for this program type",
    r"unknown func": "the verifier refuses it for this program type",
    r"invalid func": "the kernel does not know this helper",
    r"might sleep in a non-sleepable prog": "only sleepable programs may call it",
}


def helper_id(helper: str | int) -> int:
    """The id of a helper given by name (``"bpf_ringbuf_output"``, ``"ringbuf_output"``) or id."""
    if isinstance(helper, int):
        return helper
    name = helper if helper.startswith("bpf_") else f"bpf_{helper}"
    try:
        return HELPER_IDS[name]
    except KeyError:
        raise UnknownFeatureError(f"unknown helper {helper!r} (see pybpf.isa.HELPER_NAMES)") from None


def helper_name(hid: int) -> str:
    """``bpf_<name>`` of a helper id (``helper#N`` when pybpf does not know it)."""
    return HELPER_NAMES.get(hid, f"helper#{hid}")


def classify_helper_log(log_text: str) -> tuple[bool, str]:
    """(callable?, reason) from the verifier log of a program that calls one helper."""
    for pattern, meaning in HELPER_REFUSALS.items():
        match = re.search(rf"[^\n]*{pattern}[^\n]*", log_text)
        if match:
            return False, f"{meaning} (verifier: {match.group(0).strip()})"
    return True, f"the verifier accepts the call and only checks its arguments ({log_reason(log_text)})"


def _probe_helper(pt: ProgramType, hid: int) -> FeatureResult:
    name = helper_name(hid)
    base = program_type(pt)
    if not base.supported:
        return no(f"{prog_name(pt)} programs cannot be loaded: {base.reason}", base.min_kernel)
    try:
        load(pt, f"call {hid}\nr0 = 0\nexit").close()
    except VerifierError as exc:
        ok, reason = classify_helper_log(exc.log)
        return FeatureResult(ok, f"{name} in {prog_name(pt)}: {reason}", "")
    except SyscallError as exc:
        return no(describe_error(exc, f"loading a {prog_name(pt)} program calling {name}"), "")
    return yes(f"{name} in {prog_name(pt)}: a program calling it loads", "")


def helper(pt: ProgramType, helper: str | int) -> FeatureResult:
    """May programs of type ``pt`` call ``helper`` (name or id)? Asks the verifier, once.

    ``min_kernel`` is empty: helpers arrive per program type over many releases.
    """
    hid = helper_id(helper)
    if pt not in PROGRAM_PROBES:
        raise UnknownFeatureError(f"no probe for program type {pt!r}")
    return cached(("helper", pt, hid), lambda: _probe_helper(pt, hid))


def helpers(pt: ProgramType, *, ids: Callable[[], list[int]] | None = None) -> dict[str, FeatureResult]:
    """Every helper pybpf knows (``pybpf.isa.HELPER_NAMES``) -> its answer for program type ``pt``."""
    chosen = ids() if ids is not None else sorted(HELPER_NAMES)
    return {helper_name(h): helper(pt, h) for h in chosen}


def supported_helpers(pt: ProgramType) -> list[str]:
    """The helper names programs of type ``pt`` may call on this kernel, in id order."""
    return [name for name, r in helpers(pt).items() if r.supported]


__all__ = [
    "HELPER_REFUSALS", "PROGRAM_PROBES", "PROGRAM_TYPES", "ProgProbe", "classify_helper_log", "helper",
    "helper_id", "helper_name", "helpers", "load", "program_type", "supported_helpers",
]
