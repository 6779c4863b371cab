"""``struct perf_event_attr`` (include/uapi/linux/perf_event.h), declared once."""

from __future__ import annotations

import ctypes
from ctypes import c_int32, c_uint16, c_uint32, c_uint64

u16 = c_uint16
u32 = c_uint32
u64 = c_uint64


class _SamplePeriodOrFreq(ctypes.Union):
    _fields_ = [("sample_period", u64), ("sample_freq", u64)]


class _WakeupUnion(ctypes.Union):
    _fields_ = [("wakeup_events", u32), ("wakeup_watermark", u32)]


class _Config1Union(ctypes.Union):
    _fields_ = [("bp_addr", u64), ("kprobe_func", u64), ("uprobe_path", u64), ("config1", u64)]


class _Config2Union(ctypes.Union):
    _fields_ = [("bp_len", u64), ("kprobe_addr", u64), ("probe_offset", u64), ("config2", u64)]


class _AuxBits(ctypes.Structure):
    _fields_ = [
        ("aux_start_paused", u32, 1),
        ("aux_pause", u32, 1),
        ("aux_resume", u32, 1),
        ("__reserved_3", u32, 29),
    ]


class _AuxUnion(ctypes.Union):
    _anonymous_ = ("_bits",)
    _fields_ = [("aux_action", u32), ("_bits", _AuxBits)]


#: The one-bit flags of perf_event_attr, in declaration order (then ``precise_ip:2`` etc.).
_FLAG_BITS: list[tuple[str, int]] = [
    ("disabled", 1), ("inherit", 1), ("pinned", 1), ("exclusive", 1), ("exclude_user", 1),
    ("exclude_kernel", 1), ("exclude_hv", 1), ("exclude_idle", 1), ("mmap", 1), ("comm", 1),
    ("freq", 1), ("inherit_stat", 1), ("enable_on_exec", 1), ("task", 1), ("watermark", 1),
    ("precise_ip", 2), ("mmap_data", 1), ("sample_id_all", 1), ("exclude_host", 1),
    ("exclude_guest", 1), ("exclude_callchain_kernel", 1), ("exclude_callchain_user", 1),
    ("mmap2", 1), ("comm_exec", 1), ("use_clockid", 1), ("context_switch", 1),
    ("write_backward", 1), ("namespaces", 1), ("ksymbol", 1), ("bpf_event", 1),
    ("aux_output", 1), ("cgroup", 1), ("text_poke", 1), ("build_id", 1),
    ("inherit_thread", 1), ("remove_on_exec", 1), ("sigtrap", 1), ("__reserved_1", 26),
]


class PerfEventAttr(ctypes.Structure):
    """``struct perf_event_attr``; ``size`` is filled in by :func:`perf_event_open`."""

    BTF_STRUCT = "perf_event_attr"
    _anonymous_ = ("_period", "_wakeup", "_config1", "_config2", "_aux")
    _fields_ = [
        ("type", u32),
        ("size", u32),
        ("config", u64),
        ("_period", _SamplePeriodOrFreq),
        ("sample_type", u64),
        ("read_format", u64),
        *[(name, u64, bits) for name, bits in _FLAG_BITS],
        ("_wakeup", _WakeupUnion),
        ("bp_type", u32),
        ("_config1", _Config1Union),
        ("_config2", _Config2Union),
        ("branch_sample_type", u64),
        ("sample_regs_user", u64),
        ("sample_stack_user", u32),
        ("clockid", c_int32),
        ("sample_regs_intr", u64),
        ("aux_watermark", u32),
        ("sample_max_stack", u16),
        ("__reserved_2", u16),
        ("aux_sample_size", u32),
        ("_aux", _AuxUnion),
        ("sig_data", u64),
        ("config3", u64),
    ]
