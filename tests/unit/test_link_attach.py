"""Attach functions over FakeSyscalls: perf events, tracepoints, kprobes (PMU and legacy), iterators,
section dispatch; tracefs format parsing and the covering-tracepoint search."""

from __future__ import annotations

import errno
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pybpf import _sys, tracefs
from pybpf._sys import FD, Command, PerfHwConfig, PerfIoctl, PerfSwConfig, PerfType
from pybpf._sys.fake import FakeSyscalls
from pybpf.elf.sections import parse_section_name
from pybpf.enums import AttachType, ProgramType
from pybpf.errors import NotSupportedError, SyscallError
from pybpf.link import Link, alternatives, auto
from pybpf.link.iter import CgroupIterOrder, _iter_info

# the package re-exports the attach *functions* under the module names: take the modules
kprobe = importlib.import_module("pybpf.link.kprobe")
perf_event = importlib.import_module("pybpf.link.perf_event")


@dataclass
class FakeSpec:
    section: str


@dataclass
class FakeProgram:
    fd: FD
    name: str = "prog"
    type: ProgramType = ProgramType.TRACEPOINT
    spec: FakeSpec | None = None
    links: list[Link] = field(default_factory=list)

    def attach(self, *args: object, **kw: object) -> Link:
        return auto.attach(self, *args, **kw)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> FakeSyscalls:
    with _sys.override(FakeSyscalls()) as f:
        yield f


def _prog(fake: FakeSyscalls, section: str | None = None, ptype: ProgramType | None = None) -> FakeProgram:
    sec = parse_section_name(section) if section else None
    t = ptype or (sec.type if sec else ProgramType.TRACEPOINT)
    return FakeProgram(FD(fake.new_fd(), kind="prog", syscalls=fake), type=t, spec=FakeSpec(section) if section else None)


# -- perf events -----------------------------------------------------------------------------


def test_perf_fd_gets_a_bpf_link_then_is_enabled(fake: FakeSyscalls) -> None:
    prog = _prog(fake)
    pfd = _sys.perf_event_open(_sys.tracepoint_event(5))
    lk = perf_event.attach_perf_fd(prog, pfd, description="t", cookie=9)  # type: ignore[arg-type]
    (call,) = fake.calls_for(Command.LINK_CREATE)
    assert call.attr.attach_type == AttachType.PERF_EVENT and call.attr.target_fd == pfd.fileno()
    assert call.attr.perf_event.bpf_cookie == 9
    assert fake.ioctls == [(pfd.fileno(), PerfIoctl.ENABLE, 0)]
    lk.close()
    assert not fake.open_fds - {prog.fd.fileno()}


def test_old_kernels_attach_with_the_set_bpf_ioctl(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_CREATE, errno.EINVAL)
    prog = _prog(fake)
    pfd = _sys.perf_event_open(_sys.tracepoint_event(5))
    lk = perf_event.attach_perf_fd(prog, pfd, description="t")  # type: ignore[arg-type]
    assert lk.fd is None
    assert fake.ioctls == [(pfd.fileno(), PerfIoctl.SET_BPF, prog.fd.fileno()), (pfd.fileno(), PerfIoctl.ENABLE, 0)]


def test_a_cookie_without_perf_links_is_refused_and_nothing_leaks(fake: FakeSyscalls) -> None:
    fake.fail(Command.LINK_CREATE, errno.EINVAL)
    prog = _prog(fake)
    pfd = _sys.perf_event_open(_sys.tracepoint_event(5))
    cleaned: list[int] = []
    with pytest.raises(NotSupportedError, match="cookies"):
        perf_event.attach_perf_fd(prog, pfd, description="t", cookie=1, cleanups=[lambda: cleaned.append(1)])  # type: ignore[arg-type]
    assert pfd.closed and cleaned == [1]


def test_sampling_opens_one_event_per_cpu(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perf_event, "online_cpus", lambda: [0, 1, 3])
    prog = _prog(fake, "perf_event")
    group = perf_event.perf_event(prog, frequency=997)  # type: ignore[arg-type]
    assert len(group) == 3
    opened = [(a.type, a.config, a.freq, a.sample_freq, a.disabled, pid, cpu) for a, pid, cpu, _, _ in fake.perf_attrs]
    assert opened == [(PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK, 1, 997, 1, -1, c) for c in (0, 1, 3)]
    group.close()
    period = perf_event.perf_event(prog, period=12345, cpu=1, pid=77)  # type: ignore[arg-type]
    attr, pid, cpu, _, _ = fake.perf_attrs[-1]
    assert (attr.freq, attr.sample_period, pid, cpu, len(period)) == (0, 12345, 77, 1, 1)
    with pytest.raises(ValueError, match="either frequency or period"):
        perf_event.perf_event(prog, frequency=1, period=1)  # type: ignore[arg-type]


