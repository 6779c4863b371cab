"""pybpf.program_run: the BPF_PROG_TEST_RUN request each program type gets from test_run's arguments."""

from __future__ import annotations

import errno

import pytest

from pybpf._sys import TestRunFlags
from pybpf.enums import ProgramType
from pybpf.errors import NotSupportedError, SyscallError
from pybpf.program_run import RunRequest, TestRunArgumentError, check, explain_failure


def _check(prog_type: ProgramType, **kw: object) -> RunRequest:
    args: dict[str, object] = {"data": None, "ctx": None, "repeat": 1, "data_out_size": None,
                               "ctx_out_size": None, "cpu": None}
    args.update(kw)
    return check(prog_type, "p", **args)  # type: ignore[arg-type]


def test_raw_tp_request_is_one_run_with_no_outputs() -> None:
    req = _check(ProgramType.RAW_TRACEPOINT, ctx=bytes(16))
    assert (req.repeat, req.data_out_size, req.ctx_out_size, req.flags, req.cpu) == (0, 0, 0, TestRunFlags.NONE, 0)
    on_cpu = _check(ProgramType.RAW_TRACEPOINT, ctx=bytes(16), cpu=1)
    assert (on_cpu.flags, on_cpu.cpu) == (TestRunFlags.RUN_ON_CPU, 1)


def test_syscall_ctx_is_a_buffer_the_kernel_writes_back() -> None:
    req = _check(ProgramType.SYSCALL, ctx=b"\x01" * 8)
    assert isinstance(req.ctx, bytearray) and req.ctx == bytearray(b"\x01" * 8) and req.repeat == 0


def test_packet_programs_pass_through() -> None:
    req = _check(ProgramType.XDP, data=bytes(64), repeat=10, data_out_size=128, ctx_out_size=24)
    assert (req.data, req.repeat, req.data_out_size, req.ctx_out_size) == (bytes(64), 10, 128, 24)
    with pytest.raises(TestRunArgumentError, match="XDP program 'p': a test run cannot choose its CPU"):
        _check(ProgramType.XDP, data=bytes(64), cpu=0)
    with pytest.raises(TestRunArgumentError, match="repeat must be >= 0"):
        _check(ProgramType.XDP, data=bytes(64), repeat=-1)


@pytest.mark.parametrize(("prog_type", "kw", "message"), [
    (ProgramType.RAW_TRACEPOINT, {"data": b"x"}, "takes no data"),
    (ProgramType.RAW_TRACEPOINT, {"repeat": 5}, "runs the program once"),
    (ProgramType.RAW_TRACEPOINT, {"cpu": -1}, "cpu must be >= 0"),
    (ProgramType.SYSCALL, {"ctx": bytes(0x10000)}, "at most 65535"),
    (ProgramType.FLOW_DISSECTOR, {}, "at least 14 bytes"),
    (ProgramType.SK_LOOKUP, {}, "needs ctx=: a struct bpf_sk_lookup"),
    (ProgramType.SK_LOOKUP, {"ctx": bytes(72), "data_out_size": 10}, "gives no data_out"),
])
def test_refused_arguments(prog_type: ProgramType, kw: dict[str, object], message: str) -> None:
    with pytest.raises(TestRunArgumentError, match=message):
        _check(prog_type, **kw)


def test_kernel_refusals_are_explained() -> None:
    req = _check(ProgramType.RAW_TRACEPOINT, ctx=bytes(8))
    err = explain_failure(ProgramType.RAW_TRACEPOINT, "p", req, SyscallError("BPF_PROG_TEST_RUN", errno.EINVAL))
    assert isinstance(err, SyscallError) and "ctx of 8 bytes" in str(err)
    none = explain_failure(ProgramType.KPROBE, "p", req, SyscallError("BPF_PROG_TEST_RUN", 524))
    assert isinstance(none, NotSupportedError) and "no test runner for KPROBE" in str(none)
    other = SyscallError("BPF_PROG_TEST_RUN", errno.EPERM)
    assert explain_failure(ProgramType.XDP, "p", _check(ProgramType.XDP), other) is other


def test_vm_test_run_on_a_chosen_cpu() -> None:
    from pybpf.isa import assemble
    from pybpf.vm import Runtime, program_from_instructions

    rt = Runtime(ncpus=2)
    prog = program_from_instructions(assemble("call bpf_get_smp_processor_id\nexit"),
                                     ProgramType.RAW_TRACEPOINT, runtime=rt)
    assert [prog.test_run(ctx=bytes(8), cpu=c).retval for c in (1, 0, 1)] == [1, 0, 1]
    assert rt.cpu == 0  # restored
    with pytest.raises(TestRunArgumentError, match="cpu 2 is not a CPU of this VM"):
        prog.test_run(ctx=bytes(8), cpu=2)
