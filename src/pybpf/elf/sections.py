"""The ELF section-name convention for eBPF programs (libbpf's ``SEC("...")`` names), as data.

A program's section name says what kind of program it is and, often, where it attaches:
``SEC("tracepoint/syscalls/sys_enter_execve")`` is a ``BPF_PROG_TYPE_TRACEPOINT`` program for
the tracepoint ``syscalls/sys_enter_execve``. The table below follows the kernel's
Documentation/bpf/libbpf/program_types.rst. Matching rules:

* an entry ``"socket"`` matches exactly ``socket``;
* an entry ``"kprobe+"`` matches ``kprobe`` or ``kprobe/<extras>``; ``<extras>`` is the attach
  target (``attach_to``);
* an entry ``"tp_btf/"`` (legacy style) matches anything that starts with it.

    >>> d = parse_section_name("uprobe.s//bin/bash:readline")
    >>> d.type.name, d.attach_to, d.sleepable
    ('KPROBE', '/bin/bash:readline', True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntFlag
from functools import lru_cache

from ..enums import AttachType as A
from ..enums import ProgramFlags
from ..enums import ProgramType as P

__all__ = ["SECTION_DEFS", "SectionDef", "SectionFlag", "parse_section_name"]


class SectionFlag(IntFlag):
    """What a section definition implies for loading and attaching."""

    NONE = 0
    ATTACHABLE = 1 << 0  # expected_attach_type must be passed at load time
    ATTACHABLE_OPT = 1 << 1  # expected_attach_type is passed, but old kernels load without it
    ATTACH_BTF = 1 << 2  # the target is a kernel BTF name (function, hook, tracepoint) resolved at load
    SLEEPABLE = 1 << 3  # BPF_F_SLEEPABLE
    XDP_FRAGS = 1 << 4  # BPF_F_XDP_HAS_FRAGS
    RETPROBE = 1 << 5  # kretprobe / uretprobe / kretsyscall: attach to the function's return
    USDT = 1 << 6  # a USDT probe (target is path:provider:name)
    SYSCALL = 1 << 7  # ksyscall: the target is a syscall name, not a kernel function
    MULTI = 1 << 8  # kprobe.multi / uprobe.multi: the target is a pattern
    SESSION = 1 << 9  # kprobe.session / uprobe.session
    WRITABLE = 1 << 10  # raw_tp.w: writable raw tracepoint


@dataclass(frozen=True)
class SectionDef:
    """One entry of the naming table; :func:`parse_section_name` fills ``attach_to``."""

    prefix: str  # "xdp", "kprobe+", "tp_btf/": see the module docstring for the match rules
    type: P
    attach_type: A | None = None
    flags: SectionFlag = SectionFlag.NONE
    attach_to: str = ""

    @property
    def name(self) -> str:
        """The prefix without its match marker: ``"kprobe+"`` -> ``"kprobe"``."""
        return self.prefix.rstrip("+/")

    @property
    def sleepable(self) -> bool:
        return bool(self.flags & SectionFlag.SLEEPABLE)

    @property
    def attachable(self) -> bool:
        """True when the attach type is passed as ``expected_attach_type`` at load time."""
        return bool(self.flags & (SectionFlag.ATTACHABLE | SectionFlag.ATTACHABLE_OPT))

    @property
    def retprobe(self) -> bool:
        return bool(self.flags & SectionFlag.RETPROBE)

    @property
    def program_flags(self) -> ProgramFlags:
        """The ``prog_flags`` the section implies (sleepable, XDP frags)."""
        out = ProgramFlags.NONE
        if self.flags & SectionFlag.SLEEPABLE:
            out |= ProgramFlags.SLEEPABLE
        if self.flags & SectionFlag.XDP_FRAGS:
            out |= ProgramFlags.XDP_HAS_FRAGS
        return out

    def matches(self, section: str) -> str | None:
        """The attach target (``""`` for none) if ``section`` matches this entry, else None."""
        if self.prefix.endswith("+"):
            base = self.prefix[:-1]
            if section == base:
                return ""
            if section.startswith(base + "/"):
                return section[len(base) + 1:]
            return None
        if self.prefix.endswith("/"):
            return section[len(self.prefix):] if section.startswith(self.prefix) else None
        return "" if section == self.prefix else None


_F = SectionFlag
_ATT = _F.ATTACHABLE
_OPT = _F.ATTACHABLE_OPT
_BTF = _F.ATTACH_BTF
_SLP = _F.SLEEPABLE


def _d(prefix: str, ptype: P, attach: A | None = None, flags: SectionFlag = _F.NONE) -> SectionDef:
    return SectionDef(prefix, ptype, attach, flags)


#: The naming table. Exact names are matched first, then ``+``/``/`` prefixes in order.
SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", P.SOCKET_FILTER),
    _d("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, _ATT),
    _d("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, _ATT),
    # kprobes, uprobes, USDT (all BPF_PROG_TYPE_KPROBE)
    _d("kprobe+", P.KPROBE),
    _d("kretprobe+", P.KPROBE, None, _F.RETPROBE),
    _d("ksyscall+", P.KPROBE, None, _F.SYSCALL),
    _d("kretsyscall+", P.KPROBE, None, _F.SYSCALL | _F.RETPROBE),
    _d("uprobe+", P.KPROBE),
    _d("uprobe.s+", P.KPROBE, None, _SLP),
    _d("uretprobe+", P.KPROBE, None, _F.RETPROBE),
    _d("uretprobe.s+", P.KPROBE, None, _F.RETPROBE | _SLP),
    _d("usdt+", P.KPROBE, None, _F.USDT),
    _d("usdt.s+", P.KPROBE, None, _F.USDT | _SLP),
    _d("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, _F.MULTI),
    _d("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, _F.MULTI | _F.RETPROBE),
    _d("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION, _F.MULTI | _F.SESSION),
    _d("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, _F.MULTI),
    _d("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, _F.MULTI | _F.RETPROBE),
    _d("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _F.MULTI | _SLP),
    _d("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, _F.MULTI | _F.RETPROBE | _SLP),
    _d("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION, _F.MULTI | _F.SESSION),
    _d("uprobe.session.s+", P.KPROBE, A.TRACE_UPROBE_SESSION, _F.MULTI | _F.SESSION | _SLP),
    # traffic control
    _d("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    _d("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    _d("tc", P.SCHED_CLS),
    _d("classifier", P.SCHED_CLS),
    _d("action", P.SCHED_ACT),
    _d("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _d("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    # tracepoints
    _d("tracepoint+", P.TRACEPOINT),
    _d("tp+", P.TRACEPOINT),
    _d("raw_tracepoint+", P.RAW_TRACEPOINT),
    _d("raw_tp+", P.RAW_TRACEPOINT),
    _d("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, None, _F.WRITABLE),
    _d("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, None, _F.WRITABLE),
    _d("tp_btf+", P.TRACING, A.TRACE_RAW_TP, _BTF),
    # BTF-attached tracing
    _d("fentry+", P.TRACING, A.TRACE_FENTRY, _BTF),
    _d("fmod_ret+", P.TRACING, A.MODIFY_RETURN, _BTF),
    _d("fexit+", P.TRACING, A.TRACE_FEXIT, _BTF),
    _d("fentry.s+", P.TRACING, A.TRACE_FENTRY, _BTF | _SLP),
    _d("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, _BTF | _SLP),
    _d("fexit.s+", P.TRACING, A.TRACE_FEXIT, _BTF | _SLP),
    _d("freplace+", P.EXT, None, _BTF),
    _d("lsm+", P.LSM, A.LSM_MAC, _BTF),
    _d("lsm.s+", P.LSM, A.LSM_MAC, _BTF | _SLP),
    _d("lsm_cgroup+", P.LSM, A.LSM_CGROUP, _BTF),
    _d("iter+", P.TRACING, A.TRACE_ITER, _BTF),
    _d("iter.s+", P.TRACING, A.TRACE_ITER, _BTF | _SLP),
    _d("syscall", P.SYSCALL, None, _SLP),
    # XDP
    _d("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, _ATT | _F.XDP_FRAGS),
    _d("xdp/devmap", P.XDP, A.XDP_DEVMAP, _ATT),
    _d("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, _ATT | _F.XDP_FRAGS),
    _d("xdp/cpumap", P.XDP, A.XDP_CPUMAP, _ATT),
    _d("xdp.frags", P.XDP, A.XDP, _OPT | _F.XDP_FRAGS),
    _d("xdp", P.XDP, A.XDP, _OPT),
    _d("perf_event", P.PERF_EVENT),
    # lightweight tunnels
    _d("lwt_in", P.LWT_IN),
    _d("lwt_out", P.LWT_OUT),
    _d("lwt_xmit", P.LWT_XMIT),
    _d("lwt_seg6local", P.LWT_SEG6LOCAL),
    # sockets and cgroups
    _d("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, _OPT),
    _d("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, _OPT),
    _d("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, _OPT),
    _d("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, _OPT),
    _d("sk_skb", P.SK_SKB),
    _d("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, _OPT),
    _d("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, _OPT),
    _d("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, _OPT),
    _d("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, _OPT),
    _d("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, _OPT),
    _d("cgroup/skb", P.CGROUP_SKB),
    _d("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _ATT),
    _d("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, _ATT),
    _d("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, _OPT),
    _d("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, _ATT),
    _d("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, _ATT),
    _d("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, _ATT),
    _d("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, _ATT),
    _d("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, _ATT),
    _d("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, _ATT),
    _d("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, _ATT),
    _d("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, _ATT),
    _d("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, _ATT),
    _d("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, _ATT),
    _d("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, _ATT),
    _d("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, _ATT),
    _d("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, _ATT),
    _d("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, _ATT),
    _d("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, _ATT),
    _d("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, _ATT),
    _d("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, _ATT),
    _d("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, _ATT),
    _d("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, _ATT),
    _d("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, _ATT),
    _d("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, _ATT),
    _d("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, _ATT),
    _d("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, _OPT),
    _d("struct_ops+", P.STRUCT_OPS),
    _d("struct_ops.s+", P.STRUCT_OPS, None, _SLP),
    _d("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, _ATT),
    _d("netfilter", P.NETFILTER, A.NETFILTER),
)

_EXACT = {d.prefix: d for d in SECTION_DEFS if not d.prefix.endswith(("+", "/"))}
_PREFIXED = tuple(d for d in SECTION_DEFS if d.prefix.endswith(("+", "/")))


@lru_cache(maxsize=512)
def parse_section_name(name: str) -> SectionDef | None:
    """The table entry for a program section name, with ``attach_to`` filled in.

    Returns None for a name the convention does not know (the program then has
    ``ProgramType.UNSPEC`` and its type must be set before loading).

        >>> parse_section_name("tp/sched/sched_switch").attach_to
        'sched/sched_switch'
    """
    exact = _EXACT.get(name)
    if exact is not None:
        return exact
    for entry in _PREFIXED:
        target = entry.matches(name)
        if target is not None:
            return dataclasses.replace(entry, attach_to=target) if target else entry
    return None