def test_hardware_events_need_a_pmu(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perf_event, "hardware_pmu", lambda: None)
    with pytest.raises(NotSupportedError, match="CPU_CYCLES.*no hardware PMU.*CPU_CLOCK"):
        perf_event.perf_event(_prog(fake, "perf_event"), event=PerfHwConfig.CPU_CYCLES)  # type: ignore[arg-type]
    assert not fake.perf_attrs


# -- section dispatch ------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "named"), [
    ("tracepoint/syscalls/sys_enter_openat", True), ("tp/sched/sched_switch", True), ("tracepoint", False),
    ("raw_tp/sys_enter", True), ("raw_tp", False), ("tp_btf/sched_switch", True), ("fentry/do_unlinkat", True),
    ("lsm/file_open", True), ("iter/task", True), ("kprobe/do_sys_openat2", True), ("ksyscall/openat", True),
    ("uprobe//bin/bash:readline", True), ("perf_event", False), ("xdp", False), ("tc/ingress", False),
    ("cgroup/connect4", False), ("socket", False), ("freplace/check", False), ("syscall", False),
])
def test_fully_named_sections(fake: FakeSyscalls, section: str, named: bool) -> None:
    assert auto.fully_named(_prog(fake, section)) is named  # type: ignore[arg-type]


def test_tracepoint_section_dispatches_to_the_tracefs_id(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracefs, "tracepoint_id", lambda cat, name: {"syscalls/sys_enter_openat": 782}[f"{cat}/{name}"])
    lk = _prog(fake, "tracepoint/syscalls/sys_enter_openat").attach()
    attr, pid, cpu, _, _ = fake.perf_attrs[0]
    assert (attr.type, attr.config, attr.sample_period, pid, cpu) == (PerfType.TRACEPOINT, 782, 1, -1, 0)
    assert "tracepoint syscalls:sys_enter_openat" in repr(lk)


def test_raw_tp_section_and_by_type_dispatch(fake: FakeSyscalls) -> None:
    _prog(fake, "raw_tp/sched_switch").attach()
    _prog(fake, None, ProgramType.RAW_TRACEPOINT).attach("sys_exit")  # opened from a pin: by type
    assert len(fake.calls_for(Command.RAW_TRACEPOINT_OPEN)) == 2
    with pytest.raises(auto.AttachError, match="names no target"):
        _prog(fake, "raw_tp").attach()
    with pytest.raises(auto.AttachError, match="has no section"):
        _prog(fake, None, ProgramType.XDP).attach()


def test_attach_all_detaches_what_it_attached_when_one_fails(fake: FakeSyscalls) -> None:
    fake.on(Command.RAW_TRACEPOINT_OPEN, fake._model, lambda attr: (_ for _ in ()).throw(OSError(errno.ENOENT, "x")))
    progs = [_prog(fake, "raw_tp/a"), _prog(fake, "xdp"), _prog(fake, "raw_tp/b")]
    with pytest.raises(SyscallError, match="ENOENT"):
        auto.attach_all(progs)  # type: ignore[arg-type]
    assert fake.open_fds == {p.fd.fileno() for p in progs}  # the first link was closed again


# -- kprobes ----------------------------------------------------------------------------------


def test_kprobe_through_the_pmu(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kprobe, "_feature", lambda name: (True, "yes"))
    monkeypatch.setattr(kprobe, "_pmu_type", lambda: 6)
    monkeypatch.setattr(kprobe, "_retprobe_bit", lambda: 0)
    monkeypatch.setattr(kprobe, "syscall_of", lambda function: None)
    prog = _prog(fake, "kprobe/do_sys_openat2")
    kprobe.kretprobe(prog, "do_sys_openat2")  # type: ignore[arg-type]
    attr = fake.perf_attrs[-1][0]
    assert (attr.type, attr.config) == (6, 1)
    lk = prog.attach()
    attr = fake.perf_attrs[-1][0]
    assert (attr.type, attr.config, attr.probe_offset) == (6, 0, 0)
    assert "kprobe do_sys_openat2" in repr(lk)


