"""``LinkInfo``: what the kernel reports about one BPF link (``bpftool link show``).

The kind-specific part of ``struct bpf_link_info`` is decoded by a per-link-type function
(a dict, :data:`_DETAILS`) into a plain ``details`` dict, so a new link type needs one entry.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from .. import _sys
from ..enums import AttachType, LinkType

_NAME_BUF = 512


class PerfEventLinkType(IntEnum):
    """``enum bpf_perf_event_type``: what a PERF_EVENT link's perf event is."""

    UNSPEC = 0
    UPROBE = 1
    URETPROBE = 2
    KPROBE = 3
    KRETPROBE = 4
    TRACEPOINT = 5
    EVENT = 6


@dataclass(frozen=True)
class LinkInfo:
    """One link as the kernel sees it.

    ``details`` holds the kind-specific fields, e.g. ``{"tp_name": "sys_enter"}`` for a raw
    tracepoint link or ``{"perf_type": "TRACEPOINT", "tp_name": "sys_enter_openat"}`` for a
    perf-event link.
    """

    id: int
    type: LinkType
    prog_id: int
    details: dict[str, object] = field(default_factory=dict)


def _attach_type(value: int) -> AttachType | int:
    try:
        return AttachType(value)
    except ValueError:
        return value


def _text(buf: ctypes.Array[ctypes.c_char]) -> str:
    return buf.value.decode(errors="replace")


def _raw_tp(raw: _sys.LinkInfo, buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"tp_name": _text(buf), "cookie": int(raw.raw_tracepoint.cookie)}


def _tracing(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    t = raw.tracing
    return {"attach_type": _attach_type(int(t.attach_type)), "target_obj_id": int(t.target_obj_id),
            "target_btf_id": int(t.target_btf_id), "cookie": int(t.cookie)}


def _iter(raw: _sys.LinkInfo, buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"target_name": _text(buf), "map_id": int(raw.iter.map.map_id)}


def _cgroup(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"cgroup_id": int(raw.cgroup.cgroup_id), "attach_type": _attach_type(int(raw.cgroup.attach_type))}


def _netns(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"netns_ino": int(raw.netns.netns_ino), "attach_type": _attach_type(int(raw.netns.attach_type))}


def _xdp(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"ifindex": int(raw.xdp.ifindex)}


def _ifindex_attach(member: str) -> Callable[[_sys.LinkInfo, ctypes.Array[ctypes.c_char]], dict[str, object]]:
    def decode(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
        tail = getattr(raw, member)
        return {"ifindex": int(tail.ifindex), "attach_type": _attach_type(int(tail.attach_type))}

    return decode


def _netfilter(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    nf = raw.netfilter
    return {"pf": int(nf.pf), "hooknum": int(nf.hooknum), "priority": int(nf.priority), "flags": int(nf.flags)}


def _kprobe_multi(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    km = raw.kprobe_multi
    return {"count": int(km.count), "retprobe": bool(km.flags & 1), "missed": int(km.missed)}


def _uprobe_multi(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    um = raw.uprobe_multi
    return {"count": int(um.count), "retprobe": bool(um.flags & 1), "pid": int(um.pid)}


def _struct_ops(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"map_id": int(raw.struct_ops.map_id)}


def _sockmap(raw: _sys.LinkInfo, _buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    return {"map_id": int(raw.sockmap.map_id), "attach_type": _attach_type(int(raw.sockmap.attach_type))}


def _perf_event(raw: _sys.LinkInfo, buf: ctypes.Array[ctypes.c_char]) -> dict[str, object]:
    pe = raw.perf_event
    try:
        kind = PerfEventLinkType(int(pe.type))
    except ValueError:
        return {"perf_type": int(pe.type)}
    out: dict[str, object] = {"perf_type": kind.name}
    if kind == PerfEventLinkType.TRACEPOINT:
        out.update(tp_name=_text(buf), cookie=int(pe.tracepoint.cookie))
    elif kind in (PerfEventLinkType.KPROBE, PerfEventLinkType.KRETPROBE):
        out.update(func_name=_text(buf), offset=int(pe.kprobe.offset), addr=int(pe.kprobe.addr),
                   missed=int(pe.kprobe.missed), cookie=int(pe.kprobe.cookie))
    elif kind in (PerfEventLinkType.UPROBE, PerfEventLinkType.URETPROBE):
        out.update(file_name=_text(buf), offset=int(pe.uprobe.offset), cookie=int(pe.uprobe.cookie))
    elif kind == PerfEventLinkType.EVENT:
        out.update(config=int(pe.event.config), event_type=int(pe.event.type), cookie=int(pe.event.cookie))
    return out


_Decoder = Callable[[_sys.LinkInfo, "ctypes.Array[ctypes.c_char]"], dict[str, object]]

#: Link type -> decoder of its ``bpf_link_info`` tail.
_DETAILS: dict[LinkType, _Decoder] = {
    LinkType.RAW_TRACEPOINT: _raw_tp,
    LinkType.TRACING: _tracing,
    LinkType.CGROUP: _cgroup,
    LinkType.ITER: _iter,
    LinkType.NETNS: _netns,
    LinkType.XDP: _xdp,
    LinkType.PERF_EVENT: _perf_event,
    LinkType.KPROBE_MULTI: _kprobe_multi,
    LinkType.STRUCT_OPS: _struct_ops,
    LinkType.NETFILTER: _netfilter,
    LinkType.TCX: _ifindex_attach("tcx"),
    LinkType.UPROBE_MULTI: _uprobe_multi,
    LinkType.NETKIT: _ifindex_attach("netkit"),
    LinkType.SOCKMAP: _sockmap,
}


def _point_names(raw: _sys.LinkInfo, link_type: int, buf: ctypes.Array[ctypes.c_char]) -> None:
    """Point the name field of the tail member of ``link_type`` at ``buf``.

    The tail is a union whose members put their name pointers at different offsets, so the
    type (from a first query) picks the member. In every perf-event variant the name pointer
    and its length sit at the same offsets, so the tracepoint member serves them all.
    """
    addr, size = ctypes.addressof(buf), len(buf)
    if link_type == LinkType.RAW_TRACEPOINT:
        raw.raw_tracepoint.tp_name, raw.raw_tracepoint.tp_name_len = addr, size
    elif link_type == LinkType.ITER:
        raw.iter.target_name, raw.iter.target_name_len = addr, size
    elif link_type == LinkType.PERF_EVENT:
        raw.perf_event.tracepoint.tp_name, raw.perf_event.tracepoint.name_len = addr, size


def link_info(fd: _sys.FdLike) -> LinkInfo:
    """Query BPF_OBJ_GET_INFO_BY_FD for a link fd and decode it (names included)."""
    first = _sys.link_info(fd)
    buf = ctypes.create_string_buffer(_NAME_BUF)
    raw = _sys.LinkInfo()
    _point_names(raw, int(first.type), buf)
    raw = _sys.obj_get_info_by_fd(fd, raw)
    try:
        link_type = LinkType(int(raw.type))
    except ValueError:
        return LinkInfo(int(raw.id), LinkType.UNSPEC, int(raw.prog_id), {"raw_type": int(raw.type)})
    decoder = _DETAILS.get(link_type)
    details = decoder(raw, buf) if decoder is not None else {}
    return LinkInfo(int(raw.id), link_type, int(raw.prog_id), details)


__all__ = ["LinkInfo", "PerfEventLinkType", "link_info"]
