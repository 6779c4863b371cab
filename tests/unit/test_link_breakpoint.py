"""Hardware watchpoints over FakeSyscalls: the perf_event_attr they encode (PERF_TYPE_BREAKPOINT,
bp_type/bp_addr/bp_len), where they are opened, and the errors for what cannot be watched."""

from __future__ import annotations

import ctypes
import errno

import pytest
from test_link_attach import _prog, fake  # noqa: F401  (fixture)

from pybpf._sys import PerfType
from pybpf._sys.abi import BreakpointType
from pybpf._sys.fake import FakeSyscalls
from pybpf._sys.perf_attr import PerfEventAttr
from pybpf.errors import NotSupportedError
from pybpf.link import breakpoint as bp


def test_attr_encoding_matches_the_kernel_layout() -> None:
    attr = bp.breakpoint_attr(0x10000000, 8, BreakpointType.RW)
    raw = bytes(attr)
    assert int.from_bytes(raw[0:4], "little") == PerfType.BREAKPOINT == 5
    # perf_event_attr: bp_type is the u32 at 52, bp_addr (config1) the u64 at 56, bp_len (config2) the u64 at 64
    assert PerfEventAttr.bp_type.offset == 52 and PerfEventAttr._config1.offset == 56  # type: ignore[attr-defined]
    assert int.from_bytes(raw[52:56], "little") == 3  # HW_BREAKPOINT_RW
    assert int.from_bytes(raw[56:64], "little") == 0x10000000
    assert int.from_bytes(raw[64:72], "little") == 8
    assert attr.sample_period == 1 and attr.disabled == 1
    assert ctypes.sizeof(attr) >= 72


@pytest.mark.parametrize(("mode", "access"), [("w", BreakpointType.W), ("rw", BreakpointType.RW),
                                              ("wr", BreakpointType.RW), ("r", BreakpointType.R),
                                              ("x", BreakpointType.X)])
def test_bpftrace_modes(mode: str, access: BreakpointType) -> None:
    assert bp.access_of(mode) == access


@pytest.mark.parametrize(("address", "length", "access", "message"), [
    (0x1000, 3, BreakpointType.W, "length must be 1, 2, 4 or 8"),
    (0x1004, 8, BreakpointType.W, "not aligned to its length 8"),
    (0x1000, 4, BreakpointType.X, "execute watchpoint has length 8"),
    (0x1000, 8, BreakpointType.X | BreakpointType.W, "cannot watch execution together"),
])
def test_what_no_kernel_accepts_is_refused_before_the_syscall(address: int, length: int, access: BreakpointType,
                                                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bp.breakpoint_attr(address, length, access)


def test_a_process_gets_one_event_a_kernel_address_one_per_cpu(fake: FakeSyscalls,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bp, "online_cpus", lambda: [0, 1])
    prog = _prog(fake, "perf_event")
    with bp.watchpoint(prog, 0x10000000, 8, access="w", pid=1234) as group:  # type: ignore[arg-type]
        assert len(group) == 1
    attr, pid, cpu, _, _ = fake.perf_attrs[-1]
    assert (attr.type, attr.bp_type, attr.bp_addr, attr.bp_len, pid, cpu) == (5, 2, 0x10000000, 8, 1234, -1)
    with bp.watchpoint(prog, 0xffffffff81000000, 8, access=BreakpointType.RW) as group:  # type: ignore[arg-type]
        assert len(group) == 2
    assert [(pid, cpu) for _, pid, cpu, _, _ in fake.perf_attrs[-2:]] == [(-1, 0), (-1, 1)]


def test_read_only_watchpoints_are_refused_as_x86_does(fake: FakeSyscalls,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def einval(*_: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(fake, "perf_event_open", einval)
    with pytest.raises(NotSupportedError, match="read-only watchpoints.*watch with mode rw"):
        bp.watchpoint(_prog(fake, "perf_event"), 0x1000, 8, access="r", pid=1)  # type: ignore[arg-type]
