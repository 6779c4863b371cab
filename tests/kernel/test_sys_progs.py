"""pybpf._sys against the running kernel: programs, verifier errors, BTF, perf events, links."""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import time
from pathlib import Path

import pytest

from pybpf import _sys
from pybpf._sys import AttachFlags, ObjectKind, PerfSwConfig
from pybpf.enums import AttachType, LinkType, MapType, ProgramType
from pybpf.errors import BTFLoadError, SyscallError, VerifierError

# Hand-encoded instructions: opcode, dst|src<<4, off (le16), imm (le32)
RET0 = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit
RET1 = bytes.fromhex("b700000001000000" "9500000000000000")  # r0 = 1; exit
NO_R0 = bytes.fromhex("9500000000000000")  # exit with r0 unset: the verifier refuses it
CGROUP_V2 = Path("/sys/fs/cgroup/unified") if Path("/sys/fs/cgroup/unified/cgroup.procs").exists() else Path("/sys/fs/cgroup")


#: every test closes every fd it opened
pytestmark = pytest.mark.usefixtures("no_fd_leak")


def test_load_and_test_run_socket_filter() -> None:
    with _sys.prog_load(ProgramType.SOCKET_FILTER, RET1, name="ret_one") as fd:
        res = _sys.prog_test_run(fd, data=bytes(64), repeat=100)
        assert res.retval == 1
        assert res.duration_ns >= 0 and len(res.data_out) == 64
        info = _sys.prog_info(fd)
        assert info.name == "ret_one" and info.info.type == ProgramType.SOCKET_FILTER
        assert info.xlated == RET1
        # the tag is the start of the instructions' digest: SHA-1 before 6.18, SHA-256 since
        assert info.tag in {hashlib.sha1(RET1).digest()[:8].hex(), hashlib.sha256(RET1).digest()[:8].hex()}
        assert len(info.jited) > 0 and info.map_ids == ()
        assert info.info.id in list(_sys.iter_ids(ObjectKind.PROG))


def test_verifier_rejection_keeps_the_log() -> None:
    with pytest.raises(VerifierError) as info:
        _sys.prog_load(ProgramType.SOCKET_FILTER, NO_R0, name="bad")
    exc = info.value
    assert exc.errno == errno.EACCES and exc.command == "BPF_PROG_LOAD"
    assert "R0 !read_ok" in exc.log and "R0 !read_ok" in str(exc)


def test_log_on_success_and_log_buffer_growth() -> None:
    res = _sys.prog_load_logged(ProgramType.SOCKET_FILTER, RET0, log_level=2, log_size=128)
    with res.fd:
        assert len(res.log) > 128  # the first buffer was too small: it grew
        assert "processed 2 insns" in res.log and "(b7) r0 = 0" in res.log


def test_program_with_a_map_reference() -> None:
    with _sys.map_create(MapType.ARRAY, 4, 8, 1) as m:
        # r1 = map fd (LD_IMM64, src=PSEUDO_MAP_FD); r0 = 0; exit
        ld = struct.pack("<BBhi", 0x18, 0x10 | 1, 0, m.fileno()) + struct.pack("<BBhi", 0, 0, 0, 0)
        with _sys.prog_load(ProgramType.SOCKET_FILTER, ld + RET0) as fd:
            assert _sys.prog_info(fd).map_ids == (_sys.map_info(m).id,)


def int_btf() -> bytes:
    """A BTF blob with one type: [1] INT 'int' size=4 bits=32 signed."""
    strings = b"\0int\0"
    types = struct.pack("<III", 1, 1 << 24, 4) + struct.pack("<I", (1 << 24) | 32)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def test_btf_load_and_map_with_btf_types() -> None:
    blob = int_btf()
    loaded = _sys.btf_load(blob, log_level=1)
    with loaded.fd as btf:
        info = _sys.btf_info(btf)
        assert info.data == blob and info.info.id > 0 and not info.info.kernel_btf
        with _sys.map_create(MapType.HASH, 4, 4, 1, btf_fd=btf, btf_key_type_id=1, btf_value_type_id=1) as m:
            minfo = _sys.map_info(m)
            assert (minfo.btf_id, minfo.btf_key_type_id, minfo.btf_value_type_id) == (info.info.id, 1, 1)
        with _sys.get_fd_by_id(ObjectKind.BTF, info.info.id) as again:
            assert _sys.btf_info(again).data == blob


def test_bad_btf_is_refused_with_the_log() -> None:
    bad = bytearray(int_btf())
    struct.pack_into("<I", bad, 24, 99)  # name_off beyond the string section
    with pytest.raises(SyscallError, match="BPF_BTF_LOAD failed: EINVAL") as info:
        _sys.btf_load(bytes(bad))
    assert isinstance(info.value, BTFLoadError) and "Invalid name_offset" in info.value.log


def busy(cpu_seconds: float) -> None:
    """Burn ``cpu_seconds`` of this thread's CPU time (however loaded the machine is)."""
    end = time.thread_time() + cpu_seconds
    deadline = time.monotonic() + 30
    while time.thread_time() < end and time.monotonic() < deadline:
        pass


