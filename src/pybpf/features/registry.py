"""The table of named features: name -> (probe, minimum kernel, alternative to suggest).

Feature gates are data: :data:`FEATURES` is the one place that says what pybpf can ask the
kernel, and :func:`feature` is a dict lookup, never an if/elif ladder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..enums import MapType, ProgramType
from ..errors import NotSupportedError
from . import hooks as _a
from . import misc as _m
from ._core import FeatureResult, UnknownFeatureError, cached
from .maps import map_type
from .progs import program_type

Probe = Callable[[], "tuple[bool, str]"]


@dataclass(frozen=True)
class Feature:
    """One named feature: how to probe it, since when mainline has it, what to use without it."""

    name: str
    probe: Probe
    min_kernel: str
    alternative: str
    description: str
    group: str


def _map(mt: MapType) -> Probe:
    def probe() -> tuple[bool, str]:
        r = map_type(mt)
        return r.supported, r.reason

    return probe


_TRACE_ALT = "use a tracepoint (syscalls:sys_enter_<name>) or a raw_tp"

_ROWS: list[tuple[str, Probe, str, str, str, str]] = [
    # name, probe, min kernel, alternative, description, group
    ("kprobe", _a.kprobe, "4.1", "use a tracepoint: syscalls:sys_enter_<name> or a raw_tp",
     "kprobes/kretprobes (perf kprobe PMU or tracefs kprobe_events)", "attach"),
    ("kprobe_multi", _a.kprobe_multi, "5.18", "attach one kprobe per function, or use tracepoints",
     "kprobe.multi links (many functions, one link)", "attach"),
    ("uprobe", _a.uprobe, "4.17", "use a tracepoint, or sample user stacks with a perf_event program",
     "uprobes/uretprobes (perf uprobe PMU)", "attach"),
    ("uprobe_multi", _a.uprobe_multi, "6.6", "attach one uprobe per offset",
     "uprobe.multi links", "attach"),
    ("tracepoint", _a.tracepoint, "4.7", "use a raw_tp", "tracepoints (perf tracepoint events)", "attach"),
    ("raw_tp", _a.raw_tp, "4.17", "use a tracepoint", "raw tracepoints", "attach"),
    ("tp_btf", _a.tp_btf, "5.5", "use a raw_tp and read arguments with bpf_probe_read_kernel",
     "BTF-typed raw tracepoints", "attach"),
    ("fentry", _a.fentry, "5.5", "use a tracepoint or raw_tp", "fentry (BPF trampoline)", "attach"),
    ("fexit", _a.fexit, "5.5", "use a tracepoint or raw_tp", "fexit (BPF trampoline)", "attach"),
    ("fmod_ret", _a.fmod_ret, "5.7", "no equivalent changes a return value; observe with a tracepoint or raw_tp",
     "fmod_ret (BPF trampoline)", "attach"),
    ("lsm", _a.lsm, "5.7", "observe with a tracepoint or raw_tp, or enforce with a cgroup hook",
     "BPF LSM programs (BPF trampoline)", "attach"),
    ("perf_event", _a.perf_event, "4.9", "sample from user space with perf", "perf_event programs", "attach"),
    ("xdp_link", _a.xdp_link, "5.9", "attach XDP with netlink (IFLA_XDP)", "XDP links", "attach"),
    ("tcx", _a.tcx, "6.6", "attach with classic tc (clsact qdisc + cls_bpf over netlink)",
     "tcx links (tc ingress/egress without qdiscs)", "attach"),
    ("netkit", _a.netkit, "6.7", "use veth devices with tcx or tc", "netkit device programs", "attach"),
    ("cgroup_link", _a.cgroup_link, "5.7", "attach with BPF_PROG_ATTACH", "cgroup links", "attach"),
    ("iterator", _a.iterator, "5.8", "read /proc or use BPF_MAP_GET_NEXT_KEY from user space",
     "BPF iterators", "attach"),
    ("cookie", _m.cookies, "5.15", "key per-attach data by instruction pointer or a map",
     "bpf_get_attach_cookie (per-attachment cookies)", "program"),
    ("ringbuf", _map(MapType.RINGBUF), "5.8", "use a perf event array (perf buffer)", "BPF ring buffer", "map"),
    ("bounded_loops", _m.bounded_loops, "5.3", "unroll loops (#pragma unroll)", "bounded loops", "program"),
    ("bpf_loop", _m.bpf_loop, "5.17", "use a bounded loop", "the bpf_loop helper", "program"),
    ("kfuncs", _m.kfuncs, "6.2", "use the equivalent helpers", "calling kernel functions (kfuncs)", "program"),
    ("sleepable", _m.sleepable, "5.10", "copy user memory with bpf_probe_read_user",
     "sleepable programs (BPF_F_SLEEPABLE)", "program"),
    ("syscall", _m.syscall_programs, "5.14", "load from user space directly", "syscall programs", "program"),
    ("cpu_v2", functools.partial(_m.isa, "v2"), "4.14", "compile with -mcpu=v1", "ISA v2 (JLT/JLE/JSLT/JSLE)", "isa"),
    ("cpu_v3", functools.partial(_m.isa, "v3"), "5.1", "compile with -mcpu=v2", "ISA v3 (JMP32)", "isa"),
    ("cpu_v4", functools.partial(_m.isa, "v4"), "6.6", "compile with -mcpu=v3",
     "ISA v4 (sdiv/smod, movsx, ldsx, bswap, gotol)", "isa"),
    ("global_data", _m.global_data, "5.2", "keep globals in an explicit array map",
     "global variables (.data/.rodata/.bss)", "map"),
    ("mmapable", _m.mmapable, "5.5", "read global variables with map lookups", "BPF_F_MMAPABLE arrays", "map"),
    ("batch_ops", _m.batch_ops, "5.6", "iterate keys one by one (BPF_MAP_GET_NEXT_KEY)",
     "batch map operations", "map"),
    ("btf", functools.partial(_m.btf_kind, "btf"), "4.18", "load without BTF", "BPF_BTF_LOAD", "btf"),
    ("btf_func", functools.partial(_m.btf_kind, "func"), "5.0", "drop func info", "BTF FUNC/FUNC_PROTO", "btf"),
    ("btf_global_func", functools.partial(_m.btf_kind, "global_func"), "5.6", "make functions static",
     "BTF global functions", "btf"),
    ("btf_datasec", functools.partial(_m.btf_kind, "datasec"), "5.2", "drop DATASEC/VAR from BTF",
     "BTF VAR/DATASEC", "btf"),
    ("btf_float", functools.partial(_m.btf_kind, "float"), "5.13", "replace FLOAT with a struct of its size",
     "BTF FLOAT", "btf"),
    ("btf_decl_tag", functools.partial(_m.btf_kind, "decl_tag"), "5.16", "drop DECL_TAG", "BTF DECL_TAG", "btf"),
    ("btf_type_tag", functools.partial(_m.btf_kind, "type_tag"), "5.17", "replace TYPE_TAG with CONST",
     "BTF TYPE_TAG", "btf"),
    ("btf_enum64", functools.partial(_m.btf_kind, "enum64"), "6.0", "replace ENUM64 with a union of its size",
     "BTF ENUM64", "btf"),
]

#: name -> Feature: every named probe.
FEATURES: dict[str, Feature] = {row[0]: Feature(*row) for row in _ROWS}

#: Other spellings users reach for -> the feature's name.
ALIASES: dict[str, str] = {
    "kprobes": "kprobe", "uprobes": "uprobe", "tracepoints": "tracepoint", "raw_tracepoint": "raw_tp",
    "xdp": "xdp_link", "cgroup": "cgroup_link", "iter": "iterator", "iterators": "iterator",
    "btf_load": "btf", "loops": "bounded_loops", "cookies": "cookie", "bpf_cookie": "cookie",
    "global_variables": "global_data", "batch": "batch_ops", "bpf_f_mmapable": "mmapable",
    "syscall_programs": "syscall", "trampoline": "fentry",
}


class AttachKind(str, Enum):
    """The ways to attach a program; each value is the name of its feature in :data:`FEATURES`."""

    KPROBE = "kprobe"
    KPROBE_MULTI = "kprobe_multi"
    UPROBE = "uprobe"
    UPROBE_MULTI = "uprobe_multi"
    TRACEPOINT = "tracepoint"
    RAW_TP = "raw_tp"
    TP_BTF = "tp_btf"
    FENTRY = "fentry"
    FEXIT = "fexit"
    FMOD_RET = "fmod_ret"
    LSM = "lsm"
    PERF_EVENT = "perf_event"
    XDP = "xdp_link"
    TCX = "tcx"
    NETKIT = "netkit"
    CGROUP = "cgroup_link"
    ITER = "iterator"


def _run(entry: Feature) -> FeatureResult:
    supported, reason = entry.probe()
    return FeatureResult(supported, reason, entry.min_kernel)


def feature(name: str) -> FeatureResult:
    """The answer for a named feature (see :data:`FEATURES`), probed once per process.

    >>> from pybpf import features
    >>> features.feature("ringbuf").min_kernel
    '5.8'
    """
    name = ALIASES.get(name, name)
    try:
        entry = FEATURES[name]
    except KeyError:
        raise UnknownFeatureError(f"unknown feature {name!r}; known: {', '.join(sorted(FEATURES))}") from None
    return cached(("feature", name), lambda: _run(entry), min_kernel=entry.min_kernel)


def attach(kind: AttachKind | str) -> FeatureResult:
    """Can programs be attached this way? ``features.attach(AttachKind.KPROBE)``."""
    return feature(AttachKind(kind).value)


def alternative(name: str) -> str:
    """What to use instead of the named feature."""
    return FEATURES[name].alternative


def _require_named(name: str) -> tuple[FeatureResult, str, str]:
    entry = FEATURES.get(ALIASES.get(name, name))
    return feature(name), entry.description if entry else name, entry.alternative if entry else ""


def _require_attach(kind: AttachKind) -> tuple[FeatureResult, str, str]:
    return _require_named(kind.value)


#: Program type -> the named feature whose alternative applies when the type is missing.
_PROG_ALTERNATIVES: dict[ProgramType, str] = {
    ProgramType.KPROBE: "kprobe", ProgramType.TRACING: "fentry", ProgramType.LSM: "lsm",
    ProgramType.EXT: "fentry", ProgramType.SYSCALL: "syscall", ProgramType.PERF_EVENT: "perf_event",
}
#: Map type -> what to use without it.
_MAP_ALTERNATIVES: dict[MapType, str] = {
    MapType.RINGBUF: "use a perf event array (perf buffer)",
    MapType.BLOOM_FILTER: "use a hash map",
    MapType.LRU_HASH: "use a hash map and delete old entries",
    MapType.USER_RINGBUF: "pass data in with map updates",
    MapType.ARENA: "use array maps",
    MapType.QUEUE: "use an array map with head/tail indices",
    MapType.STACK: "use an array map with a top index",
}


def _require_prog(pt: ProgramType) -> tuple[FeatureResult, str, str]:
    named = _PROG_ALTERNATIVES.get(pt)
    return program_type(pt), f"{pt.name.lower()} programs", FEATURES[named].alternative if named else ""


def _require_map(mt: MapType) -> tuple[FeatureResult, str, str]:
    return map_type(mt), f"{mt.name.lower()} maps", _MAP_ALTERNATIVES.get(mt, "")


#: What require() accepts, by type (checked in order: AttachKind is also a str).
_REQUIRE: dict[type, Callable[..., tuple[FeatureResult, str, str]]] = {
    AttachKind: _require_attach,
    ProgramType: _require_prog,
    MapType: _require_map,
    str: _require_named,
}


def require(name: str | AttachKind | ProgramType | MapType) -> FeatureResult:
    """Return the (supported) answer, or raise :class:`NotSupportedError` with the reason and the alternative.

    >>> from pybpf import features
    >>> features.require("btf").supported
    True
    """
    for kind, check in _REQUIRE.items():
        if isinstance(name, kind):
            result, what, alt = check(name)
            break
    else:
        raise UnknownFeatureError(f"cannot require {name!r}: pass a feature name, AttachKind, ProgramType or MapType")
    if not result.supported:
        label = str(name.value) if isinstance(name, AttachKind) else name if isinstance(name, str) else what
        raise NotSupportedError(label, reason=result.reason, alternative=alt)
    return result


def all_features() -> dict[str, FeatureResult]:
    """Every named feature and its answer (probes the ones not asked yet)."""
    return {name: feature(name) for name in FEATURES}


__all__ = ["ALIASES", "FEATURES", "AttachKind", "Feature", "all_features", "alternative", "attach", "feature", "require"]
