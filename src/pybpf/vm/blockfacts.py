"""What the interpreter's code generator knows inside one block about map call sites and the
values they return: the map an ``ld_imm64`` put in ``r1``, a key the block stored at a fixed place
of the stack, and registers holding a map value's address (see :mod:`pybpf.vm.interpreter` for how
the generated code uses them, :mod:`pybpf.vm.fastpaths` for the shortcuts themselves)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..isa import Instruction
from ..isa.opcodes import (
    CLASS_MASK, CODE_MASK, MODE_MASK, SIZE_BYTES, SIZE_MASK, AluOp, InsnClass, JmpOp, Mode, Size, Source,
)
from .fastpaths import MAP_HELPERS, LookupTable, bound_map_helper, lookup_table
from .memory import STACK_SIZE

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["MapSiteFacts", "calls_out", "written"]

M32 = (1 << 32) - 1


def calls_out(insn: Instruction) -> bool:
    """Whether the instruction runs Python code that may remap regions: calls (helpers, kfuncs,
    BPF functions), LD_ABS/IND, atomics (their slow path)."""
    cls = insn.opcode & CLASS_MASK
    return ((cls == InsnClass.JMP and insn.opcode & CODE_MASK == JmpOp.CALL)
            or (cls == InsnClass.LD and not insn.is_ld_imm64)
            or (cls == InsnClass.STX and insn.opcode & MODE_MASK == Mode.ATOMIC))


def written(insn: Instruction) -> set[int]:
    """The registers an instruction may write (calls: r0; LD_ABS/IND: r0-r5)."""
    cls = insn.opcode & CLASS_MASK
    if cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.LDX):
        return {insn.dst}
    if cls == InsnClass.LD:
        return {insn.dst} if insn.is_ld_imm64 else {0, 1, 2, 3, 4, 5}
    if cls == InsnClass.STX and insn.opcode & MODE_MASK == Mode.ATOMIC:
        return {0, insn.src, insn.dst}
    if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.opcode & CODE_MASK == JmpOp.CALL:
        return {0}
    return set()



class MapSiteFacts:
    """The block-level facts of :class:`pybpf.vm.interpreter._Gen` about map call sites and map
    values (a mixin: the generator owns the state and calls ``track_*`` for every instruction)."""

    rt: Runtime
    env: dict[str, object]
    by_slot: dict[int, Instruction]
    resolve_ld64: Callable[[Instruction, int], int]
    #: the slots of the block being generated (for what a call site knows about r1)
    block_slots: list[int]
    #: registers known (in the block being generated) to hold the address of a map value
    #: that a table lookup just returned: register -> (the table, known not to be NULL)
    values: dict[int, tuple[LookupTable, bool]]
    #: the table of the lookup the call just generated (r0 holds its result)
    looked_up: LookupTable | None
    #: what the block stored on the stack through r10 and still holds: offset in the frame ->
    #: (size, the register stored or None for a constant, the stored value's expression)
    stored: dict[int, tuple[int, int | None, str]]
    #: the block's register stores to the stack keep the stored value in a local ``s<offset>``
    #: too (in blocks with calls: a map lookup takes its key from there, see table_lookup)
    stack_temps: bool

    def const(self, name: str, value: object) -> str:
        raise NotImplementedError  # the generator's: a name for ``value`` in the generated code

    def track_values(self, insn: Instruction) -> None:
        """Follow map value addresses from a table lookup through the block: copied by ``mov``,
        known not NULL past ``if rN == 0 goto``, forgotten when overwritten or when Python code
        runs (which may delete the element)."""
        values = self.values
        looked_up, self.looked_up = self.looked_up, None
        cls = insn.opcode & CLASS_MASK
        if values and insn.opcode == InsnClass.JMP | JmpOp.JEQ | Source.K and insn.imm == 0 and insn.dst in values:
            values[insn.dst] = (values[insn.dst][0], True)  # the fall-through: not NULL
            return
        if insn.opcode == InsnClass.ALU64 | AluOp.MOV | Source.X and not insn.off:
            if insn.src in values:
                values[insn.dst] = values[insn.src]
            else:
                values.pop(insn.dst, None)
            return
        if calls_out(insn):
            values.clear()
            if looked_up is not None:
                values[0] = (looked_up, False)
            return
        if cls in (InsnClass.JMP, InsnClass.JMP32):
            return
        for reg in written(insn):
            values.pop(reg, None)

    def track_stack(self, insn: Instruction) -> None:
        """Follow what the block stores on the stack through r10 (a register or a constant),
        forgetting it when the register changes, when something else may write the stack
        (a store through another register, an atomic, Python code) or when a store overlaps."""
        cls, mode = insn.opcode & CLASS_MASK, insn.opcode & MODE_MASK
        stored = self.stored
        if cls in (InsnClass.ST, InsnClass.STX) and insn.dst == 10 and mode == Mode.MEM:
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            where = STACK_SIZE + insn.off
            for off in [o for o, (n, _, _) in stored.items() if o < where + size and where < o + n]:
                del stored[off]
            mask = (1 << (size * 8)) - 1
            if cls == InsnClass.STX:
                if self.stack_temps and insn.src != 10:
                    stored[where] = (size, None, f"s{where}")
            else:
                stored[where] = (size, None, str(insn.imm & mask))
            return
        if cls in (InsnClass.ST, InsnClass.STX) or calls_out(insn):
            stored.clear()
            return
        changed = written(insn)
        for off in [o for o, (_, reg, _) in stored.items() if reg in changed]:
            del stored[off]

    def value_buffer(self, base: str, off: int, size: int, write: bool) -> str | None:
        """``M[rN >> 32]``, the buffer of the map value ``base`` holds, when the access of ``size``
        bytes at ``off`` is known to be inside it (and allowed): no check needed."""
        if not base.startswith("r") or base == "r10":
            return None
        known = self.values.get(int(base[1:]))
        if known is None or not known[1] or off < 0 or off + size > known[0].value_size:
            return None
        if write and not known[0].writable:
            return None
        return f"M[{base} >> 32]"

    def value_words(self, base: str, off: int, size: int, write: bool) -> str | None:
        """``views[rN]``, the u64 words of the map value ``base`` holds, for an aligned 8-byte
        access known to be inside it (see :attr:`~pybpf.vm.maps.VMMap.value_views`)."""
        if size != 8 or off % 8 or self.value_buffer(base, off, size, write) is None:
            return None
        table = self.values[int(base[1:])][0]
        if table.views is None:
            return None
        return f"{self.const(f'views_{table.map.handle}', table.views)}[{base}]"

    def bound_map_helper(self, pc: int, hid: int, general: Callable[..., int]) -> str | None:
        """The name of a map helper bound to the map ``r1`` holds at slot ``pc``, when an
        ``ld_imm64`` earlier in the block set it (see :mod:`pybpf.vm.fastpaths`)."""
        if hid not in MAP_HELPERS or hid in getattr(self.rt, "_python_helpers", {}):
            return None
        ptr = self.map_argument(pc)
        if ptr is None:
            return None
        bound = bound_map_helper(self.rt, hid, ptr, general)
        return self.const(f"b_{hid}_{pc}", bound) if bound is not None else None

    def last_writer(self, pc: int, reg: int) -> int | None:
        """The slot of the instruction before ``pc`` in the block that last wrote ``reg``."""
        if pc not in self.block_slots:
            return None
        for s in reversed(self.block_slots[:self.block_slots.index(pc)]):
            if reg in written(self.by_slot[s]):
                return s
        return None

    def map_argument(self, pc: int) -> int | None:
        """The map pointer an ``ld_imm64`` earlier in the block put in ``r1`` for the call at ``pc``."""
        s = self.last_writer(pc, 1)
        if s is None or not self.by_slot[s].is_ld_imm64:
            return None
        return self.resolve_ld64(self.by_slot[s], s)  # a map's address (ld_pseudo, or the address itself)

    def stack_argument(self, pc: int, reg: int, size: int) -> int | None:
        """The offset in the frame's stack buffer of the ``size`` bytes ``reg`` points to at the call
        at ``pc``, when the block set it as ``reg = r10; reg += OFF`` (inside the frame); else None."""
        s = self.last_writer(pc, reg)
        if s is None or self.block_slots.index(s) == 0:
            return None
        add, mov = self.by_slot[s], self.by_slot[self.block_slots[self.block_slots.index(s) - 1]]
        if (add.opcode != InsnClass.ALU64 | AluOp.ADD | Source.K or add.dst != reg or add.off
                or mov.opcode != InsnClass.ALU64 | AluOp.MOV | Source.X or mov.dst != reg or mov.src != 10 or mov.off):
            return None
        if not (-STACK_SIZE <= add.imm and add.imm + size <= 0):
            return None
        return STACK_SIZE + add.imm

    def table_lookup(self, pc: int, bound: str) -> list[str] | None:
        """``bpf_map_lookup_elem`` with the key at a fixed place of the stack, in a map that keeps
        a table of value addresses: one ``dict.get`` on the key's bytes (the bound helper when
        the map is gone from the runtime, or the table does not know the key yet)."""
        ptr = self.map_argument(pc)
        table = lookup_table(self.rt, ptr) if ptr is not None else None
        if table is None:
            return None
        off = self.stack_argument(pc, 2, table.key_size)
        if off is None:
            return None
        self.env["MAPS_GET"] = self.rt.maps.get
        mp = self.const(f"map_{pc}", table.map)
        tab = self.const(f"tab_{pc}", table.addresses)
        if not table.int_keys:
            key = f"{self.const(f'K{table.key_size}s', struct.Struct(f'{table.key_size}s').unpack_from)}(SB, {off})[0]"
        elif (known := self.stored.get(off)) is not None and known[0] == table.key_size:
            key = known[2]  # the block just stored it there
        else:
            key = f"U{table.key_size}(SB, {off})[0]"
        self.looked_up = table
        handle = ptr & M32 if ptr is not None else 0
        if table.complete:
            return [f"if MAPS_GET({handle}) is {mp}: r0 = {tab}.get({key}, 0)",
                    f"else: r0 = {bound}(r2, r3, r4, r5)"]
        return [f"r0 = {tab}.get({key}, 0) if MAPS_GET({handle}) is {mp} else 0",
                f"if not r0: r0 = {bound}(r2, r3, r4, r5)"]
