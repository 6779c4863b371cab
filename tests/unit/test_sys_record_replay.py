"""A load and attach recorded at the seam (pybpf._sys.record) and replayed with ctypes alone
(pybpf._sys.replay), against fake kernels: the replay makes the same calls with the new fds in
every fd field and instruction, the data every pointer pointed to, and what the recording cannot
express makes it unusable instead of wrong."""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

import pytest

from pybpf import _sys
from pybpf._sys.abi import Command, PerfIoctl, PerfType
from pybpf._sys.attrs import BtfLoadAttr, MapCreateAttr, MapElemAttr, ProgLoadAttr, TestRunAttr
from pybpf._sys.perf_attr import PerfEventAttr
from pybpf._sys.record import Recorder
from pybpf._sys.replay import ReplayError, replay
from pybpf.enums import MapType, ProgramType


class FakeKernel:
    """The seam under the recorder: every object is a real fd on /dev/null (so closing works)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def _fd(self) -> int:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def bpf(self, cmd: Command, attr: Any) -> int:
        self.calls.append((cmd, bytes(attr)))
        return 0 if cmd in (Command.MAP_UPDATE_ELEM, Command.MAP_FREEZE, Command.PROG_TEST_RUN) else self._fd()

    def perf_event_open(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        self.calls.append(("perf", bytes(attr), pid, cpu))
        return self._fd()

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        self.calls.append(("ioctl", fd, request, arg))
        return 0

    def close(self, fd: int) -> None:
        os.close(fd)

    def dup(self, fd: int) -> int:
        return os.dup(fd)


class FakeRaw:
    """What a replay calls: records each call's attr bytes and the data behind its pointers."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail_at = fail_at
        self.made: list[int] = []

    def _result(self, n: int = -1) -> int:
        if self.fail_at is not None and len(self.calls) - 1 == self.fail_at:
            raise OSError(13, "Permission denied")
        if n == 0:
            return 0
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.made.append(fd)
        return fd

    def bpf(self, cmd: int, address: int, size: int) -> int:
        raw = ctypes.string_at(address, size)
        self.calls.append((cmd, raw))
        return self._result(0 if cmd in (2, 22, 10) else -1)

    def perf_event_open(self, address: int, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        self.calls.append(("perf", ctypes.string_at(address, ctypes.sizeof(PerfEventAttr)), pid, cpu))
        return self._result()

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        self.calls.append(("ioctl", fd, request, arg))
        return 0

    def dup(self, fd: int) -> int:
        return os.dup(fd)


def _insns_with_map(fd: int) -> bytes:
    # r1 = map fd (ld_imm64 src=1), r0 = 0, exit
    return (struct.pack("<BBhi", 0x18, 0x1 << 4 | 1, 0, fd) + struct.pack("<BBhi", 0, 0, 0, 0)
            + struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0))


def _record_a_load(rec: Recorder) -> dict[str, int]:
    """A feature probe, BTF, a map using it, a program using both, BEGIN's test run, a tracepoint attach."""
    with _sys.override(rec):
        probe = _sys.map_create(MapType.ARRAY, 4, 4, 1)
        probe.close()
        btf = ctypes.create_string_buffer(b"\x9f\xeb\x01\x00btf-bytes")
        battr = BtfLoadAttr(btf=ctypes.addressof(btf), btf_size=13)
        btf_fd = _sys.bpf(Command.BTF_LOAD, battr)
        m = _sys.bpf(Command.MAP_CREATE, MapCreateAttr(map_type=MapType.ARRAY, key_size=4, value_size=8,
                                                       max_entries=1, btf_fd=btf_fd, btf_key_type_id=1))
        with rec.dynamic("monotonic_ns"):
            _sys.map_update_elem(m, bytes(4), bytes(8))
        insns = ctypes.create_string_buffer(_insns_with_map(m))
        lic = ctypes.create_string_buffer(b"GPL")
        prog = _sys.bpf(Command.PROG_LOAD, ProgLoadAttr(prog_type=ProgramType.RAW_TRACEPOINT, insn_cnt=4,
                                                        insns=ctypes.addressof(insns), license=ctypes.addressof(lic),
                                                        prog_btf_fd=btf_fd))
        rec.close(btf_fd)  # as the loader does once the programs are loaded
        rec.mark("attaching")
        ctx = ctypes.create_string_buffer(bytes(8))
        _sys.bpf(Command.PROG_TEST_RUN, TestRunAttr(prog_fd=prog, ctx_in=ctypes.addressof(ctx), ctx_size_in=8))
        pattr = PerfEventAttr(type=PerfType.TRACEPOINT, config=777)
        pfd = _sys.perf_event_open(pattr, pid=-1, cpu=0)
        _sys.ioctl(pfd.fileno(), PerfIoctl.SET_BPF, prog)
        _sys.ioctl(pfd.fileno(), PerfIoctl.ENABLE, 0)
        rec.stop()
    return {"map": m, "prog": prog, "perf": pfd.release()}


