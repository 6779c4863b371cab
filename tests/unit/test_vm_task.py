"""bpf_get_current_task / bpf_get_current_task_btf point to the task_struct the caller gives
(``TaskContext.task_struct``): read through bpf_probe_read_kernel and directly, with CO-RE
offsets; no task_struct given is an error that says how to give one."""

from __future__ import annotations

from pathlib import Path

import pytest

import pybpf.vm as vm
from pybpf.btf import Kind, kernel_btf
from pybpf.enums import ProgramType
from pybpf.isa import assemble
from pybpf.vm import Runtime, TaskContext, VMError, jit, program_from_instructions
from pybpf.vm.contexts import task_struct

PROGS = Path(__file__).parent / "progs_vm"

#: r0 = the u32 at offset OFF of the current task, through bpf_probe_read_kernel (helper 113)
READ_FIELD = """
call bpf_get_current_task
r3 = r0
r3 += {off}
r1 = r10
r1 += -8
r2 = 4
call bpf_probe_read_kernel
if r0 != 0 goto fail
r0 = *(u32 *)(r10 - 8)
exit
fail:
r0 = -1
exit
"""


def _offset(field: str) -> int:
    btf = kernel_btf()
    ts = btf[btf.find("task_struct", Kind.STRUCT)[0]]
    return next(m.byte_offset for m in ts.members if m.name == field)  # type: ignore[attr-defined]


@pytest.fixture(params=["interpreter", "jit"])
def tier(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    with jit.use_tier(request.param):
        yield request.param


def test_probe_read_through_the_current_task(tier: str) -> None:
    rt = Runtime(task=TaskContext(pid=7, tgid=5, task_struct=task_struct(pid=7, tgid=5)))
    prog = program_from_instructions(assemble(READ_FIELD.format(off=_offset("tgid"))), ProgramType.RAW_TRACEPOINT,
                                     runtime=rt)
    assert prog.run() == 5
    # a new task_struct replaces the old one (the old region is unmapped)
    rt.task = TaskContext(task_struct=task_struct(tgid=99))
    assert prog.run() == 99


def test_task_struct_at_a_registered_address() -> None:
    """An address (memory mapped by the caller) instead of bytes: other structs can point into it."""
    rt = Runtime()
    buf = bytearray(task_struct(pid=1234))
    addr = rt.memory.map(buf, "my task").base
    rt.task = TaskContext(task_struct=addr)
    prog = program_from_instructions(assemble(READ_FIELD.format(off=_offset("pid"))), ProgramType.RAW_TRACEPOINT,
                                     runtime=rt)
    assert prog.run() == 1234


def test_the_task_struct_is_read_only() -> None:
    rt = Runtime(task=TaskContext(task_struct=task_struct()))
    prog = program_from_instructions(assemble("call bpf_get_current_task_btf\nr1 = 1\n*(u32 *)(r0 + 0) = r1\nexit"),
                                     ProgramType.RAW_TRACEPOINT, runtime=rt)
    with pytest.raises(VMError, match="the current task_struct is read-only"):
        prog.run()


def test_no_task_struct_is_an_error_saying_how_to_give_one() -> None:
    prog = program_from_instructions(assemble("call bpf_get_current_task\nexit"), ProgramType.RAW_TRACEPOINT)
    with pytest.raises(VMError, match=r"has none; give it: TaskContext\(task_struct="):
        prog.run()


def test_task_struct_fields_land_at_the_kernel_offsets() -> None:
    raw = task_struct(pid=0x1234, comm=b"abc")
    assert len(raw) == kernel_btf()[kernel_btf().find("task_struct", Kind.STRUCT)[0]].size  # type: ignore[attr-defined]
    assert raw[_offset("pid"):_offset("pid") + 4] == (0x1234).to_bytes(4, "little")
    assert raw[_offset("comm"):_offset("comm") + 4] == b"abc\0"


def test_compiled_program_reads_the_task_both_ways(tier: str) -> None:
    """The C program reads pid/tgid/comm through bpf_probe_read_kernel and through the BTF pointer."""
    from pybpf.cc import compile as cc_compile

    obj = cc_compile(PROGS / "current_task.bpf.c")
    task = TaskContext(pid=11, tgid=10, comm=b"worker", task_struct=task_struct(pid=11, tgid=10, comm=b"worker"))
    with vm.load(obj, task=task) as coll:
        assert coll.programs["current_task"].test_run(ctx=bytes(8)).retval == 1  # both helpers: one task
        seen = coll.globals["seen"]  # type: ignore[index]
    assert (seen["pid"], seen["tgid"], seen["btf_pid"], seen["btf_tgid"], seen["err"]) == (11, 10, 11, 10, 0)
    assert (seen["comm"], seen["btf_comm"]) == (b"worker", b"worker")
