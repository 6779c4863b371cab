"""``union bpf_attr``, declared once: one ctypes Structure per command family.

Each class mirrors one member of ``union bpf_attr`` (include/uapi/linux/bpf.h); the kernel
accepts any attr size up to its own as long as unknown tail bytes are zero, so a command is
passed its own structure with ``sizeof(structure)``. ``BTF_MEMBER`` records which member of
``union bpf_attr`` each class mirrors; tests/kernel/test_sys_layout.py checks every offset
against the running kernel's BTF.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint32, c_uint64

u32 = c_uint32
u64 = c_uint64
s32 = c_int32


class Attr(ctypes.Structure):
    """Base of every attr structure; ``BTF_MEMBER`` names the ``union bpf_attr`` member.

    An anonymous member is named by a field only it holds, e.g. ``"(anon:map_type)"``.
    """

    BTF_MEMBER: str = ""


class MapCreateAttr(Attr):
    """BPF_MAP_CREATE."""

    BTF_MEMBER = "(anon:map_type)"
    _fields_ = [
        ("map_type", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("inner_map_fd", u32),
        ("numa_node", u32),
        ("map_name", c_char * 16),
        ("map_ifindex", u32),
        ("btf_fd", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("map_extra", u64),
        ("value_type_btf_obj_fd", s32),
        ("map_token_fd", s32),
    ]


class _ValueOrNextKey(ctypes.Union):
    _fields_ = [("value", u64), ("next_key", u64)]


class MapElemAttr(Attr):
    """BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM, FREEZE."""

    BTF_MEMBER = "(anon:map_fd)"
    _anonymous_ = ("_u",)
    _fields_ = [
        ("map_fd", u32),
        ("key", u64),
        ("_u", _ValueOrNextKey),
        ("flags", u64),
    ]


class MapBatchAttr(Attr):
    """BPF_MAP_*_BATCH (``attr.batch``)."""

    BTF_MEMBER = "batch"
    _fields_ = [
        ("in_batch", u64),
        ("out_batch", u64),
        ("keys", u64),
        ("values", u64),
        ("count", u32),
        ("map_fd", u32),
        ("elem_flags", u64),
        ("flags", u64),
    ]


class _AttachProgOrBtfObj(ctypes.Union):
    _fields_ = [("attach_prog_fd", u32), ("attach_btf_obj_fd", u32)]


class ProgLoadAttr(Attr):
    """BPF_PROG_LOAD."""

    BTF_MEMBER = "(anon:prog_type)"
    _anonymous_ = ("_attach",)
    _fields_ = [
        ("prog_type", u32),
        ("insn_cnt", u32),
        ("insns", u64),
        ("license", u64),
        ("log_level", u32),
        ("log_size", u32),
        ("log_buf", u64),
        ("kern_version", u32),
        ("prog_flags", u32),
        ("prog_name", c_char * 16),
        ("prog_ifindex", u32),
        ("expected_attach_type", u32),
        ("prog_btf_fd", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("func_info_cnt", u32),
        ("line_info_rec_size", u32),
        ("line_info", u64),
        ("line_info_cnt", u32),
        ("attach_btf_id", u32),
        ("_attach", _AttachProgOrBtfObj),
        ("core_relo_cnt", u32),
        ("fd_array", u64),
        ("core_relos", u64),
        ("core_relo_rec_size", u32),
        ("log_true_size", u32),
        ("prog_token_fd", s32),
        ("fd_array_cnt", u32),
    ]


class ObjAttr(Attr):
    """BPF_OBJ_PIN, BPF_OBJ_GET."""

    BTF_MEMBER = "(anon:pathname)"
    _fields_ = [
        ("pathname", u64),
        ("bpf_fd", u32),
        ("file_flags", u32),
        ("path_fd", s32),
    ]


class _TargetFdOrIfindex(ctypes.Union):
    _fields_ = [("target_fd", u32), ("target_ifindex", u32)]


class _RelativeFdOrId(ctypes.Union):
    _fields_ = [("relative_fd", u32), ("relative_id", u32)]


class ProgAttachAttr(Attr):
    """BPF_PROG_ATTACH, BPF_PROG_DETACH."""

    BTF_MEMBER = "(anon:attach_bpf_fd)"
    _anonymous_ = ("_target", "_relative")
    _fields_ = [
        ("_target", _TargetFdOrIfindex),
        ("attach_bpf_fd", u32),
        ("attach_type", u32),
        ("attach_flags", u32),
        ("replace_bpf_fd", u32),
        ("_relative", _RelativeFdOrId),
        ("expected_revision", u64),
    ]


class TestRunAttr(Attr):
    """BPF_PROG_TEST_RUN (``attr.test``)."""

    __test__ = False  # not a pytest test class
    BTF_MEMBER = "test"
    _fields_ = [
        ("prog_fd", u32),
        ("retval", u32),
        ("data_size_in", u32),
        ("data_size_out", u32),
        ("data_in", u64),
        ("data_out", u64),
        ("repeat", u32),
        ("duration", u32),
        ("ctx_size_in", u32),
        ("ctx_size_out", u32),
        ("ctx_in", u64),
        ("ctx_out", u64),
        ("flags", u32),
        ("cpu", u32),
        ("batch_size", u32),
    ]


class _StartId(ctypes.Union):
    _fields_ = [
        ("start_id", u32),
        ("prog_id", u32),
        ("map_id", u32),
        ("btf_id", u32),
        ("link_id", u32),
    ]


class GetIdAttr(Attr):
    """BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID."""

    BTF_MEMBER = "(anon:next_id)"
    _anonymous_ = ("_id",)
    _fields_ = [
        ("_id", _StartId),
        ("next_id", u32),
        ("open_flags", u32),
        ("fd_by_id_token_fd", s32),
    ]


class InfoAttr(Attr):
    """BPF_OBJ_GET_INFO_BY_FD (``attr.info``)."""

    BTF_MEMBER = "info"
    _fields_ = [("bpf_fd", u32), ("info_len", u32), ("info", u64)]


class _ProgCntOrCount(ctypes.Union):
    _fields_ = [("prog_cnt", u32), ("count", u32)]


class QueryAttr(Attr):
    """BPF_PROG_QUERY (``attr.query``)."""

    BTF_MEMBER = "query"
    _anonymous_ = ("_target", "_cnt")
    _fields_ = [
        ("_target", _TargetFdOrIfindex),
        ("attach_type", u32),
        ("query_flags", u32),
        ("attach_flags", u32),
        ("prog_ids", u64),
        ("_cnt", _ProgCntOrCount),
        ("prog_attach_flags", u64),
        ("link_ids", u64),
        ("link_attach_flags", u64),
        ("revision", u64),
    ]


class RawTracepointAttr(Attr):
    """BPF_RAW_TRACEPOINT_OPEN (``attr.raw_tracepoint``)."""

    BTF_MEMBER = "raw_tracepoint"
    _fields_ = [("name", u64), ("prog_fd", u32), ("cookie", u64)]


class BtfLoadAttr(Attr):
    """BPF_BTF_LOAD."""

    BTF_MEMBER = "(anon:btf)"
    _fields_ = [
        ("btf", u64),
        ("btf_log_buf", u64),
        ("btf_size", u32),
        ("btf_log_size", u32),
        ("btf_log_level", u32),
        ("btf_log_true_size", u32),
        ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


# ---- BPF_LINK_CREATE: a fixed head and one union of per-attach-kind tails ----------------


class _ProgOrMapFd(ctypes.Union):
    _fields_ = [("prog_fd", u32), ("map_fd", u32)]


class _IterInfo(ctypes.Structure):
    _fields_ = [("iter_info", u64), ("iter_info_len", u32)]


class LinkPerfEvent(ctypes.Structure):
    """``link_create.perf_event``."""

    _fields_ = [("bpf_cookie", u64)]


class LinkKprobeMulti(ctypes.Structure):
    """``link_create.kprobe_multi``."""

    _fields_ = [
        ("flags", u32),
        ("cnt", u32),
        ("syms", u64),
        ("addrs", u64),
        ("cookies", u64),
    ]


class LinkTracing(ctypes.Structure):
    """``link_create.tracing``."""

    _fields_ = [("target_btf_id", u32), ("cookie", u64)]


class LinkNetfilter(ctypes.Structure):
    """``link_create.netfilter``."""

    _fields_ = [("pf", u32), ("hooknum", u32), ("priority", s32), ("flags", u32)]


class LinkRelative(ctypes.Structure):
    """``link_create.tcx`` / ``.netkit`` / ``.cgroup`` (one layout)."""

    _anonymous_ = ("_relative",)
    _fields_ = [("_relative", _RelativeFdOrId), ("expected_revision", u64)]


class LinkUprobeMulti(ctypes.Structure):
    """``link_create.uprobe_multi``."""

    _fields_ = [
        ("path", u64),
        ("offsets", u64),
        ("ref_ctr_offsets", u64),
        ("cookies", u64),
        ("cnt", u32),
        ("flags", u32),
        ("pid", u32),
    ]


class _LinkTail(ctypes.Union):
    _anonymous_ = ("_iter",)
    _fields_ = [
        ("target_btf_id", u32),
        ("_iter", _IterInfo),
        ("perf_event", LinkPerfEvent),
        ("kprobe_multi", LinkKprobeMulti),
        ("tracing", LinkTracing),
        ("netfilter", LinkNetfilter),
        ("tcx", LinkRelative),
        ("uprobe_multi", LinkUprobeMulti),
        ("netkit", LinkRelative),
        ("cgroup", LinkRelative),
    ]


class LinkCreateAttr(Attr):
    """BPF_LINK_CREATE (``attr.link_create``)."""

    BTF_MEMBER = "link_create"
    _anonymous_ = ("_prog", "_target", "_tail")
    _fields_ = [
        ("_prog", _ProgOrMapFd),
        ("_target", _TargetFdOrIfindex),
        ("attach_type", u32),
        ("flags", u32),
        ("_tail", _LinkTail),
    ]


class _NewProgOrMap(ctypes.Union):
    _fields_ = [("new_prog_fd", u32), ("new_map_fd", u32)]


class _OldProgOrMap(ctypes.Union):
    _fields_ = [("old_prog_fd", u32), ("old_map_fd", u32)]


class LinkUpdateAttr(Attr):
    """BPF_LINK_UPDATE (``attr.link_update``)."""

    BTF_MEMBER = "link_update"
    _anonymous_ = ("_new", "_old")
    _fields_ = [
        ("link_fd", u32),
        ("_new", _NewProgOrMap),
        ("flags", u32),
        ("_old", _OldProgOrMap),
    ]


class LinkDetachAttr(Attr):
    """BPF_LINK_DETACH (``attr.link_detach``)."""

    BTF_MEMBER = "link_detach"
    _fields_ = [("link_fd", u32)]


class EnableStatsAttr(Attr):
    """BPF_ENABLE_STATS (``attr.enable_stats``)."""

    BTF_MEMBER = "enable_stats"
    _fields_ = [("type", u32)]


class IterCreateAttr(Attr):
    """BPF_ITER_CREATE (``attr.iter_create``)."""

    BTF_MEMBER = "iter_create"
    _fields_ = [("link_fd", u32), ("flags", u32)]


class ProgBindMapAttr(Attr):
    """BPF_PROG_BIND_MAP (``attr.prog_bind_map``)."""

    BTF_MEMBER = "prog_bind_map"
    _fields_ = [("prog_fd", u32), ("map_fd", u32), ("flags", u32)]


#: Every attr structure, for layout tests and fakes.
ALL_ATTRS: tuple[type[Attr], ...] = (
    MapCreateAttr, MapElemAttr, MapBatchAttr, ProgLoadAttr, ObjAttr, ProgAttachAttr,
    TestRunAttr, GetIdAttr, InfoAttr, QueryAttr, RawTracepointAttr, BtfLoadAttr,
    LinkCreateAttr, LinkUpdateAttr, LinkDetachAttr, EnableStatsAttr, IterCreateAttr,
    ProgBindMapAttr,
)