def test_kprobe_through_kprobe_events_removes_its_entry(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(kprobe, "_feature", lambda name: (True, "yes"))
    monkeypatch.setattr(kprobe, "_pmu_type", lambda: None)
    monkeypatch.setattr(kprobe, "syscall_of", lambda function: None)
    monkeypatch.setattr(tracefs, "dynamic_events", lambda control: [])
    monkeypatch.setattr(tracefs, "write_dynamic_event", lambda control, line: lines.append(line))
    monkeypatch.setattr(tracefs, "tracepoint_id", lambda cat, name: 4242)
    lk = kprobe.kprobe(_prog(fake, "kprobe/f"), "vfs_read", offset=8, retprobe=True, maxactive=16)  # type: ignore[arg-type]
    assert lines[0].startswith(f"r16:pybpf/pybpf_{os.getpid()}_vfs_read_8_") and lines[0].endswith(" vfs_read+8")
    assert fake.perf_attrs[-1][0].config == 4242
    lk.close()
    assert lines[1] == "-:" + lines[0].split()[0].split(":", 1)[1]


def test_stale_legacy_probes_of_dead_processes_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    removed: list[str] = []
    dead, alive = 2**22 + 12345, os.getpid()
    monkeypatch.setattr(tracefs, "dynamic_events", lambda control: [
        f"p:pybpf/pybpf_{dead}_vfs_read_0_0 vfs_read", f"p:pybpf/pybpf_{alive}_vfs_read_0_1 vfs_read",
        "p:kprobes/someone_else vfs_read"])
    monkeypatch.setattr(tracefs, "write_dynamic_event", lambda control, line: removed.append(line))
    assert kprobe.remove_stale_probes() == [f"pybpf/pybpf_{dead}_vfs_read_0_0"]
    assert removed == [f"-:pybpf/pybpf_{dead}_vfs_read_0_0"]


def test_without_kprobes_the_refusal_names_tracepoints(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kprobe, "_feature", lambda name: (False, "CONFIG_KPROBES is off"))
    monkeypatch.setattr(tracefs, "tracepoint_exists", lambda cat, name: name in ("sys_enter_openat", "sys_exit_openat"))
    with pytest.raises(NotSupportedError, match=r"kprobes \(__x64_sys_openat\).*CONFIG_KPROBES.*syscalls:sys_enter_openat"):
        kprobe.kprobe(_prog(fake, "kprobe/x", ProgramType.KPROBE), "__x64_sys_openat")  # type: ignore[arg-type]
    assert not fake.perf_attrs


# -- alternatives and tracefs -----------------------------------------------------------------


def test_covering_tracepoints(monkeypatch: pytest.MonkeyPatch) -> None:
    have = {("syscalls", "sys_enter_openat"), ("syscalls", "sys_exit_openat"), ("syscalls", "sys_enter_read")}
    monkeypatch.setattr(tracefs, "tracepoint_exists", lambda cat, name: (cat, name) in have)
    monkeypatch.setattr(tracefs, "_all_events", lambda: (("tcp", "tcp_retransmit_skb"), ("sock", "inet_sock_set_state"),
                                                         ("tcp", "tcp_probe"), ("syscalls", "sys_enter_read")))
    assert alternatives.syscall_of("__x64_sys_openat") == "openat"
    assert alternatives.syscall_of("ksys_read") == "read"
    assert alternatives.syscall_of("vfs_read") is None
    assert alternatives.covering_tracepoints("__arm64_sys_openat") == ["syscalls:sys_enter_openat", "syscalls:sys_exit_openat"]
    assert alternatives.covering_tracepoints("do_sys_openat", retprobe=True) == ["syscalls:sys_exit_openat"]
    assert alternatives.covering_tracepoints("tcp_v4_connect") == ["tcp:tcp_probe", "tcp:tcp_retransmit_skb"]
    assert alternatives.covering_tracepoints("vfs_read") == []
    assert "raw tracepoint" in alternatives.alternative_text("vfs_read")
    assert alternatives.syscall_function("openat", machine="x86_64") == "__x64_sys_openat"
    assert alternatives.syscall_function("openat", machine="aarch64") == "__arm64_sys_openat"


FORMAT = """name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;

print fmt: "filename: 0x%08lx", ((unsigned long)(REC->filename))
"""


def test_parse_format() -> None:
    fmt = tracefs.parse_format(FORMAT)
    assert (fmt.name, fmt.id) == ("sys_enter_openat", 782)
    assert [f.name for f in fmt.fields] == ["common_type", "common_pid", "__syscall_nr", "filename", "comm"]
    assert fmt.field("filename").offset == 24 and fmt.field("common_pid").signed
    assert fmt.field("comm").size == 16 and fmt.print_fmt.startswith('"filename')
    with pytest.raises(KeyError, match="has no field 'nope'"):
        fmt.field("nope")


def test_tracepoint_names_are_checked() -> None:
    for bad in (("..", "x"), ("a/b", "c"), ("", "x")):
        with pytest.raises(ValueError, match="not a tracepoint name"):
            tracefs.tracepoint_id(*bad)


def test_iter_link_info_layouts(tmp_path: Path) -> None:
    assert _iter_info(None, 0, 0, 0, 0, 0, CgroupIterOrder.UNSPEC) is None
    assert _iter_info(7, 0, 0, 0, 0, 0, CgroupIterOrder.UNSPEC) == (7).to_bytes(4, "little")
    assert _iter_info(None, 0, 55, 0, 0, 0, CgroupIterOrder.UNSPEC) == bytes(4) + (55).to_bytes(4, "little") + bytes(4)
    cg = _iter_info(None, 0, 0, 0, 3, 0, CgroupIterOrder.DESCENDANTS_PRE)
    assert cg == (2).to_bytes(4, "little") + (3).to_bytes(4, "little") + bytes(8)
    with pytest.raises(ValueError, match="one target"):
        _iter_info(7, 0, 1, 0, 0, 0, CgroupIterOrder.UNSPEC)