def test_a_replay_makes_the_recorded_calls_with_its_own_fds() -> None:
    kernel = FakeKernel()
    rec = Recorder(kernel, tracepoint_name={777: ("syscalls", "sys_enter_getppid")}.get)
    made = _record_a_load(rec)
    plan = rec.plan()
    assert plan is not None, rec.unusable
    assert [s[0] for s in plan].count("nop") == 2  # the probe map and its close
    assert ("mark", "attaching") in plan
    assert rec.ref(made["map"]) != rec.ref(made["prog"])

    asked: list[tuple[str, str]] = []
    raw = FakeRaw()
    marks: list[str] = []
    done = replay(plan, raw, tracepoint_id=lambda c, n: asked.append((c, n)) or 4242,  # type: ignore[func-returns-value]
                  on_mark=marks.append)
    try:
        assert marks == ["attaching"] and asked == [("syscalls", "sys_enter_getppid")]
        cmds = [c[0] for c in raw.calls]
        assert cmds == [Command.BTF_LOAD, Command.MAP_CREATE, Command.MAP_UPDATE_ELEM, Command.PROG_LOAD,
                        Command.PROG_TEST_RUN, "perf", "ioctl", "ioctl"]
        perf_fd, prog_fd = raw.made[3], raw.made[2]
        assert raw.calls[6][1:] == (perf_fd, PerfIoctl.SET_BPF, prog_fd)
        assert raw.calls[7][1:] == (perf_fd, PerfIoctl.ENABLE, 0)
        btf_fd, map_fd = raw.made[0], raw.made[1]
        m = MapCreateAttr.from_buffer_copy(raw.calls[1][1])
        assert (m.btf_fd, m.key_size, m.value_size, m.btf_key_type_id) == (btf_fd, 4, 8, 1)
        p = ProgLoadAttr.from_buffer_copy(raw.calls[3][1])
        assert p.prog_btf_fd == btf_fd
        perf = PerfEventAttr.from_buffer_copy(raw.calls[5][1])
        assert (perf.type, perf.config) == (PerfType.TRACEPOINT, 4242)
        # the BTF fd was closed where the recording closed it; the others stay open for their owner
        btf_step = next(i for i, s in enumerate(plan) if s[0] == "bpf" and s[1] == Command.BTF_LOAD)
        assert done.fds[rec.ref(made["map"])] == map_fd and done.fds[btf_step] is None
    finally:
        done.close()
        for fd in made.values():
            os.close(fd)


def test_pointers_are_replayed_with_their_data_and_map_fds_patched_in() -> None:
    seen: dict[str, bytes] = {}

    class Peek(FakeRaw):
        def bpf(self, cmd: int, address: int, size: int) -> int:
            raw = ctypes.string_at(address, size)
            if cmd == Command.PROG_LOAD:
                a = ProgLoadAttr.from_buffer_copy(raw)
                seen["insns"] = ctypes.string_at(a.insns, a.insn_cnt * 8)
                seen["license"] = ctypes.string_at(a.license)
            if cmd == Command.BTF_LOAD:
                a2 = BtfLoadAttr.from_buffer_copy(raw)
                seen["btf"] = ctypes.string_at(a2.btf, a2.btf_size)
            if cmd == Command.MAP_UPDATE_ELEM:
                a3 = MapElemAttr.from_buffer_copy(raw)
                seen["value"] = ctypes.string_at(a3.value, 8)
            return super().bpf(cmd, address, size)

    kernel = FakeKernel()
    rec = Recorder(kernel, tracepoint_name={777: ("syscalls", "sys_enter_getppid")}.get)
    made = _record_a_load(rec)
    plan = rec.plan()
    assert plan is not None
    raw = Peek()
    done = replay(plan, raw, tracepoint_id=lambda c, n: 1)
    try:
        map_fd = raw.made[1]
        assert seen["insns"] == _insns_with_map(map_fd)
        assert seen["license"] == b"GPL" and seen["btf"] == b"\x9f\xeb\x01\x00btf-bytes"
        assert struct.unpack("<Q", seen["value"])[0] > 0  # the monotonic clock at replay time, not the recorded zeros
    finally:
        done.close()
        for fd in made.values():
            os.close(fd)


