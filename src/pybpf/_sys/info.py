"""``struct bpf_{prog,map,btf,link}_info`` for BPF_OBJ_GET_INFO_BY_FD, declared once.

Layouts mirror include/uapi/linux/bpf.h; tests/kernel/test_sys_layout.py checks them against
the running kernel's BTF (``BTF_STRUCT`` names the kernel struct).
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint32, c_uint64

u32 = c_uint32
u64 = c_uint64
s32 = c_int32


class Info(ctypes.Structure):
    """Base of the info structures; ``BTF_STRUCT`` is the kernel struct it mirrors."""

    BTF_STRUCT: str = ""


class ProgInfo(Info):
    """``struct bpf_prog_info``."""

    BTF_STRUCT = "bpf_prog_info"
    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("tag", c_uint8 * 8),
        ("jited_prog_len", u32),
        ("xlated_prog_len", u32),
        ("jited_prog_insns", u64),
        ("xlated_prog_insns", u64),
        ("load_time", u64),
        ("created_by_uid", u32),
        ("nr_map_ids", u32),
        ("map_ids", u64),
        ("name", c_char * 16),
        ("ifindex", u32),
        ("gpl_compatible", u32, 1),
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("nr_jited_ksyms", u32),
        ("nr_jited_func_lens", u32),
        ("jited_ksyms", u64),
        ("jited_func_lens", u64),
        ("btf_id", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("nr_func_info", u32),
        ("nr_line_info", u32),
        ("line_info", u64),
        ("jited_line_info", u64),
        ("nr_jited_line_info", u32),
        ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32),
        ("nr_prog_tags", u32),
        ("prog_tags", u64),
        ("run_time_ns", u64),
        ("run_cnt", u64),
        ("recursion_misses", u64),
        ("verified_insns", u32),
        ("attach_btf_obj_id", u32),
        ("attach_btf_id", u32),
    ]


class MapInfo(Info):
    """``struct bpf_map_info``."""

    BTF_STRUCT = "bpf_map_info"
    _fields_ = [
        ("type", u32),
        ("id", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("name", c_char * 16),
        ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("netns_dev", u64),
        ("netns_ino", u64),
        ("btf_id", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_id", u32),
        ("map_extra", u64),
    ]


class BtfInfo(Info):
    """``struct bpf_btf_info``."""

    BTF_STRUCT = "bpf_btf_info"
    _fields_ = [
        ("btf", u64),
        ("btf_size", u32),
        ("id", u32),
        ("name", u64),
        ("name_len", u32),
        ("kernel_btf", u32),
    ]


# ---- struct bpf_link_info: a head and a union of per-link-type tails ----------------------


class LinkInfoRawTracepoint(ctypes.Structure):
    _fields_ = [("tp_name", u64), ("tp_name_len", u32), ("cookie", u64)]


class LinkInfoTracing(ctypes.Structure):
    _fields_ = [("attach_type", u32), ("target_obj_id", u32), ("target_btf_id", u32), ("cookie", u64)]


class LinkInfoCgroup(ctypes.Structure):
    _fields_ = [("cgroup_id", u64), ("attach_type", u32)]


class _IterMap(ctypes.Structure):
    _fields_ = [("map_id", u32)]


class _IterMapUnion(ctypes.Union):
    _fields_ = [("map", _IterMap)]


class _IterCgroup(ctypes.Structure):
    _fields_ = [("cgroup_id", u64), ("order", u32)]


class _IterTask(ctypes.Structure):
    _fields_ = [("tid", u32), ("pid", u32)]


class _IterTargetUnion(ctypes.Union):
    _fields_ = [("cgroup", _IterCgroup), ("task", _IterTask)]


class LinkInfoIter(ctypes.Structure):
    _anonymous_ = ("_map", "_target")
    _fields_ = [
        ("target_name", u64),
        ("target_name_len", u32),
        ("_map", _IterMapUnion),
        ("_target", _IterTargetUnion),
    ]


class LinkInfoNetns(ctypes.Structure):
    _fields_ = [("netns_ino", u32), ("attach_type", u32)]


class LinkInfoXdp(ctypes.Structure):
    _fields_ = [("ifindex", u32)]


class LinkInfoStructOps(ctypes.Structure):
    _fields_ = [("map_id", u32)]


class LinkInfoNetfilter(ctypes.Structure):
    _fields_ = [("pf", u32), ("hooknum", u32), ("priority", s32), ("flags", u32)]


class LinkInfoKprobeMulti(ctypes.Structure):
    _fields_ = [
        ("addrs", u64),
        ("count", u32),
        ("flags", u32),
        ("missed", u64),
        ("cookies", u64),
    ]


class LinkInfoUprobeMulti(ctypes.Structure):
    _fields_ = [
        ("path", u64),
        ("offsets", u64),
        ("ref_ctr_offsets", u64),
        ("cookies", u64),
        ("path_size", u32),
        ("count", u32),
        ("flags", u32),
        ("pid", u32),
    ]


class _PerfUprobe(ctypes.Structure):
    _fields_ = [
        ("file_name", u64),
        ("name_len", u32),
        ("offset", u32),
        ("cookie", u64),
        ("ref_ctr_offset", u64),
    ]


class _PerfKprobe(ctypes.Structure):
    _fields_ = [
        ("func_name", u64),
        ("name_len", u32),
        ("offset", u32),
        ("addr", u64),
        ("missed", u64),
        ("cookie", u64),
    ]


class _PerfTracepoint(ctypes.Structure):
    _fields_ = [("tp_name", u64), ("name_len", u32), ("cookie", u64)]


class _PerfEvent(ctypes.Structure):
    _fields_ = [("config", u64), ("type", u32), ("cookie", u64)]


class _PerfUnion(ctypes.Union):
    _fields_ = [
        ("uprobe", _PerfUprobe),
        ("kprobe", _PerfKprobe),
        ("tracepoint", _PerfTracepoint),
        ("event", _PerfEvent),
    ]


class LinkInfoPerfEvent(ctypes.Structure):
    _anonymous_ = ("_u",)
    _fields_ = [("type", u32), ("_u", _PerfUnion)]


class LinkInfoIfindexAttach(ctypes.Structure):
    _fields_ = [("ifindex", u32), ("attach_type", u32)]


class LinkInfoSockmap(ctypes.Structure):
    _fields_ = [("map_id", u32), ("attach_type", u32)]


class _LinkInfoTail(ctypes.Union):
    _fields_ = [
        ("raw_tracepoint", LinkInfoRawTracepoint),
        ("tracing", LinkInfoTracing),
        ("cgroup", LinkInfoCgroup),
        ("iter", LinkInfoIter),
        ("netns", LinkInfoNetns),
        ("xdp", LinkInfoXdp),
        ("struct_ops", LinkInfoStructOps),
        ("netfilter", LinkInfoNetfilter),
        ("kprobe_multi", LinkInfoKprobeMulti),
        ("uprobe_multi", LinkInfoUprobeMulti),
        ("perf_event", LinkInfoPerfEvent),
        ("tcx", LinkInfoIfindexAttach),
        ("netkit", LinkInfoIfindexAttach),
        ("sockmap", LinkInfoSockmap),
    ]


class LinkInfo(Info):
    """``struct bpf_link_info``."""

    BTF_STRUCT = "bpf_link_info"
    _anonymous_ = ("_tail",)
    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("_tail", _LinkInfoTail)]


ALL_INFOS: tuple[type[Info], ...] = (ProgInfo, MapInfo, BtfInfo, LinkInfo)
