"""Tracepoint links against the running kernel: a syscall tracepoint sees the file the test opens."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from progs_link import load

from pybpf import _sys, link, tracefs
from pybpf.enums import LinkType
from pybpf.errors import NotSupportedError


def _name(buf: object) -> str:
    raw = bytes(buf) if not isinstance(buf, str) else buf.encode()  # type: ignore[call-overload]
    return raw.split(b"\0")[0].decode()


def _open_unique(tmp_path: Path) -> str:
    path = tmp_path / f"pybpf-tp-{uuid.uuid4().hex}"
    path.write_text("x")  # open(O_CREAT) goes through openat(2)
    with open(path) as f:
        f.read()
    return str(path)


def test_tracefs_is_found_or_mounted() -> None:
    assert (tracefs.root() / "events").is_dir()
    assert tracefs.tracepoint_id("syscalls", "sys_enter_openat") > 0
    fmt = tracefs.tracepoint_format("syscalls", "sys_enter_openat")
    assert fmt.field("filename").offset == 24 and fmt.field("filename").size == 8


def test_syscall_tracepoint_sees_the_file_name(tmp_path: Path) -> None:
    with load("tp_openat") as obj:
        with link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat") as lk:
            path = _open_unique(tmp_path)
            assert _name(obj.maps["last_name"][0]) == path
            assert obj.maps["opens"][0] >= 1
            info = lk.info()
            assert info.type == LinkType.PERF_EVENT
            assert info.details["tp_name"] == "sys_enter_openat"
            assert info.prog_id == obj.programs["on_openat"].id
        before = obj.maps["opens"][0]
        _open_unique(tmp_path)  # detached: not counted any more
        assert obj.maps["opens"][0] == before


def test_tracepoint_through_the_ioctl_path(tmp_path: Path) -> None:
    """The pre-5.15 way (PERF_EVENT_IOC_SET_BPF, no link fd) still traces."""
    with load("tp_openat") as obj:
        with link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat", use_link=False) as lk:
            assert lk.fd is None
            path = _open_unique(tmp_path)
            assert _name(obj.maps["last_name"][0]) == path
            with pytest.raises(NotSupportedError, match="without a BPF link"):
                lk.info()


def test_program_attach_uses_the_section(tmp_path: Path) -> None:
    with load("tp_openat") as obj:
        lk = obj.programs["on_openat"].attach()
        assert "syscalls:sys_enter_openat" in repr(lk)
        path = _open_unique(tmp_path)
        assert _name(obj.maps["last_name"][0]) == path
    assert lk.closed  # closing the Collection detached it


def test_unknown_tracepoint_names_similar_ones() -> None:
    with load("tp_openat") as obj:
        with pytest.raises(tracefs.TracefsError, match="sys_enter_openat"):
            link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openatt")


def test_update_of_a_perf_link_is_refused_then_reattach_replaces(tmp_path: Path) -> None:
    with load("tp_openat") as obj, link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat") as lk:
        lk.update(obj.programs["on_openat_v2"])  # perf links have no LINK_UPDATE: re-attached
        assert lk.program is obj.programs["on_openat_v2"]
        assert lk.info().prog_id == obj.programs["on_openat_v2"].id
        before = obj.maps["opens"][0]
        _open_unique(tmp_path)
        assert obj.maps["opens"][0] - before >= 1000


def test_pin_keeps_the_link_and_from_pin_reopens_it(tmp_path: Path) -> None:
    pin = Path("/sys/fs/bpf") / f"pybpf-test-link-{os.getpid()}"
    with load("tp_openat") as obj:
        lk = link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat")
        lk.pin(pin)
        link_id = lk.id
        lk.close()
        try:
            path = _open_unique(tmp_path)  # still attached through the pin
            assert _name(obj.maps["last_name"][0]) == path
            again = link.Link.from_pin(pin)
            assert again.id == link_id and again.info().type == LinkType.PERF_EVENT
            by_id = link.Link.from_id(link_id)
            assert by_id.info().details["tp_name"] == "sys_enter_openat"
            by_id.close()
            again.detach()
        finally:
            if pin.exists():
                pin.unlink()
        # the last reference was the pin: the kernel frees the link from a workqueue
        deadline = time.monotonic() + 10
        while link_id in set(_sys.iter_ids(_sys.ObjectKind.LINK)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert link_id not in set(_sys.iter_ids(_sys.ObjectKind.LINK))
        before = obj.maps["opens"][0]
        _open_unique(tmp_path)
        assert obj.maps["opens"][0] == before
