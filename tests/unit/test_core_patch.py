"""apply_core: how resolved CO-RE values are written into each instruction class."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, Int, IntEncoding, Member, Struct
from pybpf.btf.core import POISON_IMM, CoreResult, apply_core, guarded_failures
from pybpf.btf.types import CoreRelocation
from pybpf.btf.types import CoreRelocKind as K
from pybpf.enums import ProgramType
from pybpf.errors import CORError
from pybpf.isa import Instruction, assemble, disassemble
from pybpf.spec import ProgramSpec

# ids: 1 int, 2 unsigned int, 3 long, 4 unsigned long, 5 the struct
_INTS = [
    Int("int", 4, IntEncoding.SIGNED, 32), Int("unsigned int", 4, IntEncoding.NONE, 32),
    Int("long", 8, IntEncoding.SIGNED, 64), Int("unsigned long", 8, IntEncoding.NONE, 64),
]
LOCAL = BTF.from_types([*_INTS, Struct("obj", 16, (
    Member("flags", 2, 0), Member("count", 1, 32), Member("gone", 1, 64), Member("id", 2, 96),
))])
# in the target, flags grew to unsigned long and count to long; "gone" does not exist
TARGET = BTF.from_types([*_INTS, Struct("obj", 32, (
    Member("pad", 4, 0), Member("count", 3, 64), Member("flags", 4, 128), Member("id", 2, 192),
))])
OBJ = 5


def prog(text: str, *relos: tuple[int, str, K]) -> ProgramSpec:
    return ProgramSpec(
        name="p", section="xdp", type=ProgramType.XDP, instructions=assemble(text),
        core_relocations=[CoreRelocation(slot, OBJ, access, kind) for slot, access, kind in relos],
    )


def asm(insns: list[Instruction]) -> list[str]:
    return [line.strip() for line in disassemble(insns).splitlines() if line.strip()]


def test_alu_immediate_and_load_offset_and_ld_imm64() -> None:
    p = prog(
        """
        r0 = 4
        r2 = *(u32 *)(r1 + 12)
        r3 = 0x10 ll
        w1 += 4
        exit
        """,
        (0, "0:1", K.FIELD_BYTE_OFFSET),
        (1, "0:3", K.FIELD_BYTE_OFFSET),
        (2, "0", K.TYPE_SIZE),
        (4, "0:1", K.FIELD_BYTE_OFFSET),
    )
    out = apply_core(p, LOCAL, TARGET)
    assert [i.imm for i in (out[0], out[2], out[3])] == [8, 32, 8]
    assert (out[1].off, out[1].size.nbytes) == (24, 4)  # same size: only the offset changes
    assert [i.opcode for i in out] == [i.opcode for i in p.instructions]


def test_load_of_a_field_that_grew_is_widened() -> None:
    p = prog("r2 = *(u32 *)(r1 + 0)\nexit", (0, "0:0", K.FIELD_BYTE_OFFSET))
    out = apply_core(p, LOCAL, TARGET)
    assert asm(out) == ["r2 = *(u64 *)(r1 + 16)", "exit"]


def test_store_to_a_field_that_grew_is_widened() -> None:
    p = prog("*(u32 *)(r1 + 0) = r2\nexit", (0, "0:0", K.FIELD_BYTE_OFFSET))
    out = apply_core(p, LOCAL, TARGET)
    assert (out[0].size.nbytes, out[0].off) == (8, 16)


def test_signed_field_width_change_is_refused() -> None:
    p = prog("r2 = *(u32 *)(r1 + 4)\nexit", (0, "0:1", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="cannot change width"):
        apply_core(p, LOCAL, TARGET)


def test_sign_extending_load_of_a_signed_field_may_change_width() -> None:
    p = prog("r2 = *(s32 *)(r1 + 4)\nexit", (0, "0:1", K.FIELD_BYTE_OFFSET))
    out = apply_core(p, LOCAL, TARGET)
    assert (out[0].size.nbytes, out[0].off) == (8, 8)


def test_instruction_must_hold_the_local_value() -> None:
    p = prog("r0 = 7\nexit", (0, "0:1", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="immediate is 7 but the local BTF says 4"):
        apply_core(p, LOCAL, TARGET)
    p = prog("r2 = *(u32 *)(r1 + 8)\nexit", (0, "0:1", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="offset is 8 but the local BTF says 4"):
        apply_core(p, LOCAL, TARGET)


def test_width_must_match_the_local_field_to_be_adjusted() -> None:
    p = prog("r2 = *(u16 *)(r1 + 0)\nexit", (0, "0:0", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="2-byte access does not match the local field size 4"):
        apply_core(p, LOCAL, TARGET)


def test_strict_reports_every_failed_relocation() -> None:
    p = prog(
        "r2 = *(u32 *)(r1 + 8)\nr0 = 8\nexit",
        (0, "0:2", K.FIELD_BYTE_OFFSET), (1, "0:2", K.FIELD_BYTE_OFFSET),
    )
    with pytest.raises(CORError) as info:
        apply_core(p, LOCAL, TARGET)
    msg = str(info.value)
    assert msg.startswith("2 CO-RE relocation(s) cannot be satisfied")
    assert "insn 0: struct obj: field 'gone' (access 0:2) not found in target: struct obj has no field 'gone'" in msg
    assert "insn 1: " in msg


def test_non_strict_poisons_failed_instructions_keeping_slot_layout() -> None:
    p = prog(
        """
        r0 = 1
        if r0 == 0 goto +3
        r3 = 0x8 ll
        r2 = *(u32 *)(r1 + 8)
        r0 = 0
        exit
        """,
        (0, "0:2", K.FIELD_EXISTS), (2, "0:2", K.FIELD_BYTE_OFFSET), (4, "0:2", K.FIELD_BYTE_OFFSET),
    )
    out = apply_core(p, LOCAL, TARGET, strict=False)
    assert out[0].imm == 0  # field exists -> 0
    poison = [i for i in out if i.is_call and i.imm == POISON_IMM]
    assert len(poison) == 3  # the ld_imm64 became two 1-slot calls, the load one
    assert sum(i.slots for i in out) == sum(i.slots for i in p.instructions)
    assert out[1] == p.instructions[1]  # the guard's jump still lands on "r0 = 0"
    assert asm(out) == [
        "r0 = 0", "if r0 == 0 goto LBB0_1", "call 195896080", "call 195896080", "call 195896080",
        "LBB0_1:", "r0 = 0", "exit",
    ]


def test_relocation_must_point_at_an_instruction_start() -> None:
    p = prog("r3 = 0x10 ll\nexit", (1, "0", K.TYPE_SIZE))
    with pytest.raises(CORError, match="slot 1 .* does not point at the start of an instruction"):
        apply_core(p, LOCAL, TARGET)


def test_value_too_big_for_a_32_bit_immediate() -> None:
    big = BTF.from_types([*_INTS, Struct("obj", 1 << 31, (Member("x", 1, 0),))])
    p = prog("r0 = 16\nexit", (0, "0", K.TYPE_SIZE))
    with pytest.raises(CORError, match="does not fit the instruction's 32-bit immediate"):
        apply_core(p, LOCAL, big)
    p = prog("w0 = 16\nexit", (0, "0", K.TYPE_SIZE))  # a 32-bit move takes it as unsigned
    assert apply_core(p, LOCAL, big)[0].imm & 0xFFFFFFFF == 1 << 31
    p = prog("r0 = 0x10 ll\nexit", (0, "0", K.TYPE_SIZE))
    assert apply_core(p, LOCAL, big)[0].imm == 1 << 31


def test_instruction_class_without_a_relocatable_field() -> None:
    p = prog("r0 = 4\nexit", (1, "0:1", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="JMP instruction cannot carry a CO-RE relocation"):
        apply_core(p, LOCAL, TARGET)


def test_strict_mode_poisons_only_what_an_existence_probe_guards() -> None:
    text = "r0 = 1\nr0 = 1\nr2 = *(u32 *)(r1 + 8)\nr2 = *(u32 *)(r1 + 8)\nexit"
    guarded = prog(text, (0, "0:2", K.FIELD_EXISTS), (2, "0:2", K.FIELD_BYTE_OFFSET))
    out = apply_core(guarded, LOCAL, TARGET)
    assert (out[0].imm, out[2].imm, out[2].is_call) == (0, POISON_IMM, True)
    # a probe of another field guards nothing else
    other = prog(text, (0, "0:1", K.FIELD_EXISTS), (2, "0:2", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="field 'gone'"):
        apply_core(other, LOCAL, TARGET)
    # a failed type probe guards every relocation on that type
    gone_type = BTF.from_types(_INTS)
    typed = prog("r0 = 1\nr0 = 4\nr2 = *(u32 *)(r1 + 12)\nexit",
                 (0, "0", K.TYPE_EXISTS), (1, "0:1", K.FIELD_BYTE_OFFSET), (2, "0:3", K.FIELD_BYTE_OFFSET))
    out = apply_core(typed, LOCAL, gone_type)
    assert [i.imm for i in out[:3]] == [0, POISON_IMM, POISON_IMM]


def test_a_field_probe_guards_accesses_below_it() -> None:
    def result(access: str, kind: K, type_id: int = OBJ) -> CoreResult:
        return CoreResult(CoreRelocation(0, type_id, access, kind), 1, 0, "d", failed=True)

    results = [
        result("0:1", K.FIELD_EXISTS),
        result("0:1:2", K.FIELD_BYTE_OFFSET),  # below the probed field: guarded
        result("0:12", K.FIELD_BYTE_OFFSET),  # shares a textual prefix only: not guarded
        result("0:1", K.FIELD_BYTE_OFFSET, type_id=OBJ + 1),  # another type: not guarded
    ]
    assert guarded_failures(results) == {1}
