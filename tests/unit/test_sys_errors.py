"""errno -> exceptions that name the command, retries, verifier logs."""

from __future__ import annotations

import errno

import pytest

from pybpf import _sys
from pybpf._sys import Command
from pybpf._sys.fake import FakeSyscalls, raise_errno, write
from pybpf.enums import MapType, ProgramType
from pybpf.errors import BPFError, BTFLoadError, MissingPrivilegeError, SyscallError, VerifierError

RET0 = bytes.fromhex("b700000000000000" "9500000000000000")


@pytest.fixture
def fake():
    with _sys.override(FakeSyscalls()) as f:
        yield f


def test_syscall_error_names_command_and_keeps_errno(fake: FakeSyscalls) -> None:
    fake.fail(Command.MAP_CREATE, errno.EINVAL)
    with pytest.raises(SyscallError) as info:
        _sys.map_create(MapType.HASH, 4, 4, 1)
    exc = info.value
    assert isinstance(exc, OSError) and isinstance(exc, BPFError)
    assert exc.errno == errno.EINVAL and exc.command == "BPF_MAP_CREATE"
    assert str(exc).startswith("BPF_MAP_CREATE failed: EINVAL")
    assert "pybpf.features" in str(exc)  # says what to do
    assert fake.open_fds == set()


@pytest.mark.parametrize(
    ("prog_type", "cap"),
    [
        (ProgramType.KPROBE, "CAP_PERFMON"),
        (ProgramType.TRACING, "CAP_PERFMON"),
        (ProgramType.XDP, "CAP_NET_ADMIN"),
        (ProgramType.SCHED_CLS, "CAP_NET_ADMIN"),
    ],
)
def test_prog_load_eperm_names_the_capability(fake: FakeSyscalls, prog_type: ProgramType, cap: str) -> None:
    fake.on(Command.PROG_LOAD, raise_errno(errno.EPERM))
    with pytest.raises(MissingPrivilegeError) as info:
        _sys.prog_load(prog_type, RET0)
    assert cap in str(info.value) and "CAP_BPF" in str(info.value)
    assert info.value.capabilities == ("CAP_BPF", cap)


def test_socket_filter_eperm_needs_only_cap_bpf(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, raise_errno(errno.EPERM))
    with pytest.raises(MissingPrivilegeError) as info:
        _sys.prog_load(ProgramType.SOCKET_FILTER, RET0)
    assert info.value.capabilities == ("CAP_BPF",)


@pytest.mark.parametrize(
    ("cmd", "call", "cap"),
    [
        (Command.MAP_GET_NEXT_ID, lambda: _sys.get_next_id(_sys.ObjectKind.MAP), "CAP_SYS_ADMIN"),
        (Command.ENABLE_STATS, lambda: _sys.enable_stats(), "CAP_SYS_ADMIN"),
        (Command.MAP_CREATE, lambda: _sys.map_create(MapType.XSKMAP, 4, 4, 1), "CAP_NET_ADMIN"),
        (Command.MAP_CREATE, lambda: _sys.map_create(MapType.HASH, 4, 4, 1), "CAP_BPF"),
        (Command.RAW_TRACEPOINT_OPEN, lambda: _sys.raw_tracepoint_open(3, "x"), "CAP_PERFMON"),
    ],
)
def test_privilege_errors_per_command(fake: FakeSyscalls, cmd: Command, call, cap: str) -> None:
    fake.on(cmd, raise_errno(errno.EACCES))
    with pytest.raises(MissingPrivilegeError, match=f"{cmd.uapi_name} failed: EACCES.*needs.*{cap}"):
        call()


def test_pin_permission_error_is_about_the_file(fake: FakeSyscalls) -> None:
    fake.on(Command.OBJ_PIN, raise_errno(errno.EACCES))
    with pytest.raises(SyscallError, match="pin file") as info:
        _sys.obj_pin(3, "/sys/fs/bpf/x")
    assert not isinstance(info.value, MissingPrivilegeError)


def test_perf_event_open_eperm_mentions_perfmon_and_paranoid(fake: FakeSyscalls) -> None:
    def refuse(*_args):
        raise OSError(errno.EACCES, "no")

    fake.perf_event_open = refuse  # type: ignore[method-assign]
    with pytest.raises(MissingPrivilegeError, match="CAP_PERFMON.*perf_event_paranoid"):
        _sys.perf_event_open(_sys.software_event(_sys.PerfSwConfig.CPU_CLOCK))


def test_prog_load_retries_eagain(fake: FakeSyscalls) -> None:
    fake.fail(Command.PROG_LOAD, errno.EAGAIN, times=3)
    with _sys.prog_load(ProgramType.SOCKET_FILTER, RET0):
        pass
    assert len(fake.calls_for(Command.PROG_LOAD)) == 4


