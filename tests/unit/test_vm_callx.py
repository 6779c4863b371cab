"""``callx rN``: BPF-to-BPF calls through a function pointer. Compilers emit it for indirect
calls; the kernel's verifier refuses it, so the VM follows the compiler's meaning: call the
function whose address (``ld_imm64 src=BPF_PSEUDO_FUNC``) is in the register. Both tiers run
it (the JIT switches over the program's functions) and stop with the same errors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pybpf.enums import ProgramType
from pybpf.isa import Instruction, assemble
from pybpf.isa.opcodes import InsnClass, JmpOp, Source
from pybpf.vm import VMError, jit, program_from_instructions

PROGS = Path(__file__).parent / "progs_vm"
CALLX = InsnClass.JMP | JmpOp.CALL | Source.X

#: r6 = &double if r1 > 3 else &triple; r0 = r6(r1) + 1. Slots: double at 9, triple at 12.
PICK = """
r1 = {value}
ld_pseudo r6, 4, 7
if r1 > 3 goto +2
ld_pseudo r6, 4, 7
callx r6
r0 += 1
exit
r0 = r1
r0 += r1
exit
r0 = r1
r0 *= 3
exit
"""


@pytest.fixture(params=["interpreter", "jit"])
def tier(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    with jit.use_tier(request.param):
        yield request.param


@pytest.mark.parametrize(("value", "want"), [(5, 11), (2, 7)])
def test_callx_calls_the_function_in_the_register(tier: str, value: int, want: int) -> None:
    prog = program_from_instructions(assemble(PICK.format(value=value)), ProgramType.XDP)
    assert prog.run() == want


def test_llvm_18_encoding_with_the_register_in_imm() -> None:
    """LLVM < 19 put the register number in imm (LLVM 19 moved it to dst, as GCC does)."""
    insns = assemble(PICK.format(value=5))
    k = next(i for i, insn in enumerate(insns) if insn.opcode == CALLX)
    assert insns[k].dst == 6 and insns[k].imm == 0
    insns[k] = Instruction(CALLX, dst=0, imm=6)
    assert program_from_instructions(insns, ProgramType.XDP).run() == 11


def test_callx_with_register_in_both_fields_is_invalid(tier: str) -> None:
    insns = assemble(PICK.format(value=5))
    k = next(i for i, insn in enumerate(insns) if insn.opcode == CALLX)
    insns[k] = Instruction(CALLX, dst=6, imm=6)
    with pytest.raises(VMError, match="invalid callx"):
        program_from_instructions(insns, ProgramType.XDP).run()


def test_callx_through_a_value_that_is_not_a_function(tier: str) -> None:
    prog = program_from_instructions(assemble("r1 = 42\ncallx r1\nexit"), ProgramType.XDP)
    with pytest.raises(VMError, match=r"instruction 1: callx r1: the register does not hold the address of a "
                                      r"function of this program"):
        prog.run()


def test_callx_recursion_is_limited_to_8_frames(tier: str) -> None:
    # f: r6 = &f; callx r6 (forever)
    insns = assemble("call pc+1\nexit\nld_pseudo r6, 4, -3\ncallx r6\nexit")
    with pytest.raises(VMError, match="deeper than 8 frames"):
        program_from_instructions(insns, ProgramType.XDP).run()


def test_jit_runs_callx_natively() -> None:
    if not jit.available():
        pytest.skip(f"no JIT tier: {jit.unavailable_reason()}")
    with jit.use_tier(jit.Tier.JIT):
        for value, want in ((5, 11), (2, 7)):
            prog = program_from_instructions(assemble(PICK.format(value=value)), ProgramType.XDP, name="pick")
            assert prog.run() == want
            assert jit.tier_of(prog) == jit.Tier.JIT


@pytest.mark.parametrize(("ifindex", "want"), [(1, 21), (2, 14)])
def test_indirect_call_compiled_by_clang(tier: str, ifindex: int, want: int) -> None:
    """clang's callx after ld_imm64 of static functions, through the ELF loader."""
    import pybpf.vm as vm
    from pybpf.cc import compile as cc_compile

    obj = cc_compile(PROGS / "indirect_call.bpf.c", cflags=["-mcpu=v3"])
    with vm.load(obj) as coll:
        prog = coll.programs["pick"]
        assert any(insn.opcode == CALLX for insn in prog.instructions)
        data = bytes(64)
        ctx = struct.pack("<6I", 0, len(data), 0, ifindex, 0, 0)
        assert prog.test_run(data, ctx=ctx).retval == want