def test_a_failed_step_closes_what_the_replay_made() -> None:
    kernel = FakeKernel()
    rec = Recorder(kernel, tracepoint_name={777: ("syscalls", "sys_enter_getppid")}.get)
    made = _record_a_load(rec)
    plan = rec.plan()
    assert plan is not None
    raw = FakeRaw(fail_at=3)  # the program load
    with pytest.raises(ReplayError) as err:
        replay(plan, raw, tracepoint_id=lambda c, n: 1)
    assert err.value.errno == 13 and "bpf" in str(err.value)
    for fd in raw.made:
        with pytest.raises(OSError):
            os.fstat(fd)  # closed
    for fd in made.values():
        os.close(fd)


def test_what_a_plan_cannot_express_makes_the_recording_unusable() -> None:
    rec = Recorder(FakeKernel())
    foreign = os.open(os.devnull, os.O_RDONLY)
    try:
        with _sys.override(rec):
            fd = _sys.bpf(Command.MAP_CREATE, MapCreateAttr(map_type=MapType.ARRAY, key_size=4, value_size=4,
                                                            max_entries=1, btf_fd=foreign))
        assert rec.plan() is None and rec.unusable is not None and f"fd {foreign}" in rec.unusable
        os.close(fd)
        rec2 = Recorder(FakeKernel())  # no way to name the tracepoint: unusable
        with _sys.override(rec2):
            pfd = _sys.perf_event_open(PerfEventAttr(type=PerfType.TRACEPOINT, config=5), pid=-1, cpu=0)
        assert rec2.plan() is None and "tracepoint id 5" in str(rec2.unusable)
        pfd.close()
    finally:
        os.close(foreign)


def test_a_damaged_plan_is_a_replay_error() -> None:
    with pytest.raises(ReplayError, match="damaged"):
        replay([("bpf", 0, b"\0" * 8, [(0, "fd", 99)])], FakeRaw(), tracepoint_id=lambda c, n: 1)
    with pytest.raises(ReplayError, match="unknown plan step"):
        replay([("teleport",)], FakeRaw(), tracepoint_id=lambda c, n: 1)


def test_a_uprobe_is_replayed_with_the_pmu_number_read_again_and_its_path() -> None:
    rec = Recorder(FakeKernel(), pmu_name={99: "uprobe"}.get)
    path = ctypes.create_string_buffer(b"/usr/bin/trtarget")
    with _sys.override(rec):
        attr = PerfEventAttr(type=99, config=1)
        attr.uprobe_path = ctypes.addressof(path)
        attr.probe_offset = 0x1139
        pfd = _sys.perf_event_open(attr, pid=-1, cpu=0)
    plan = rec.plan()
    assert plan is not None, rec.unusable
    seen: dict[str, Any] = {}

    class Peek(FakeRaw):
        def perf_event_open(self, address: int, pid: int, cpu: int, group_fd: int, flags: int) -> int:
            a = PerfEventAttr.from_buffer_copy(ctypes.string_at(address, ctypes.sizeof(PerfEventAttr)))
            seen.update(type=a.type, config=a.config, offset=a.probe_offset, path=ctypes.string_at(a.uprobe_path))
            return super().perf_event_open(address, pid, cpu, group_fd, flags)

    done = replay(plan, Peek(), tracepoint_id=lambda c, n: 1, pmu={"uprobe": 8}.__getitem__)
    try:
        assert seen == {"type": 8, "config": 1, "offset": 0x1139, "path": b"/usr/bin/trtarget"}
    finally:
        done.close()
        pfd.close()
    unknown = Recorder(FakeKernel(), pmu_name=lambda t: None)  # a kprobe, a breakpoint...: not replayed
    with _sys.override(unknown):
        _sys.perf_event_open(PerfEventAttr(type=99), pid=-1, cpu=0).close()
    assert unknown.plan() is None and "perf event type 99" in str(unknown.unusable)
