"""pybpf.link.base over FakeSyscalls: ownership, close order, update, pin, info decoding."""

from __future__ import annotations

import ctypes
import errno
import gc
import logging
from dataclasses import dataclass, field

import pytest

from pybpf import _sys
from pybpf._sys import FD, Command
from pybpf._sys.fake import FakeSyscalls, write
from pybpf.enums import LinkType, ProgramType
from pybpf.errors import NotSupportedError
from pybpf.link import Link, LinkError, LinkGroup
from pybpf.link.info import PerfEventLinkType


@dataclass
class FakeProgram:
    fd: FD
    name: str = "prog"
    type: ProgramType = ProgramType.TRACEPOINT
    spec: object = None
    links: list[Link] = field(default_factory=list)


@pytest.fixture
def fake() -> FakeSyscalls:
    with _sys.override(FakeSyscalls()) as f:
        yield f


def _fd(fake: FakeSyscalls, kind: str = "fd") -> FD:
    return FD(fake.new_fd(), kind=kind, syscalls=fake)


def test_close_releases_link_fd_then_resources_then_cleanups_once(fake: FakeSyscalls) -> None:
    order: list[object] = []
    link_fd, perf_fd = _fd(fake, "link"), _fd(fake, "perf")
    lk = Link(fd=link_fd, program=None, description="t", resources=[perf_fd], cleanups=[lambda: order.append("c")])
    lk.close()
    lk.close()
    assert fake.closed == [link_fd._fd, perf_fd._fd] and order == ["c"]  # type: ignore[attr-defined]
    assert lk.closed and "detached" in repr(lk)
    with pytest.raises(LinkError, match="already detached"):
        lk.info()


def test_a_failing_cleanup_is_logged_and_the_rest_still_runs(fake: FakeSyscalls, caplog: pytest.LogCaptureFixture) -> None:
    ran: list[int] = []

    def boom() -> None:
        raise OSError(errno.EBUSY, "busy")

    lk = Link(fd=_fd(fake), program=None, description="t", cleanups=[boom, lambda: ran.append(1)])
    with caplog.at_level(logging.WARNING, logger="pybpf.link"):
        lk.close()
    assert ran == [1] and "busy" in caplog.text
    assert not fake.open_fds


def test_garbage_collection_detaches_a_forgotten_link(fake: FakeSyscalls) -> None:
    Link(fd=_fd(fake), program=None, description="t", resources=[_fd(fake)])
    gc.collect()
    assert not fake.open_fds


def test_update_uses_link_update_when_the_kind_has_it(fake: FakeSyscalls) -> None:
    old, new = FakeProgram(_fd(fake, "prog")), FakeProgram(_fd(fake, "prog"), name="new")
    lk = Link(fd=_fd(fake, "link"), program=old, description="t")  # type: ignore[arg-type]
    lk.update(new)  # type: ignore[arg-type]
    (call,) = fake.calls_for(Command.LINK_UPDATE)
    assert call.attr.new_prog_fd == new.fd.fileno() and lk.program is new


def test_update_reattaches_kinds_without_link_update(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_UPDATE, errno.EINVAL)
    old, new = FakeProgram(_fd(fake, "prog")), FakeProgram(_fd(fake, "prog"), name="new")
    old_link_fd, old_perf = _fd(fake, "link"), _fd(fake, "perf")
    made: list[Link] = []

    def reattach(prog: FakeProgram) -> Link:
        made.append(Link(fd=_fd(fake, "link"), program=prog, description="t", resources=[_fd(fake, "perf")],  # type: ignore[arg-type]
                         reattach=reattach))  # type: ignore[arg-type]
        return made[-1]

    lk = Link(fd=old_link_fd, program=old, description="t", resources=[old_perf], reattach=reattach)  # type: ignore[arg-type]
    lk.update(new)  # type: ignore[arg-type]
    assert lk.program is new and len(made) == 1
    assert old_link_fd.closed and old_perf.closed  # the old attachment is released after the new one exists
    assert lk.fd is made[0].fd and not lk.fd.closed  # type: ignore[union-attr]
    lk.close()
    assert made[0].fd.closed  # type: ignore[union-attr]


