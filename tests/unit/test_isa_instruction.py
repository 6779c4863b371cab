"""Instruction values, decoded fields, and the raw byte encoding."""

from __future__ import annotations

import dataclasses

import pytest

from pybpf.errors import BPFError, InstructionError
from pybpf.isa import (
    HELPER_IDS,
    HELPER_NAMES,
    AluOp,
    AtomicOp,
    CallSrc,
    InsnClass,
    Instruction,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
    assemble,
    decode,
    encode,
)


def test_instruction_is_immutable_and_hashable() -> None:
    insn = Instruction(0xB7, dst=1, imm=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        insn.imm = 6  # type: ignore[misc]
    assert {insn, Instruction(0xB7, 1, 0, 0, 5)} == {insn}
    assert insn.replace(imm=6) == Instruction(0xB7, 1, 0, 0, 6)


def test_unsigned_fields_normalise_to_signed() -> None:
    assert Instruction(0xB7, imm=0xFFFFFFFF) == Instruction(0xB7, imm=-1)
    assert Instruction(0x61, off=0xFFFC).off == -4
    wide = Instruction(0x18, dst=1, imm=0xFFFFFFFFFFFFFFFF)
    assert wide.imm == -1 and wide.lo32 == 0xFFFFFFFF and wide.hi32 == 0xFFFFFFFF


def test_enum_fields_are_stored_as_ints() -> None:
    insn = Instruction(InsnClass.JMP | JmpOp.CALL, src=CallSrc.CALL, imm=3)
    assert type(insn.src) is int and type(insn.opcode) is int
    assert repr(insn) == "Instruction(opcode=133, dst=0, src=1, off=0, imm=3)"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"opcode": 0x100}, "opcode"),
        ({"opcode": 0xB7, "dst": 16}, "dst register 16"),
        ({"opcode": 0xB7, "src": -1}, "src register -1"),
        ({"opcode": 0x61, "off": 0x10000}, "offset"),
        ({"opcode": 0xB7, "imm": 1 << 32}, "32 bits"),
        ({"opcode": 0x18, "imm": 1 << 64}, "64 bits"),
    ],
)
def test_out_of_range_fields_are_rejected(fields: dict[str, int], message: str) -> None:
    with pytest.raises(InstructionError, match=message):
        Instruction(**fields)


def test_decoded_fields_are_enums() -> None:
    (alu, ldx, atomic, jmp, call, wide) = decode(
        bytes.fromhex(
            "3f21010000000000"  # r1 s/= r2
            "8121000000000000"  # r1 = *(s32 *)(r2 + 0)
            "db21000001000000"  # atomic_fetch_add 64
            "6e21030000000000"  # if w1 s> w2 goto +3
            "8520000005000000"  # kfunc call
            "1821000003000000" "0000000008000000"  # map value + 8
        )
    )
    assert (alu.cls, alu.alu_op, alu.source, alu.off) == (InsnClass.ALU64, AluOp.DIV, Source.X, 1)
    assert alu.op is AluOp.DIV
    assert (ldx.cls, ldx.mode, ldx.size, ldx.size.nbytes) == (InsnClass.LDX, Mode.MEMSX, Size.W, 4)
    assert (atomic.mode, atomic.atomic_op, atomic.atomic_op.fetch) == (Mode.ATOMIC, AtomicOp.FETCH_ADD, True)
    assert (jmp.cls, jmp.jmp_op, jmp.is_jump, jmp.jump_offset) == (InsnClass.JMP32, JmpOp.JSGT, True, 3)
    assert (call.is_call, call.call_src, call.is_jump) == (True, CallSrc.KFUNC, False)
    assert (wide.is_ld_imm64, wide.slots, wide.pseudo, wide.lo32, wide.hi32) == (True, 2, PseudoSrc.MAP_VALUE, 3, 8)


def test_gotol_jump_offset_is_in_imm() -> None:
    (gotol,) = assemble("gotol -70000")
    assert gotol.cls is InsnClass.JMP32 and gotol.off == 0 and gotol.jump_offset == -70000


def test_encode_decode_inverse_on_a_program() -> None:
    raw = bytes.fromhex(
        "bf16000000000000"
        "18010000ffffffff" "0000000001000000"
        "8500000001000000"
        "9500000000000000"
    )
    prog = decode(raw)
    assert len(prog) == 4 and sum(i.slots for i in prog) == 5
    assert prog[1].imm == 0x1FFFFFFFF
    assert encode(prog) == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (bytes(7), "truncated"),
        (bytes(9), "truncated"),
        (bytes.fromhex("1801000000000000"), "missing its second half"),
        (bytes.fromhex("b700000000000000" "1801000000000000"), "slot 1 is missing its second half"),
        (bytes.fromhex("1801000000000000" "9500000000000000"), "malformed second half"),
    ],
)
def test_decode_errors(raw: bytes, message: str) -> None:
    with pytest.raises(InstructionError, match=message) as info:
        decode(raw)
    assert isinstance(info.value, BPFError)


def test_decode_accepts_memoryview_and_empty_input() -> None:
    assert decode(memoryview(b"")) == []
    assert decode(bytearray.fromhex("9500000000000000")) == [Instruction(0x95)]


def test_helper_table_is_the_kernel_enum() -> None:
    assert HELPER_NAMES[1] == "bpf_map_lookup_elem"
    assert HELPER_NAMES[6] == "bpf_trace_printk"
    assert HELPER_NAMES[130] == "bpf_ringbuf_output"
    assert HELPER_IDS["bpf_get_current_pid_tgid"] == 14
    assert 0 not in HELPER_NAMES
    assert sorted(HELPER_NAMES) == list(range(1, len(HELPER_NAMES) + 1))
