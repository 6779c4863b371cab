"""Typed wrappers for attaching: LINK_CREATE/UPDATE/DETACH, RAW_TRACEPOINT_OPEN,
PROG_ATTACH/DETACH/QUERY and ITER_CREATE."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..enums import AttachType
from .abi import AttachFlags, Command
from .attrs import (
    IterCreateAttr,
    LinkCreateAttr,
    LinkDetachAttr,
    LinkUpdateAttr,
    ProgAttachAttr,
    QueryAttr,
    RawTracepointAttr,
)
from .buffers import Buffer, OutBuffer, Pinned, c_string
from .fd import FD, FdLike, fdno
from .syscall import bpf, bpf_fd


def _link(attr: LinkCreateAttr, *keep: object) -> FD:
    """Run BPF_LINK_CREATE; ``keep`` holds the buffers the attr points at until it returns."""
    fd = bpf_fd(Command.LINK_CREATE, attr, "link")
    del keep
    return fd


def link_create(
    prog_fd: FdLike, target_fd: int | FdLike, attach_type: AttachType, *, flags: int = 0, target_btf_id: int = 0,
) -> FD:
    """BPF_LINK_CREATE (kernel >= 5.7) for hooks that need only a target (cgroup, netns, xdp ifindex, ...)."""
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), target_fd=fdno(target_fd), attach_type=int(attach_type), flags=flags)
    attr.target_btf_id = target_btf_id
    return _link(attr)


def link_create_iter(prog_fd: FdLike, iter_info: Buffer | None = None, *, flags: int = 0) -> FD:
    """BPF_LINK_CREATE for a BPF iterator (``union bpf_iter_link_info`` bytes in ``iter_info``)."""
    info = Pinned(iter_info)
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), attach_type=int(AttachType.TRACE_ITER), flags=flags)
    attr.iter_info, attr.iter_info_len = info.address, info.size
    return _link(attr, info)


def link_create_perf_event(prog_fd: FdLike, perf_fd: FdLike, *, cookie: int = 0) -> FD:
    """BPF_LINK_CREATE on a perf event fd (kprobe/uprobe/tracepoint/perf; kernel >= 5.15)."""
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), target_fd=fdno(perf_fd), attach_type=int(AttachType.PERF_EVENT))
    attr.perf_event.bpf_cookie = cookie
    return _link(attr)


def link_create_tracing(
    prog_fd: FdLike, attach_type: AttachType, *, target_fd: FdLike | None = None, target_btf_id: int = 0, cookie: int = 0,
) -> FD:
    """BPF_LINK_CREATE for fentry/fexit/fmod_ret/lsm/freplace programs (kernel >= 5.19 for cookies)."""
    attr = LinkCreateAttr(
        prog_fd=fdno(prog_fd), target_fd=fdno(target_fd) if target_fd is not None else 0, attach_type=int(attach_type),
    )
    attr.tracing.target_btf_id, attr.tracing.cookie = target_btf_id, cookie
    return _link(attr)


def _u64_array(values: Sequence[int] | None) -> Pinned:
    return Pinned(struct.pack(f"<{len(values)}Q", *values) if values else None)


def link_create_kprobe_multi(
    prog_fd: FdLike,
    *,
    symbols: Sequence[str] | None = None,
    addresses: Sequence[int] | None = None,
    cookies: Sequence[int] | None = None,
    retprobe: bool = False,
) -> FD:
    """BPF_LINK_CREATE for kprobe.multi (kernel >= 5.18): by symbol names or addresses."""
    names = [c_string(s) for s in symbols or ()]
    syms = _u64_array([n.address for n in names]) if names else Pinned(None)
    addrs, cks = _u64_array(addresses), _u64_array(cookies)
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), attach_type=int(AttachType.TRACE_KPROBE_MULTI))
    km = attr.kprobe_multi
    km.flags = 1 if retprobe else 0  # BPF_F_KPROBE_MULTI_RETURN
    km.cnt = len(names) or len(addresses or ())
    km.syms, km.addrs, km.cookies = syms.address, addrs.address, cks.address
    return _link(attr, names, syms, addrs, cks)


def link_create_uprobe_multi(
    prog_fd: FdLike,
    path: str,
    offsets: Sequence[int],
    *,
    ref_ctr_offsets: Sequence[int] | None = None,
    cookies: Sequence[int] | None = None,
    pid: int = 0,
    retprobe: bool = False,
) -> FD:
    """BPF_LINK_CREATE for uprobe.multi (kernel >= 6.6): ``offsets`` into the file at ``path``."""
    p = c_string(path)
    offs, refs, cks = _u64_array(offsets), _u64_array(ref_ctr_offsets), _u64_array(cookies)
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), attach_type=int(AttachType.TRACE_UPROBE_MULTI))
    um = attr.uprobe_multi
    um.path, um.offsets, um.ref_ctr_offsets, um.cookies = p.address, offs.address, refs.address, cks.address
    um.cnt, um.flags, um.pid = len(offsets), 1 if retprobe else 0, pid  # BPF_F_UPROBE_MULTI_RETURN
    return _link(attr, p, offs, refs, cks)


def link_create_netfilter(prog_fd: FdLike, pf: int, hooknum: int, priority: int, *, flags: int = 0) -> FD:
    """BPF_LINK_CREATE for a netfilter hook (kernel >= 6.4)."""
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), attach_type=int(AttachType.NETFILTER))
    nf = attr.netfilter
    nf.pf, nf.hooknum, nf.priority, nf.flags = pf, hooknum, priority, flags
    return _link(attr)


#: Attach types whose LINK_CREATE tail is ``{relative_fd|relative_id, expected_revision}``.
_RELATIVE_TAILS: dict[AttachType, str] = {
    AttachType.TCX_INGRESS: "tcx",
    AttachType.TCX_EGRESS: "tcx",
    AttachType.NETKIT_PRIMARY: "netkit",
    AttachType.NETKIT_PEER: "netkit",
}


def link_create_ordered(
    prog_fd: FdLike,
    target: int,
    attach_type: AttachType,
    *,
    flags: AttachFlags = AttachFlags.NONE,
    relative_fd: int = 0,
    relative_id: int = 0,
    expected_revision: int = 0,
) -> FD:
    """BPF_LINK_CREATE for multi-program hooks (tcx, netkit: kernel >= 6.6; cgroup mprog).

    ``target`` is an ifindex (tcx/netkit) or a cgroup fd; BEFORE/AFTER in ``flags`` with
    ``relative_fd`` or ``relative_id`` (with AttachFlags.ID) order the program.
    """
    attr = LinkCreateAttr(prog_fd=fdno(prog_fd), target_ifindex=target, attach_type=int(attach_type), flags=int(flags))
    tail = getattr(attr, _RELATIVE_TAILS.get(attach_type, "cgroup"))
    if relative_id:
        tail.relative_id = relative_id
    else:
        tail.relative_fd = relative_fd
    tail.expected_revision = expected_revision
    return _link(attr)


def link_update(link_fd: FdLike, new_prog_fd: FdLike, *, old_prog_fd: FdLike | None = None) -> None:
    """BPF_LINK_UPDATE (kernel >= 5.7): swap the program; with ``old_prog_fd`` only if it matches."""
    attr = LinkUpdateAttr(link_fd=fdno(link_fd), new_prog_fd=fdno(new_prog_fd))
    if old_prog_fd is not None:
        attr.flags = int(AttachFlags.REPLACE)
        attr.old_prog_fd = fdno(old_prog_fd)
    bpf(Command.LINK_UPDATE, attr)


def link_detach(link_fd: FdLike) -> None:
    """BPF_LINK_DETACH (kernel >= 5.9): detach without closing the link fd."""
    bpf(Command.LINK_DETACH, LinkDetachAttr(link_fd=fdno(link_fd)))


def raw_tracepoint_open(prog_fd: FdLike, name: str | None = None, *, cookie: int = 0) -> FD:
    """BPF_RAW_TRACEPOINT_OPEN (kernel >= 4.17): attach a raw tracepoint (``name``) or a
    tracing program (``name=None``, target from load time)."""
    n = c_string(name) if name else Pinned(None)
    attr = RawTracepointAttr(name=n.address, prog_fd=fdno(prog_fd), cookie=cookie)
    fd = bpf_fd(Command.RAW_TRACEPOINT_OPEN, attr, "link")
    del n
    return fd


def prog_attach(
    target_fd: int | FdLike,
    prog_fd: FdLike,
    attach_type: AttachType,
    *,
    flags: AttachFlags = AttachFlags.NONE,
    replace_fd: FdLike | None = None,
    relative_fd: int = 0,
    relative_id: int = 0,
    expected_revision: int = 0,
) -> None:
    """BPF_PROG_ATTACH (cgroup, sockmap, flow dissector, lirc, tcx without links)."""
    attr = ProgAttachAttr(
        target_fd=fdno(target_fd), attach_bpf_fd=fdno(prog_fd), attach_type=int(attach_type),
        attach_flags=int(flags), replace_bpf_fd=fdno(replace_fd) if replace_fd is not None else 0,
        expected_revision=expected_revision,
    )
    if relative_id:
        attr.relative_id = relative_id
    else:
        attr.relative_fd = relative_fd
    bpf(Command.PROG_ATTACH, attr)


def prog_detach(target_fd: int | FdLike, attach_type: AttachType, *, prog_fd: FdLike | None = None) -> None:
    """BPF_PROG_DETACH: detach ``prog_fd`` (or the only program) from the hook."""
    attr = ProgAttachAttr(
        target_fd=fdno(target_fd), attach_bpf_fd=fdno(prog_fd) if prog_fd is not None else 0,
        attach_type=int(attach_type),
    )
    bpf(Command.PROG_DETACH, attr)


@dataclass(frozen=True)
class QueryResult:
    """What BPF_PROG_QUERY reported for a hook."""

    attach_flags: int
    prog_ids: tuple[int, ...]
    prog_attach_flags: tuple[int, ...]
    link_ids: tuple[int, ...]
    revision: int


def _u32s(buf: OutBuffer, n: int) -> tuple[int, ...]:
    return struct.unpack(f"<{n}I", buf.read(4 * n)) if n else ()


def prog_query(
    target_fd: int | FdLike, attach_type: AttachType, *, query_flags: int = 0, max_progs: int = 64,
) -> QueryResult:
    """BPF_PROG_QUERY (kernel >= 4.15): the programs (and links) attached at a hook."""
    ids, flags, links = OutBuffer(4 * max_progs), OutBuffer(4 * max_progs), OutBuffer(4 * max_progs)
    attr = QueryAttr(
        target_fd=fdno(target_fd), attach_type=int(attach_type), query_flags=query_flags,
        prog_ids=ids.address, prog_cnt=max_progs, prog_attach_flags=flags.address, link_ids=links.address,
    )
    bpf(Command.PROG_QUERY, attr)
    n = min(attr.prog_cnt, max_progs)
    return QueryResult(
        attach_flags=attr.attach_flags, prog_ids=_u32s(ids, n), prog_attach_flags=_u32s(flags, n),
        link_ids=_u32s(links, n), revision=attr.revision,
    )


def iter_create(link_fd: FdLike) -> FD:
    """BPF_ITER_CREATE (kernel >= 5.8): an fd whose reads run the iterator program."""
    return bpf_fd(Command.ITER_CREATE, IterCreateAttr(link_fd=fdno(link_fd)), "iter")
