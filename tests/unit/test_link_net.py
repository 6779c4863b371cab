"""pybpf.link network hooks without a kernel: attr contents over the FakeSyscalls seam, defaults
taken from sections, cgroup v2 discovery, netlink's missing-pyroute2 error."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pybpf import _sys
from pybpf._sys import AttachFlags, Command
from pybpf._sys.fake import FakeSyscalls
from pybpf.enums import AttachType, ProgramType
from pybpf.errors import BPFError, NotSupportedError, SyscallError
from pybpf.link import _netlink
from pybpf.link.cgroup import cgroup, cgroup2_mount, resolve
from pybpf.link.netfilter import NFHook, NFProto, netfilter
from pybpf.link.sk_lookup import sk_lookup
from pybpf.link.sockmap import sockmap
from pybpf.link.tc import TCDirection, tcx
from pybpf.link.xdp import XDPBusyError, XDPMode, xdp
from pybpf.program import Program


@pytest.fixture
def fake() -> Iterator[FakeSyscalls]:
    with _sys.override(FakeSyscalls()) as f:
        yield f


def _prog(fake: FakeSyscalls, type: ProgramType, section: str | None = None) -> Program:
    prog = Program(_sys.FD(fake.new_fd(), kind="prog"), name="p", type=type)
    if section is not None:
        prog.spec = SimpleNamespace(section=section)  # type: ignore[assignment]
    return prog


def _link_attr(fake: FakeSyscalls) -> _sys.attrs.LinkCreateAttr:
    (call,) = fake.calls_for(Command.LINK_CREATE)
    return call.attr  # type: ignore[return-value]


def test_xdp_mode_values_are_the_uapi_flags() -> None:
    assert [int(m) for m in XDPMode] == [0, 2, 4, 8]


@pytest.mark.parametrize("mode", list(XDPMode))
def test_xdp_link_create_carries_ifindex_and_mode(fake: FakeSyscalls, mode: XDPMode) -> None:
    prog = _prog(fake, ProgramType.XDP, "xdp")
    with xdp(prog, 1, mode=mode, use_link=True) as lk:
        attr = _link_attr(fake)
        assert (attr.prog_fd, attr.target_ifindex) == (prog.fileno(), 1)
        assert (attr.attach_type, attr.flags) == (AttachType.XDP, int(mode))
        assert lk.description.startswith("xdp lo")


def test_xdp_busy_interface_says_what_to_do(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_CREATE, errno.EBUSY)
    with pytest.raises(XDPBusyError, match="already has an XDP program"):
        xdp(_prog(fake, ProgramType.XDP), "lo", use_link=True)


def test_xdp_replace_needs_netlink(fake: FakeSyscalls) -> None:
    with pytest.raises(BPFError, match="use_link=False"):
        xdp(_prog(fake, ProgramType.XDP), "lo", use_link=True, replace=True)


def test_unknown_interface_is_enodev() -> None:
    with pytest.raises(SyscallError, match="no interface named") as info:
        _netlink.interface_index("pybpf-no-such-if")
    assert info.value.errno == errno.ENODEV
    assert _netlink.interface_index("lo") == 1


def test_missing_pyroute2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyroute2", None)
    with pytest.raises(_netlink.NetlinkError, match=r"pybpf\[net\]"):
        _netlink.xdp_prog_id(1)


@pytest.mark.parametrize(("section", "given", "expected"), [
    ("tcx/egress", None, AttachType.TCX_EGRESS),
    ("tc/ingress", None, AttachType.TCX_INGRESS),
    ("tc", None, AttachType.TCX_INGRESS),
    ("tcx/ingress", TCDirection.EGRESS, AttachType.TCX_EGRESS),
    ("tcx/ingress", "egress", AttachType.TCX_EGRESS),
])
def test_tcx_direction_from_section_or_argument(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch, section: str,
                                                 given: TCDirection | str | None, expected: AttachType) -> None:
    monkeypatch.setattr(sys.modules["pybpf.link.tc"].features, "require", lambda name: None)
    with tcx(_prog(fake, ProgramType.SCHED_CLS, section), "lo", direction=given):
        assert _link_attr(fake).attach_type == expected


def test_tcx_anchors_set_flags_and_relative(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules["pybpf.link.tc"].features, "require", lambda name: None)
    anchor = _prog(fake, ProgramType.SCHED_CLS)
    cases = [(dict(before=anchor), AttachFlags.BEFORE, anchor.fileno(), 0),
             (dict(after=42), AttachFlags.AFTER | AttachFlags.ID, 0, 42),
             (dict(before=None), AttachFlags.BEFORE, 0, 0)]
    for kwargs, flags, rel_fd, rel_id in cases:
        fake.calls.clear()
        with tcx(_prog(fake, ProgramType.SCHED_CLS), "lo", **kwargs):  # type: ignore[arg-type]
            attr = _link_attr(fake)
            assert attr.flags == flags
            assert (attr.tcx.relative_fd if rel_fd else attr.tcx.relative_id) == (rel_fd or rel_id)
    with pytest.raises(BPFError, match="not both"):
        tcx(anchor, "lo", before=None, after=None)
    with pytest.raises(TypeError, match="before=/after="):
        tcx(anchor, "lo", before="first")


def test_cgroup2_mount_from_proc_mounts(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")
    assert cgroup2_mount(str(mounts)) == Path("/sys/fs/cgroup/unified")
    mounts.write_text("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n")
    with pytest.raises(BPFError, match="mount -t cgroup2"):
        cgroup2_mount(str(mounts))


def test_resolve_keeps_absolute_paths() -> None:
    assert resolve("/a/b") == Path("/a/b")


@pytest.mark.parametrize(("type_", "section", "given", "expected"), [
    (ProgramType.CGROUP_SOCK_ADDR, "cgroup/connect6", None, AttachType.CGROUP_INET6_CONNECT),
    (ProgramType.CGROUP_SKB, "cgroup_skb/egress", None, AttachType.CGROUP_INET_EGRESS),
    (ProgramType.CGROUP_SKB, "cgroup/skb", None, AttachType.CGROUP_INET_INGRESS),
    (ProgramType.SOCK_OPS, None, None, AttachType.CGROUP_SOCK_OPS),
    (ProgramType.CGROUP_SOCKOPT, "cgroup/getsockopt", AttachType.CGROUP_SETSOCKOPT, AttachType.CGROUP_SETSOCKOPT),
])
def test_cgroup_attach_type_defaults(fake: FakeSyscalls, type_: ProgramType, section: str | None,
                                     given: AttachType | None, expected: AttachType) -> None:
    with cgroup(_prog(fake, type_, section), 7, given, use_link=True):
        attr = _link_attr(fake)
        assert (attr.target_fd, attr.attach_type, attr.flags) == (7, expected, 0)


def test_cgroup_sock_addr_without_section_must_say_which_hook(fake: FakeSyscalls) -> None:
    with pytest.raises(BPFError, match="say which cgroup hook"):
        cgroup(_prog(fake, ProgramType.CGROUP_SOCK_ADDR), 7)


def test_cgroup_prog_attach_flags_and_detach(fake: FakeSyscalls) -> None:
    prog, old = _prog(fake, ProgramType.CGROUP_SKB), _prog(fake, ProgramType.CGROUP_SKB)
    fake.open_fds.add(7)  # the cgroup fd
    lk = cgroup(prog, 7, AttachType.CGROUP_INET_INGRESS, flags=AttachFlags.ALLOW_MULTI, replace=old)
    (call,) = fake.calls_for(Command.PROG_ATTACH)
    attr = call.attr
    assert (attr.target_fd, attr.attach_bpf_fd, attr.attach_type) == (7, prog.fileno(), AttachType.CGROUP_INET_INGRESS)
    assert attr.attach_flags == AttachFlags.ALLOW_MULTI | AttachFlags.REPLACE and attr.replace_bpf_fd == old.fileno()
    assert lk.fd is None
    lk.close()
    (detach,) = fake.calls_for(Command.PROG_DETACH)
    assert detach.attr.attach_type == AttachType.CGROUP_INET_INGRESS


def test_sk_lookup_and_sockmap_targets(fake: FakeSyscalls) -> None:
    with sk_lookup(_prog(fake, ProgramType.SK_LOOKUP), 9):
        assert (_link_attr(fake).target_fd, _link_attr(fake).attach_type) == (9, AttachType.SK_LOOKUP)
    fake.calls.clear()
    sock_map = SimpleNamespace(fileno=lambda: 11)
    with sockmap(_prog(fake, ProgramType.SK_MSG, "sk_msg"), sock_map):
        assert (_link_attr(fake).target_fd, _link_attr(fake).attach_type) == (11, AttachType.SK_MSG_VERDICT)


def test_sockmap_falls_back_to_prog_attach(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_CREATE, errno.EINVAL)
    sock_map = SimpleNamespace(fileno=lambda: 11)
    fake.open_fds.add(11)
    with sockmap(_prog(fake, ProgramType.SK_SKB, "sk_skb/stream_verdict"), sock_map) as lk:
        assert lk.fd is None
        (call,) = fake.calls_for(Command.PROG_ATTACH)
        assert (call.attr.target_fd, call.attr.attach_type) == (11, AttachType.SK_SKB_STREAM_VERDICT)


def test_netfilter_attr_and_refusal(fake: FakeSyscalls) -> None:
    with netfilter(_prog(fake, ProgramType.NETFILTER), pf=NFProto.IPV6, hook=NFHook.FORWARD, priority=-5):
        nf = _link_attr(fake).netfilter
        assert (nf.pf, nf.hooknum, nf.priority) == (10, 2, -5)
    fake.fail(Command.LINK_CREATE, errno.EOPNOTSUPP)
    with pytest.raises(NotSupportedError, match="netfilter link"):
        netfilter(_prog(fake, ProgramType.NETFILTER))


def test_netlink_xdp_detach_on_kernel_without_replace_flag(monkeypatch: pytest.MonkeyPatch, fake: FakeSyscalls) -> None:
    """Kernels < 5.7 refuse XDP_FLAGS_REPLACE: the detach compares program ids instead."""
    xdp_mod = sys.modules["pybpf.link.xdp"]

    calls: list[tuple[int, int, int | None]] = []

    def xdp_set(ifindex: int, fd: int, flags: int, *, expected_fd: int | None = None) -> None:
        calls.append((fd, flags, expected_fd))
        if flags & 16:
            raise SyscallError("netlink", errno.EINVAL)

    for attached_id, detached in ((5, True), (6, False)):
        calls.clear()
        monkeypatch.setattr(xdp_mod._netlink, "xdp_set", xdp_set)
        monkeypatch.setattr(xdp_mod._netlink, "xdp_prog_id", lambda ifindex, mode, i=attached_id: i)
        own = _sys.FD(fake.new_fd(), kind="prog")
        xdp_mod._netlink_detach(1, XDPMode.SKB, own, 5)
        assert own.closed
        assert ((-1, int(XDPMode.SKB), None) in calls) == detached