def test_update_without_a_way_says_what_to_do(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_UPDATE, errno.EOPNOTSUPP)
    lk = Link(fd=_fd(fake, "link"), program=None, description="tracepoint a:b")
    with pytest.raises(NotSupportedError, match="tracepoint a:b.*(EOPNOTSUPP|ENOTSUP).*attach the new program"):
        lk.update(FakeProgram(_fd(fake)))  # type: ignore[arg-type]
    no_fd = Link(fd=None, program=None, description="ioctl", reattach=None)
    with pytest.raises(NotSupportedError, match="without a BPF link"):
        no_fd.update(FakeProgram(_fd(fake)))  # type: ignore[arg-type]


def test_pin_and_unpin(fake: FakeSyscalls, tmp_path: object) -> None:
    lk = Link(fd=_fd(fake, "link"), program=None, description="t")
    lk.pin("/sys/fs/bpf/x")
    (call,) = fake.calls_for(Command.OBJ_PIN)
    assert call.attr.bpf_fd == lk.fileno()
    fake.fail(Command.LINK_UPDATE, errno.EINVAL)
    with pytest.raises(NotSupportedError, match="pinned"):
        lk.update(FakeProgram(_fd(fake)))  # type: ignore[arg-type]
    lk.unpin()  # the pin file does not exist on this fake: nothing to remove, no error
    lk.detach()
    assert fake.calls_for(Command.LINK_DETACH) and lk.closed


def _info_handler(link_type: LinkType, name: bytes, perf_type: int = 0):  # type: ignore[no-untyped-def]
    def handler(attr: _sys.attrs.Attr) -> int:  # type: ignore[name-defined]
        info = _sys.LinkInfo.from_address(attr.info)
        info.type, info.id, info.prog_id = int(link_type), 7, 42
        if link_type == LinkType.RAW_TRACEPOINT and info.raw_tracepoint.tp_name:
            write(info.raw_tracepoint.tp_name, name + b"\0")
        if link_type == LinkType.PERF_EVENT:
            info.perf_event.type = perf_type
            if info.perf_event.tracepoint.tp_name:
                write(info.perf_event.tracepoint.tp_name, name + b"\0")
        return 0

    return handler


def test_info_decodes_names_per_link_type(fake: FakeSyscalls) -> None:
    fake.on(Command.OBJ_GET_INFO_BY_FD, _info_handler(LinkType.RAW_TRACEPOINT, b"sys_enter"))
    info = Link(fd=_fd(fake, "link"), program=None, description="t").info()
    assert (info.id, info.type, info.prog_id, info.details["tp_name"]) == (7, LinkType.RAW_TRACEPOINT, 42, "sys_enter")
    fake.handlers.clear()
    fake.on(Command.OBJ_GET_INFO_BY_FD, _info_handler(LinkType.PERF_EVENT, b"sys_enter_openat", PerfEventLinkType.TRACEPOINT))
    info = Link(fd=_fd(fake, "link"), program=None, description="t").info()
    assert info.details == {"perf_type": "TRACEPOINT", "tp_name": "sys_enter_openat", "cookie": 0}


def test_link_group_closes_its_members_and_each_has_its_own_backstop(fake: FakeSyscalls) -> None:
    members = [Link(fd=_fd(fake, "link"), program=None, description=f"m{i}") for i in range(3)]
    group = LinkGroup(members, program=None, description="g")
    assert len(group) == 3
    other = LinkGroup([Link(fd=_fd(fake, "link"), program=None, description="x")], program=None, description="h")
    other.close()
    assert other.closed and other.links[0].closed
    with pytest.raises(LinkError, match="group of 3"):
        group.fileno()
    kept = group.links[1]
    del group, members
    gc.collect()
    assert not kept.closed  # a member still referenced stays attached without its group
    assert fake.open_fds == {kept.fileno()}
    del kept
    gc.collect()
    assert not fake.open_fds
    with pytest.raises(LinkError, match="nothing was attached"):
        LinkGroup([], program=None, description="empty")


def test_from_id_wraps_the_fd_with_the_kernel_description(fake: FakeSyscalls) -> None:
    fake.on(Command.OBJ_GET_INFO_BY_FD, _info_handler(LinkType.RAW_TRACEPOINT, b"sys_enter"))
    lk = Link.from_id(7)
    assert lk.description == "raw_tracepoint link 7" and lk.program is None
    (call,) = fake.calls_for(Command.LINK_GET_FD_BY_ID)
    assert call.attr.start_id == 7
    assert ctypes.sizeof(_sys.LinkInfo) > 16
