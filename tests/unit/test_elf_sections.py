"""The section-name table: program type, attach type, target and flags from a SEC() name."""

from __future__ import annotations

import pytest

from pybpf.enums import AttachType as A
from pybpf.enums import ProgramFlags
from pybpf.enums import ProgramType as P
from pybpf.elf.sections import SECTION_DEFS, SectionFlag, parse_section_name


@pytest.mark.parametrize("name,ptype,attach,target", [
    ("kprobe/do_sys_open+8", P.KPROBE, None, "do_sys_open+8"),
    ("kprobe", P.KPROBE, None, ""),
    ("kretprobe.multi/tcp_*", P.KPROBE, A.TRACE_KPROBE_MULTI, "tcp_*"),
    ("kprobe.session/vfs_read", P.KPROBE, A.TRACE_KPROBE_SESSION, "vfs_read"),
    ("uretprobe.multi.s//lib/x.so:f*", P.KPROBE, A.TRACE_UPROBE_MULTI, "/lib/x.so:f*"),
    ("raw_tp.w/bpf_test_finish", P.RAW_TRACEPOINT_WRITABLE, None, "bpf_test_finish"),
    ("fexit.s/do_exit", P.TRACING, A.TRACE_FEXIT, "do_exit"),
    ("fmod_ret.s/f", P.TRACING, A.MODIFY_RETURN, "f"),
    ("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, ""),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, ""),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, ""),
    ("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, ""),
    ("sk_skb", P.SK_SKB, None, ""),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, ""),
    ("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, ""),
    ("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, ""),
    ("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, ""),
    ("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, ""),
    ("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, ""),
    ("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, ""),
    ("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, ""),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, None, ""),
    ("struct_ops.s/dequeue", P.STRUCT_OPS, None, "dequeue"),
])
def test_parse(name: str, ptype: P, attach: A | None, target: str) -> None:
    d = parse_section_name(name)
    assert d is not None
    assert (d.type, d.attach_type, d.attach_to) == (ptype, attach, target)


@pytest.mark.parametrize("name", ["kprobex", "xdp/", "tracepointx/a", "socket/extra", "", "cgroup/unknown", "xdpfoo"])
def test_unknown_names(name: str) -> None:
    assert parse_section_name(name) is None


def test_sleepable_variants() -> None:
    for name in ("fentry.s/f", "fexit.s/f", "fmod_ret.s/f", "lsm.s/h", "iter.s/task", "uprobe.s//b:f",
                 "uretprobe.s//b:f", "usdt.s//b:p:n", "syscall", "struct_ops.s/x", "uprobe.multi.s//b:*"):
        d = parse_section_name(name)
        assert d is not None and d.sleepable, name
        assert d.program_flags & ProgramFlags.SLEEPABLE
    for name in ("fentry/f", "lsm/h", "uprobe//b:f", "xdp", "kprobe/f"):
        d = parse_section_name(name)
        assert d is not None and not d.sleepable, name


def test_flags() -> None:
    assert parse_section_name("kretprobe/f").retprobe  # type: ignore[union-attr]
    assert not parse_section_name("kprobe/f").retprobe  # type: ignore[union-attr]
    assert parse_section_name("kretsyscall/openat").flags & SectionFlag.SYSCALL  # type: ignore[union-attr]
    assert parse_section_name("usdt//b:p:n").flags & SectionFlag.USDT  # type: ignore[union-attr]
    assert parse_section_name("fentry/f").flags & SectionFlag.ATTACH_BTF  # type: ignore[union-attr]
    assert parse_section_name("cgroup/connect4").attachable  # type: ignore[union-attr]
    assert not parse_section_name("socket").attachable  # type: ignore[union-attr]
    assert parse_section_name("xdp.frags").program_flags == ProgramFlags.XDP_HAS_FRAGS  # type: ignore[union-attr]


def test_table_is_consistent() -> None:
    prefixes = [d.prefix for d in SECTION_DEFS]
    assert len(prefixes) == len(set(prefixes)), "duplicate section definitions"
    for d in SECTION_DEFS:
        assert d.attach_to == ""
        # every entry matches its own bare name (and, with '+', a name with extras)
        parsed = parse_section_name(d.name)
        assert parsed is not None and parsed.prefix == d.prefix, d.prefix
        if d.prefix.endswith("+"):
            assert parse_section_name(d.name + "/x").attach_to == "x"  # type: ignore[union-attr]
