"""Write resolved CO-RE values into instructions (see :func:`pybpf.btf.core.apply_core`).

Where the value goes depends on the instruction class: the ``imm`` of an ALU instruction
with an immediate operand, the ``off`` of a load or store (plus its width when a field
changed size), the 64-bit ``imm`` of an LD_IMM64. Before patching, the instruction must hold
the value computed from the local BTF, as the compiler put it there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import CORError
from ..isa import Instruction, InsnClass, JmpOp, Mode, Size, Source
from .types import CoreRelocKind

if TYPE_CHECKING:
    from .core import CoreResult

__all__ = ["patch_instructions", "poison_instruction"]

_BYTES_TO_SIZE = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}
_SIZE_TO_BYTES = {v: k for k, v in _BYTES_TO_SIZE.items()}
_S32 = (-(1 << 31), 1 << 31)
_S16 = (-(1 << 15), 1 << 15)


def poison_instruction() -> Instruction:
    """``call 0xbad2310``: the verifier rejects it if (and only if) it can be reached."""
    from .core import POISON_IMM

    return Instruction(InsnClass.JMP | JmpOp.CALL, 0, 0, 0, POISON_IMM)


def patch_instructions(
    prog_name: str, insns: Sequence[Instruction], results: Sequence[CoreResult]
) -> list[Instruction]:
    """A new instruction list with each result applied at its relocation's slot."""
    out = list(insns)
    index_of_slot: dict[int, int] = {}
    slot = 0
    for i, insn in enumerate(out):
        index_of_slot[slot] = i
        slot += insn.slots
    poisoned_wide: set[int] = set()
    for res in results:
        off = res.relocation.insn_off
        found = index_of_slot.get(off)
        if found is None:
            raise CORError(
                f"{prog_name}: CO-RE relocation at slot {off} ({res.description}) does not point at the "
                f"start of an instruction (the program has {slot} slots)"
            )
        i = found
        insn = out[i]
        if res.poison:
            if insn.slots == 2:
                poisoned_wide.add(i)
            out[i] = poison_instruction()
            continue
        where = f"{prog_name}: insn {off} ({res.description})"
        out[i] = _patch_one(where, insn, res)
    if not poisoned_wide:
        return out
    # a poisoned LD_IMM64 becomes two poison calls so that jump offsets (in slots) still hold
    expanded: list[Instruction] = []
    for i, insn in enumerate(out):
        expanded.append(insn)
        if i in poisoned_wide:
            expanded.append(poison_instruction())
    return expanded


def _patch_one(where: str, insn: Instruction, res: CoreResult) -> Instruction:
    if insn.slots == 2:
        return _patch_ld_imm64(where, insn, res)
    patcher = _PATCHERS.get(insn.cls)
    if patcher is None:
        raise CORError(f"{where}: a {insn.cls.name} instruction cannot carry a CO-RE relocation")
    return patcher(where, insn, res)


def _check_local(where: str, have: int, res: CoreResult, bits: int, field: str) -> None:
    if not res.validate:
        return
    mask = (1 << bits) - 1
    if (have - res.local_value) & mask:
        raise CORError(
            f"{where}: the instruction's {field} is {have} but the local BTF says {res.local_value}; "
            "the object's code and its BTF disagree (was it modified after compiling?)"
        )


def _patch_alu(where: str, insn: Instruction, res: CoreResult) -> Instruction:
    if insn.source != Source.K:
        raise CORError(f"{where}: only an ALU instruction with an immediate operand can be relocated")
    _check_local(where, insn.imm, res, 32, "immediate")
    lo, hi = _S32 if insn.cls == InsnClass.ALU64 else (_S32[0], 1 << 32)
    if not lo <= res.value < hi:
        raise CORError(f"{where}: the new value {res.value} does not fit the instruction's 32-bit immediate")
    return replace(insn, imm=res.value)


def _patch_ld_imm64(where: str, insn: Instruction, res: CoreResult) -> Instruction:
    _check_local(where, insn.imm, res, 64, "immediate")
    if not -(1 << 63) <= res.value < (1 << 64):
        raise CORError(f"{where}: the new value {res.value} does not fit in 64 bits")
    return replace(insn, imm=res.value)


def _patch_mem(where: str, insn: Instruction, res: CoreResult) -> Instruction:
    if insn.mode not in (Mode.MEM, Mode.MEMSX, Mode.ATOMIC):
        raise CORError(f"{where}: a {insn.mode.name} load or store cannot carry a CO-RE relocation")
    _check_local(where, insn.off, res, 16, "offset")
    if not _S16[0] <= res.value < _S16[1]:
        raise CORError(f"{where}: the new offset {res.value} does not fit the instruction's 16-bit offset")
    patched = replace(insn, off=res.value)
    resized = (
        res.relocation.relo_kind == CoreRelocKind.FIELD_BYTE_OFFSET
        and res.local_size != res.target_size
        and res.target_size
    )
    return _resize(where, patched, res) if resized else patched


def _resize(where: str, insn: Instruction, res: CoreResult) -> Instruction:
    """Change a load/store's width to the target field's size (a u32 that became a u64...)."""
    width = _SIZE_TO_BYTES[insn.size]
    if width != res.local_size:
        raise CORError(
            f"{where}: the {width}-byte access does not match the local field size {res.local_size}, "
            f"so it cannot be adjusted to the target's {res.target_size} bytes"
        )
    new_size = _BYTES_TO_SIZE.get(res.target_size)
    sign_ok = not res.target_signed or (insn.cls == InsnClass.LDX and insn.mode == Mode.MEMSX)
    if new_size is None or not res.target_scalar or not sign_ok or insn.mode == Mode.ATOMIC:
        raise CORError(
            f"{where}: the field is {res.local_size} bytes locally but {res.target_size} bytes in the "
            "target, and this access cannot change width (only unsigned ints, enums and pointers of "
            "1, 2, 4 or 8 bytes can); read it with BPF_CORE_READ/bpf_core_read instead"
        )
    return replace(insn, opcode=int(insn.cls) | int(insn.mode) | int(new_size))


_PATCHERS: dict[InsnClass, Callable[[str, Instruction, CoreResult], Instruction]] = {
    InsnClass.ALU: _patch_alu,
    InsnClass.ALU64: _patch_alu,
    InsnClass.LDX: _patch_mem,
    InsnClass.ST: _patch_mem,
    InsnClass.STX: _patch_mem,
}