def test_prog_load_gives_up_after_a_few_eagain(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, raise_errno(errno.EAGAIN))
    with pytest.raises(SyscallError, match="EAGAIN"):
        _sys.prog_load(ProgramType.SOCKET_FILTER, RET0)
    # 6 tries without a log, then 6 more with the log
    assert len(fake.calls_for(Command.PROG_LOAD)) == 12


def test_map_create_does_not_retry_eagain(fake: FakeSyscalls) -> None:
    fake.on(Command.MAP_CREATE, raise_errno(errno.EAGAIN))
    with pytest.raises(SyscallError):
        _sys.map_create(MapType.HASH, 4, 4, 1)
    assert len(fake.calls_for(Command.MAP_CREATE)) == 1


def test_eintr_is_retried(fake: FakeSyscalls) -> None:
    fake.on(Command.MAP_FREEZE, raise_errno(errno.EINTR), raise_errno(errno.EINTR), lambda a: 0)
    _sys.map_freeze(3)
    assert len(fake.calls_for(Command.MAP_FREEZE)) == 3


LOG = "0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000)\n"


def _reject_with_log(attr) -> int:
    if attr.log_level:
        write(attr.log_buf, LOG.encode() + b"\0")
    raise OSError(errno.EACCES, "rejected")


def test_rejection_reloads_with_a_log_and_raises_verifier_error(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, _reject_with_log)
    with pytest.raises(VerifierError) as info:
        _sys.prog_load(ProgramType.SOCKET_FILTER, bytes.fromhex("9500000000000000"))
    exc = info.value
    assert exc.log == LOG and exc.errno == errno.EACCES
    assert "R0 !read_ok" in str(exc) and "BPF_PROG_LOAD" in str(exc)
    first, second = (c.attr for c in fake.calls_for(Command.PROG_LOAD))
    assert first.log_level == 0 and second.log_level == 1 and second.log_size >= 128


def test_eperm_with_a_verifier_log_is_a_verifier_error(fake: FakeSyscalls) -> None:
    def reject(attr):
        if attr.log_level:
            write(attr.log_buf, b"only privileged may call this helper\0")
        raise OSError(errno.EPERM, "no")

    fake.on(Command.PROG_LOAD, reject)
    with pytest.raises(VerifierError, match="only privileged"):
        _sys.prog_load(ProgramType.SOCKET_FILTER, RET0)


def test_log_buffer_grows_on_enospc(fake: FakeSyscalls) -> None:
    big = ("x" * 99 + "\n") * 50  # 5000 bytes

    def load(attr):
        if attr.log_size < len(big) + 1:
            write(attr.log_buf, big[: attr.log_size - 1].encode() + b"\0")
            attr.log_true_size = len(big) + 1
            raise OSError(errno.ENOSPC, "log too small")
        write(attr.log_buf, big.encode() + b"\0")
        return fake.new_fd()

    fake.on(Command.PROG_LOAD, load)
    res = _sys.prog_load_logged(ProgramType.SOCKET_FILTER, RET0, log_level=2, log_size=1000)
    assert res.log == big
    sizes = [c.attr.log_size for c in fake.calls_for(Command.PROG_LOAD)]
    assert sizes[0] == 1000 and sizes[-1] >= len(big) + 1
    res.fd.close()


def test_successful_load_returns_the_log_only_when_asked(fake: FakeSyscalls) -> None:
    def load(attr):
        if attr.log_level:
            write(attr.log_buf, b"processed 2 insns\0")
        return fake.new_fd()

    fake.on(Command.PROG_LOAD, load)
    quiet = _sys.prog_load_logged(ProgramType.SOCKET_FILTER, RET0)
    loud = _sys.prog_load_logged(ProgramType.SOCKET_FILTER, RET0, log_level=1)
    assert (quiet.log, loud.log) == ("", "processed 2 insns")
    quiet.fd.close()
    loud.fd.close()


def test_btf_load_failure_carries_the_log(fake: FakeSyscalls) -> None:
    def load(attr):
        if attr.btf_log_level:
            write(attr.btf_log_buf, b"magic: 0xeb9f\n[1] INT (anon) Invalid name\0")
        raise OSError(errno.EINVAL, "bad")

    fake.on(Command.BTF_LOAD, load)
    with pytest.raises(SyscallError, match="Invalid name") as info:
        _sys.btf_load(b"\x9f\xeb\x01\x00")
    assert isinstance(info.value, BTFLoadError) and "magic" in info.value.log


def test_memlock_probe_not_run_through_a_fake(fake: FakeSyscalls) -> None:
    _sys.map_create(MapType.HASH, 4, 4, 1).close()
    assert [c.cmd for c in fake.calls] == [Command.MAP_CREATE]