def test_perf_event_cpu_clock_counts_and_runs_a_program() -> None:
    with _sys.enable_stats(), _sys.prog_load(ProgramType.PERF_EVENT, RET0, name="on_tick") as prog:
        attr = _sys.software_event(PerfSwConfig.CPU_CLOCK, sample_period=1_000_000, disabled=True)
        with _sys.perf_event_open(attr, pid=0, cpu=-1) as ev:
            _sys.perf_event_set_bpf(ev, prog)
            _sys.perf_event_enable(ev)
            busy(0.05)
            _sys.perf_event_disable(ev)
            (count,) = struct.unpack("<Q", os.read(ev.fileno(), 8))
        assert count >= 40_000_000  # ns of cpu-clock: most of the 50 ms of CPU burnt
        assert _sys.prog_info(prog).info.run_cnt >= 10


def test_perf_event_link() -> None:
    with _sys.prog_load(ProgramType.PERF_EVENT, RET0) as prog:
        attr = _sys.software_event(PerfSwConfig.CPU_CLOCK, sample_period=1_000_000)
        with _sys.perf_event_open(attr, pid=0, cpu=-1) as ev, _sys.link_create_perf_event(prog, ev, cookie=7) as link:
            info = _sys.link_info(link)
            assert info.type == LinkType.PERF_EVENT and info.prog_id == _sys.prog_info(prog).info.id


def test_raw_tracepoint_link_runs() -> None:
    with _sys.enable_stats(), _sys.prog_load(ProgramType.RAW_TRACEPOINT, RET0) as prog:
        with _sys.raw_tracepoint_open(prog, "sys_enter") as link:
            for _ in range(5):
                os.getppid()
            info = _sys.link_info(link)
            assert info.type == LinkType.RAW_TRACEPOINT
            assert info.id in list(_sys.iter_ids(ObjectKind.LINK))
            with _sys.get_fd_by_id(ObjectKind.LINK, info.id) as same:
                assert _sys.link_info(same).prog_id == info.prog_id
            assert _sys.prog_info(prog).info.run_cnt >= 5


@pytest.fixture
def cgroup() -> int:
    path = CGROUP_V2 / f"pybpf-test-{os.getpid()}"
    path.mkdir()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)
    path.rmdir()


def cgroup_prog(ret: bytes) -> _sys.FD:
    return _sys.prog_load(ProgramType.CGROUP_SKB, ret, expected_attach_type=AttachType.CGROUP_INET_EGRESS)


def test_prog_attach_query_detach(cgroup: int) -> None:
    with cgroup_prog(RET1) as prog:
        prog_id = _sys.prog_info(prog).info.id
        _sys.prog_attach(cgroup, prog, AttachType.CGROUP_INET_EGRESS, flags=AttachFlags.ALLOW_MULTI)
        q = _sys.prog_query(cgroup, AttachType.CGROUP_INET_EGRESS)
        assert q.prog_ids == (prog_id,) and q.attach_flags == AttachFlags.ALLOW_MULTI
        _sys.prog_detach(cgroup, AttachType.CGROUP_INET_EGRESS, prog_fd=prog)
        assert _sys.prog_query(cgroup, AttachType.CGROUP_INET_EGRESS).prog_ids == ()


def test_link_create_update_detach(cgroup: int) -> None:
    with cgroup_prog(RET1) as first, cgroup_prog(RET1) as second:
        ids = [_sys.prog_info(p).info.id for p in (first, second)]
        with _sys.link_create(first, cgroup, AttachType.CGROUP_INET_EGRESS) as link:
            assert _sys.prog_query(cgroup, AttachType.CGROUP_INET_EGRESS).prog_ids == (ids[0],)
            _sys.link_update(link, second, old_prog_fd=first)
            assert _sys.prog_query(cgroup, AttachType.CGROUP_INET_EGRESS).prog_ids == (ids[1],)
            with pytest.raises(SyscallError):
                _sys.link_update(link, first, old_prog_fd=first)  # old program no longer matches
            _sys.link_detach(link)
            assert _sys.prog_query(cgroup, AttachType.CGROUP_INET_EGRESS).prog_ids == ()


def test_task_iterator() -> None:
    from pybpf.btf import Kind, kernel_btf

    target = kernel_btf().find_one("bpf_iter_task", Kind.FUNC)
    with _sys.prog_load(
        ProgramType.TRACING, RET0, expected_attach_type=AttachType.TRACE_ITER, attach_btf_id=target,
    ) as prog, _sys.link_create_iter(prog) as link, _sys.iter_create(link) as it:
        assert os.read(it.fileno(), 4096) == b""  # the program writes nothing
        assert _sys.link_info(link).type == LinkType.ITER


def test_prog_bind_map() -> None:
    with _sys.prog_load(ProgramType.SOCKET_FILTER, RET0) as prog, _sys.map_create(MapType.ARRAY, 4, 4, 1) as m:
        _sys.prog_bind_map(prog, m)
        assert _sys.prog_info(prog).map_ids == (_sys.map_info(m).id,)


def test_pinned_program_round_trip(tmp_path: Path) -> None:
    bpffs = Path("/sys/fs/bpf")
    if not os.path.ismount(bpffs):
        os.system("mount -t bpf bpf /sys/fs/bpf")
    pin = bpffs / f"pybpf-test-prog-{os.getpid()}"
    with _sys.prog_load(ProgramType.SOCKET_FILTER, RET1, name="pinned_prog") as prog:
        _sys.obj_pin(prog, pin)
    try:
        with _sys.obj_get(pin) as again:
            assert _sys.prog_test_run(again, data=bytes(14)).retval == 1
            assert _sys.prog_info(again).name == "pinned_prog"
    finally:
        pin.unlink()
