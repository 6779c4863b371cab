"""The reference interpreter: each program is translated once into Python source and compiled.

Every eBPF function (the entry and each BPF-to-BPF callee or callback) becomes one Python
function ``f_<slot>(r1, r2, r3, r4, r5, d) -> r0`` whose registers are local variables and
whose code is a ``while`` loop dispatching on ``pc`` over *extended basic blocks* (a block
starts at a jump target; conditional jumps leave it early). ``d`` is the frame depth: frame
``d`` has its 512-byte stack in region ``STACK_REGION + d``. Memory goes through the ABI of
:mod:`pybpf.vm.memory` (``bufs``/``rlen``/``wlen`` lists with a slow path for special regions
and faults); helpers are called by id with five u64 arguments.

Shortcuts that keep the results of the general paths: a map helper whose ``r1`` an ``ld_imm64``
in the same block sets is bound to that map, and XDP context fields are remembered while the
packet stays the same (both in :mod:`pybpf.vm.fastpaths`; the remembered fields are read inline);
a lookup whose key the block put at a fixed place of the stack is one ``dict.get`` in the map's
table of value addresses (the key taken from the local the block stored it from), and the value
it returns, once ``if rN == 0`` has ruled out NULL, is read and written in the same block without
checks when the access fits (aligned u64s through the value's word view); a function with a loop,
or of an XDP program, keeps the packet's buffer and per-size bounds in locals (``PK``,
``PRn``/``PWn``, re-read after every call out that may change the packet), so a packet access is
one compare; ``mov rD, rS`` followed by an ALU operation on rD is one statement; a forward jump
to a short block that exits runs that block in place; byte loads index the buffer.

Semantics follow the kernel (RFC 9669 + Linux): 32-bit results zero-extend, ``x / 0 = 0``,
``x % 0 = x`` (zero-extended in 32-bit), ``INT_MIN s/ -1 = INT_MIN``, ``INT_MIN s% -1 = 0``,
shift counts are masked to the operand width, ``may_goto`` has a budget of 8M per frame and
jumps once it runs out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..isa import Instruction
from ..isa.opcodes import (
    CLASS_MASK, CODE_MASK, MODE_MASK, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc,
    InsnClass, JmpOp, Mode, PseudoSrc, Size, Source,
)
from ..enums import ProgramType
from .arith import LOAD_SIGNED, LOAD_UNSIGNED, STORE, bswap, sdiv, sext, smod
from .blockfacts import M32, MapSiteFacts, calls_out, written
from .fastpaths import LOOKUP, context_loader
from .memory import MAX_CALL_FRAMES, PACKET_REGION, STACK_REGION, STACK_SIZE, VMError

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("pybpf.vm.interpreter")

__all__ = ["CompiledProgram", "compile_program", "FUNC_TAG", "M64", "M32", "BACK_EDGE_LIMIT", "CALLX",
           "callx_register", "callx_not_a_function", "INVALID_CALLX", "KFUNC_HELPER_BASE"]

M64 = (1 << 64) - 1
S63 = 1 << 63
S31 = 1 << 31
#: value of ``ld_imm64 rX, <function>``: FUNC_TAG | slot of the callee (never a mapped address)
FUNC_TAG = 0xF << 60
#: back edges one function call may take before the VM declares the program runaway
BACK_EDGE_LIMIT = 1 << 26
MAY_GOTO_BUDGET = 8 * 1024 * 1024

# ---- compiled form ---------------------------------------------------------------------

@dataclass
class CompiledProgram:
    """A program translated to Python: ``entry(r1, 0, 0, 0, 0, depth)`` runs it."""

    name: str
    entry: Callable[..., int]
    functions: dict[int, Callable[..., int]]
    source: str
    insn_count: int
    slots: dict[int, Instruction] = field(repr=False, default_factory=dict)
    #: whether a run may tail-call (False: its runs need not reset the tail-call count)
    tail_calls: bool = True


#: ``{d}`` is the destination, ``{a}`` the left operand (the destination's value, or the register a
#: ``mov`` just before copied into it: see _Gen.block)
_ALU64: dict[int, str] = {
    AluOp.ADD: "{d} = ({a} + {s}) & 0xFFFFFFFFFFFFFFFF",
    AluOp.SUB: "{d} = ({a} - {s}) & 0xFFFFFFFFFFFFFFFF",
    AluOp.MUL: "{d} = ({a} * {s}) & 0xFFFFFFFFFFFFFFFF",
    AluOp.OR: "{d} = {a} | {s}",
    AluOp.AND: "{d} = {a} & {s}",
    AluOp.XOR: "{d} = {a} ^ {s}",
    AluOp.LSH: "{d} = ({a} << ({s} & 63)) & 0xFFFFFFFFFFFFFFFF",
    AluOp.RSH: "{d} = {a} >> ({s} & 63)",
    AluOp.ARSH: "{d} = ((({a} ^ 0x8000000000000000) - 0x8000000000000000) >> ({s} & 63)) & 0xFFFFFFFFFFFFFFFF",
    AluOp.NEG: "{d} = -{a} & 0xFFFFFFFFFFFFFFFF",
}
_ALU32: dict[int, str] = {
    AluOp.ADD: "{d} = ({d} + {s}) & 0xFFFFFFFF",
    AluOp.SUB: "{d} = ({d} - {s}) & 0xFFFFFFFF",
    AluOp.MUL: "{d} = ({d} * {s}) & 0xFFFFFFFF",
    AluOp.OR: "{d} = ({d} | {s}) & 0xFFFFFFFF",
    AluOp.AND: "{d} = {d} & {s} & 0xFFFFFFFF",
    AluOp.XOR: "{d} = ({d} ^ {s}) & 0xFFFFFFFF",
    AluOp.LSH: "{d} = ({d} << ({s} & 31)) & 0xFFFFFFFF",
    AluOp.RSH: "{d} = ({d} & 0xFFFFFFFF) >> ({s} & 31)",
    AluOp.ARSH: "{d} = (((({d} & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) >> ({s} & 31)) & 0xFFFFFFFF",
    AluOp.NEG: "{d} = -{d} & 0xFFFFFFFF",
}
_CMP: dict[int, str] = {
    JmpOp.JEQ: "{a} == {b}", JmpOp.JNE: "{a} != {b}", JmpOp.JGT: "{a} > {b}", JmpOp.JGE: "{a} >= {b}",
    JmpOp.JLT: "{a} < {b}", JmpOp.JLE: "{a} <= {b}", JmpOp.JSET: "{a} & {b}",
    JmpOp.JSGT: "{a} > {b}", JmpOp.JSGE: "{a} >= {b}", JmpOp.JSLT: "{a} < {b}", JmpOp.JSLE: "{a} <= {b}",
}
_SIGNED_JMP = {JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE}

#: helper ids whose Python implementation also takes the frame depth (they call back into BPF)
CALLBACK_HELPERS = {164, 181, 180, 197, 209}  # for_each_map_elem, loop, find_vma, user_ringbuf_drain, ...
TAIL_CALL_HELPER = 12
#: helper id standing for kfunc BTF id N in a tier that calls kfuncs as helpers: BASE | N
KFUNC_HELPER_BASE = 1 << 32
PACKET_BASE = PACKET_REGION << 32
#: ``callx``: BPF_JMP | BPF_CALL | BPF_X
CALLX = InsnClass.JMP | JmpOp.CALL | Source.X


INVALID_CALLX = "an invalid callx (the register goes in dst, or in imm for LLVM < 19)"


def callx_not_a_function(reg: int) -> str:
    """What a ``callx`` through a value that is no function's address stops with (both tiers)."""
    return f"callx r{reg}: the register does not hold the address of a function of this program"


def callx_register(insn: Instruction) -> int | None:
    """The register a ``callx`` calls through, or None when the encoding is invalid: LLVM >= 19
    and GCC put it in ``dst``; LLVM < 19 put it in ``imm``."""
    if insn.src or insn.off:
        return None
    if insn.imm and insn.dst:
        return None
    reg = insn.imm or insn.dst
    return reg if 0 <= reg <= 10 else None


class _Gen(MapSiteFacts):
    """Source generator for one program."""

    def __init__(self, name: str, insns: list[Instruction], runtime: Runtime,
                 resolve_ld64: Callable[[Instruction, int], int], count: bool = False) -> None:
        self.count = count
        self.block_slots = []
        #: the source register of a ``mov`` fused into the instruction being generated
        self.copied: str | None = None
        #: the context's loads go through a load hook (XDP): load through r1 at the entry go
        #: straight to the slow path, which remembers them (see mem_load)
        self.ctx_hooked = False
        self.r1_is_ctx = False
        self.stubs: dict[int, list[str]] = {}
        #: the function being generated keeps the packet's buffer and bounds in locals (PK, PRn,
        #: PWn: see _Gen.packet_locals); the statement that re-reads them after a call out
        self.reload = ""
        #: the packet bounds (``PRn = ...``) the function being generated uses
        self.packet_bounds: set[str] = set()
        self.name = name
        self.insns = insns
        self.rt = runtime
        self.resolve_ld64 = resolve_ld64
        self.by_slot = {}
        slot = 0
        for insn in insns:
            self.by_slot[slot] = insn
            slot += insn.slots
        self.end = slot
        self.env = {}
        self.helpers_used: set[int] = set()
        self.loop_start: int | None = None
        self.values = {}
        self.looked_up = None
        self.stored = {}
        self.stack_temps = False
        #: the call being generated cannot change the packet (no need to re-read the packet locals)
        self.keeps_packet = False

    # ---- analysis --------------------------------------------------------------------

    def entries(self) -> list[int]:
        found = {0}
        for slot, insn in self.by_slot.items():
            if insn.is_call and insn.src == CallSrc.CALL:
                found.add(slot + 1 + insn.imm)
            elif insn.is_ld_imm64 and insn.src == PseudoSrc.FUNC:
                found.add(slot + 1 + (insn.lo32 - (1 << 32) if insn.lo32 >> 31 else insn.lo32))
        for e in found:
            if e not in self.by_slot:
                raise VMError(f"a call or function pointer targets slot {e}, which is not an instruction "
                              f"of {self.name!r}", program=self.name)
        return sorted(found)

    def target(self, slot: int, insn: Instruction) -> int:
        t = slot + 1 + insn.jump_offset
        if t not in self.by_slot:
            raise VMError(f"jump to slot {t}, which is not an instruction", pc=slot, program=self.name)
        return t

    # ---- emission --------------------------------------------------------------------

    def const(self, name: str, value: object) -> str:
        self.env[name] = value
        return name

    def generate(self) -> str:
        entries = self.entries()
        bounds = entries[1:] + [self.end]
        out = ["def _factory(M, L, W, TOP, SL, SLX, SS, AT, LDABS, TAIL, STK, LIM, DEPTH, ENV):"]
        for name in sorted(self.env_names()):
            out.append(f"    {name} = ENV[{name!r}]")
        body: list[str] = []
        for start, stop in zip(entries, bounds):
            body.extend(self.function(start, stop))
        for name in sorted(self.env):  # constants discovered while generating (helpers)
            out.append(f"    {name} = ENV[{name!r}]")
        out.extend(body)
        out.append("    FUNCS = {" + ", ".join(f"{e}: f_{e}" for e in entries) + "}")
        out.append("    return FUNCS")
        return "\n".join(out) + "\n"

    def env_names(self) -> set[str]:
        base = {
            **{f"U{n}": f for n, f in LOAD_UNSIGNED.items()},
            **{f"I{n}": f for n, f in LOAD_SIGNED.items()},
            **{f"P{n}": f for n, f in STORE.items()},
            "SDIV": sdiv, "SMOD": smod, "BSWAP": bswap, "SEXT": sext,
        }
        self.env.update(base)
        return set()

    def function(self, start: int, stop: int) -> list[str]:
        slots = [s for s in sorted(self.by_slot) if start <= s < stop]
        leaders = {start}
        uses_may_goto = False
        has_jumps = False
        for s in slots:
            insn = self.by_slot[s]
            if insn.is_jump:
                t = self.target(s, insn)
                if not start <= t < stop:
                    raise VMError(f"jump from slot {s} leaves its function (to slot {t})", pc=s, program=self.name)
                leaders.add(t)
                has_jumps = True
                if insn.opcode & CODE_MASK == JmpOp.JCOND:
                    uses_may_goto = True
        blocks: list[tuple[int, list[int]]] = []
        for s in slots:
            if s in leaders:
                blocks.append((s, []))
            blocks[-1][1].append(s)
        ind = " " * 8
        named = _registers_named([self.by_slot[s] for s in slots])
        zeroed = [f"r{r}" for r in (0, 6, 7, 8, 9) if r in named]
        if any(self.by_slot[s].is_jump and self.target(s, self.by_slot[s]) <= s for s in slots):
            zeroed.append("n")  # back edges are counted
        lines = [f"    def f_{start}(r1, r2, r3, r4, r5, d):", f"{ind}{' = '.join(zeroed)} = 0"]
        if 10 in named:
            lines += [f"{ind}r10 = STK[d]", f"{ind}SB = M[{STACK_REGION} + d]"]
        if uses_may_goto:
            lines.append(f"{ind}mg = {MAY_GOTO_BUDGET}")
        self.reload = self.packet_locals(slots, start)
        if self.reload:
            lines.append(ind + self.reload)
        #: blocks a forward jump copies instead of dispatching to them (see exit_stub)
        self.stubs = {first: code for first, block in blocks if (code := self.exit_stub(block)) is not None}
        #: r1 still holds the entry's context pointer (see mem_load)
        self.r1_is_ctx = self.ctx_hooked and start == 0 and not any(
            self.by_slot[s].is_jump and self.target(s, self.by_slot[s]) == 0 for s in slots)
        if not has_jumps:
            code, _ = self.block(blocks[0][1], single=True)
            lines.extend(ind + c for c in code)
        else:
            lines.append(f"{ind}pc = {start}")
            lines.append(f"{ind}while True:")
            lines.extend(self.tree(blocks, 0, len(blocks), 12))
        if self.reload:  # the packet locals the code uses (see packet_locals)
            used = "; ".join([f"PK = M[{PACKET_REGION}]"] + sorted(self.packet_bounds)) if self.packet_bounds else "pass"
            lines = [line.replace(_RELOAD, used) for line in lines]
        return lines

    def packet_locals(self, slots: list[int], start: int) -> str:
        """For a function with a loop (or of an XDP program) and memory accesses through
        registers: the statement that reads the packet region's buffer and, per access size, the
        last offset such an access may start at (read at entry and after every call out that may
        change the packet), so packet accesses take one compare; :data:`_RELOAD` stands for it
        until the function's code shows which sizes it uses. "" for other functions."""
        loops = any(self.by_slot[s].is_jump and s + 1 + self.by_slot[s].jump_offset <= s for s in slots)
        reads: set[int] = set()
        writes: set[int] = set()
        for s in slots:
            insn = self.by_slot[s]
            cls, mode = insn.opcode & CLASS_MASK, insn.opcode & MODE_MASK
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            if cls == InsnClass.LDX and insn.src != 10 and mode in (Mode.MEM, Mode.MEMSX):
                reads.add(size)
            elif cls in (InsnClass.ST, InsnClass.STX) and insn.dst != 10 and mode == Mode.MEM:
                writes.add(size)
        if not (loops or self.ctx_hooked) or not (reads or writes):  # XDP: most accesses are the packet's
            return ""
        self.packet_bounds = set()  # filled by mem_load/mem_store; function() puts them in place of _RELOAD
        return _RELOAD

    def tree(self, blocks: list[tuple[int, list[int]]], lo: int, hi: int, indent: int) -> list[str]:
        pad = " " * indent
        if hi - lo == 1:
            code, _ = self.block(blocks[lo][1], single=False)
            return [pad + c for c in code]
        mid = (lo + hi) // 2
        return ([f"{pad}if pc < {blocks[mid][0]}:"] + self.tree(blocks, lo, mid, indent + 4)
                + [f"{pad}else:"] + self.tree(blocks, mid, hi, indent + 4))

    def block(self, slots: list[int], *, single: bool) -> tuple[list[str], bool]:
        """A block's code. A block that jumps back to its own start (a loop) runs inside its
        own ``while`` loop: the back edge is a ``continue`` of it, every other exit a ``break``
        to the dispatcher (with ``pc`` set)."""
        self.loop_start = None
        self.block_slots = slots
        self.values = {}
        self.stored = {}
        self.stack_temps = any(self.by_slot[s].is_call for s in slots)
        self.r1_is_ctx = self.r1_is_ctx and slots[0] == 0
        if not single and any(
            self.by_slot[s].is_jump and s + 1 + self.by_slot[s].jump_offset == slots[0] for s in slots
        ):
            self.loop_start = slots[0]
        code: list[str] = []
        for k, s in enumerate(slots):
            insn = self.by_slot[s]
            if self.count:
                code.append("IC[0] += 1")
            elif k + 1 < len(slots) and _fusable(insn, self.by_slot[slots[k + 1]]):
                self.copied = f"r{insn.src}"  # emitted with the next instruction
                self.track_values(insn)
                self.track_stack(insn)
                continue
            code.extend(self.insn(s, insn, single))
            self.copied = None
            self.track_values(insn)
            self.track_stack(insn)
            if 1 in written(insn):
                self.r1_is_ctx = False
        last = self.by_slot[slots[-1]]
        ends = last.is_exit or (last.is_jump and last.opcode in (InsnClass.JMP | JmpOp.JA, InsnClass.JMP32 | JmpOp.JA))
        if not ends:
            nxt = slots[-1] + last.slots
            if single or nxt >= self.end or nxt not in self.by_slot:
                code.append(f"raise VMError('execution falls off the end of the function after slot {slots[-1]}', pc={slots[-1]})")
                self.env["VMError"] = VMError
            elif nxt in self.stubs:
                code.extend(self.stubs[nxt])
            else:
                code.append(f"pc = {nxt}")
                if self.loop_start is not None:
                    code.append("break")
        if self.loop_start is not None:
            code = ["while True:"] + ["    " + c for c in code]
            self.loop_start = None
        return code, ends

    def exit_stub(self, slots: list[int]) -> list[str] | None:
        """The code of a short block that computes r0 and exits (``r0 = 2; exit``), which a
        forward jump runs in place instead of going through the dispatcher; None for others."""
        insns = [self.by_slot[s] for s in slots]
        if len(insns) > 4 or not insns[-1].is_exit or any(
                (i.opcode & CLASS_MASK) not in (InsnClass.ALU, InsnClass.ALU64) and not i.is_ld_imm64
                or self.register_problem(i.opcode & CLASS_MASK, i) for i in insns[:-1]):
            return None
        code: list[str] = []
        for s, insn in zip(slots, insns):
            if self.count:
                code.append("IC[0] += 1")
            code.extend(self.insn(s, insn, False))
        return code

    def jump(self, src: int, dst: int) -> list[str]:
        """Statements that transfer control to slot ``dst`` (from a multi-block function)."""
        if dst > src and dst in self.stubs:
            return list(self.stubs[dst])
        exit_stmt = "continue" if self.loop_start is None else "break"
        if dst <= src:  # a back edge: count it
            limit = getattr(self.rt, "back_edge_limit", BACK_EDGE_LIMIT)
            if dst == self.loop_start:  # to the start of this loop block: stay in its loop
                return ["n += 1", f"if n > {limit}: LIM({src}, {limit})", "continue"]
            return ["n += 1", f"if n > {limit}: LIM({src}, {limit})", f"pc = {dst}", exit_stmt]
        return [f"pc = {dst}", exit_stmt]

    # ---- one instruction -------------------------------------------------------------

    def insn(self, pc: int, insn: Instruction, single: bool) -> list[str]:
        cls = insn.opcode & CLASS_MASK
        problem = self.register_problem(cls, insn)
        if problem:
            return [self.bad(pc, insn, problem)]
        handler = _CLASS_HANDLERS.get(cls)
        assert handler is not None
        self.keeps_packet = False
        lines = handler(self, pc, insn)
        if self.reload and calls_out(insn) and not self.keeps_packet:  # Python code ran: the packet may have changed
            lines.append(self.reload)
        return lines

    @staticmethod
    def register_problem(cls: int, insn: Instruction) -> str:
        """Why the instruction's registers are invalid ("" if they are fine): registers above
        r10, and writes to the read-only frame pointer r10."""
        if insn.dst > 10:
            return f"register r{insn.dst} does not exist"
        uses_src = (cls in (InsnClass.LDX, InsnClass.STX)
                    or (cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.JMP, InsnClass.JMP32)
                        and insn.opcode & SOURCE_MASK and (insn.opcode & CODE_MASK) not in (JmpOp.CALL, JmpOp.EXIT))
                    or (cls == InsnClass.LD and insn.opcode & MODE_MASK == Mode.IND))
        if uses_src and insn.src > 10:
            return f"register r{insn.src} does not exist"
        writes_dst = cls in (InsnClass.ALU, InsnClass.ALU64, InsnClass.LDX) or insn.is_ld_imm64
        if writes_dst and insn.dst == 10:
            return "r10 (the frame pointer) is read-only"
        if (cls == InsnClass.STX and insn.opcode & MODE_MASK == Mode.ATOMIC and insn.src == 10
                and insn.imm & 1):
            return "an atomic fetch into r10 (the frame pointer is read-only)"
        return ""

    def alu(self, pc: int, insn: Instruction) -> list[str]:
        is64 = (insn.opcode & CLASS_MASK) == InsnClass.ALU64
        op = insn.opcode & CODE_MASK
        d = f"r{insn.dst}"
        x = insn.opcode & SOURCE_MASK == Source.X
        if insn.dst > 10 or (x and insn.src > 10):
            return [self.bad(pc, insn, "a register above r10")]
        if x:
            s = f"r{insn.src}"
        else:
            s = str(insn.imm & (M64 if is64 else M32))
        mask = "0xFFFFFFFFFFFFFFFF" if is64 else "0xFFFFFFFF"
        bits = 64 if is64 else 32
        if op == AluOp.MOV:
            if insn.off in (8, 16, 32) and x:
                if not is64 and insn.off == 32:
                    return [self.bad(pc, insn, "movsx32 with a 32-bit offset")]
                return [f"{d} = SEXT({s}, {insn.off}) & {mask}"]
            if insn.off:
                return [self.bad(pc, insn, f"mov with offset {insn.off}")]
            return [f"{d} = {s}" if (is64 or not x) else f"{d} = {s} & 0xFFFFFFFF"]
        if op == AluOp.END:
            nbytes = insn.imm // 8
            if insn.imm not in (16, 32, 64):
                return [self.bad(pc, insn, f"byte swap of {insn.imm} bits")]
            if is64 or (insn.opcode & SOURCE_MASK):  # bswap (ALU64) or to big-endian
                return [f"{d} = BSWAP({d}, {nbytes})"]
            return [f"{d} = {d} & {(1 << insn.imm) - 1}"]
        if op in (AluOp.DIV, AluOp.MOD):
            if insn.off not in (0, 1):
                return [self.bad(pc, insn, f"division with offset {insn.off}")]
            if insn.off == 1:
                fn = "SDIV" if op == AluOp.DIV else "SMOD"
                return [f"{d} = {fn}({d}, {s}, {bits})"]
            a = d if is64 else f"({d} & 0xFFFFFFFF)"
            b = s if (is64 or not x) else f"({s} & 0xFFFFFFFF)"
            if op == AluOp.DIV:
                if not x:
                    return [f"{d} = {a} // {b}" if int(s) else f"{d} = 0"]
                return [f"{d} = {a} // {b} if {b} else 0"]
            if not x:
                return [f"{d} = {a} % {b}" if int(s) else f"{d} = {a}"]
            return [f"{d} = {a} % {b} if {b} else {a}"]
        table = _ALU64 if is64 else _ALU32
        tmpl = table.get(op)
        if tmpl is None or insn.off or (op == AluOp.NEG and x):
            return [self.bad(pc, insn, "an unknown ALU operation")]
        a = d
        if self.copied is not None:  # the mov just before, fused: rD = rS; rD op= X -> rD = rS op X
            a = self.copied
            s = a if s == d else s
            if a == "r10" and not x and op in (AluOp.ADD, AluOp.SUB):  # a stack address: never wraps
                delta = insn.imm if op == AluOp.ADD else -insn.imm
                return [f"{d} = r10 {'-' if delta < 0 else '+'} {abs(delta)}"]
        return [tmpl.format(d=d, a=a, s=s)]

    def jmp(self, pc: int, insn: Instruction) -> list[str]:
        cls = insn.opcode & CLASS_MASK
        op = insn.opcode & CODE_MASK
        if op == JmpOp.EXIT:
            if not insn.is_exit:
                return [self.bad(pc, insn, "an invalid exit")]
            return ["return r0"]
        if op == JmpOp.CALL:
            if insn.opcode == CALLX:
                return self.callx(pc, insn)
            if not insn.is_call:
                # the JIT words it the same way (tiers give identical errors)
                return [self.bad(pc, insn, "an invalid call (no call of this encoding exists)")]
            return self.call(pc, insn)
        if op == JmpOp.JA:
            return self.jump(pc, self.target(pc, insn))
        if op == JmpOp.JCOND:
            if cls != InsnClass.JMP or insn.src or insn.opcode & SOURCE_MASK:
                return [self.bad(pc, insn, "an invalid may_goto")]
            return ["mg -= 1", "if mg < 0:"] + ["    " + c for c in self.jump(pc, self.target(pc, insn))]
        tmpl = _CMP.get(op)
        if tmpl is None:
            return [self.bad(pc, insn, "an unknown jump operation")]
        x = insn.opcode & SOURCE_MASK == Source.X
        is64 = cls == InsnClass.JMP
        a = f"r{insn.dst}"
        b = f"r{insn.src}" if x else None
        signed = op in _SIGNED_JMP
        if is64:
            if b is None:
                b = str(insn.imm & M64)
                if signed:
                    a, b = f"({a} ^ 0x8000000000000000)", str((insn.imm & M64) ^ S63)
            elif signed:
                a, b = f"({a} ^ 0x8000000000000000)", f"({b} ^ 0x8000000000000000)"
        else:
            a = f"({a} & 0xFFFFFFFF)"
            if b is None:
                b = str(insn.imm & M32)
                if signed:
                    a, b = f"({a} ^ 0x80000000)", str((insn.imm & M32) ^ S31)
            else:
                b = f"({b} & 0xFFFFFFFF)"
                if signed:
                    a, b = f"({a} ^ 0x80000000)", f"({b} ^ 0x80000000)"
        cond = tmpl.format(a=a, b=b)
        return [f"if {cond}:"] + ["    " + c for c in self.jump(pc, self.target(pc, insn))]

    def call(self, pc: int, insn: Instruction) -> list[str]:
        if insn.src == CallSrc.CALL:
            t = pc + 1 + insn.imm
            return [f"if d >= {MAX_CALL_FRAMES - 1}: DEPTH({pc})",
                    f"r0 = f_{t}(r1, r2, r3, r4, r5, d + 1)"]
        if insn.src != CallSrc.HELPER:
            name = self.const(f"h_kfunc_{insn.imm & M32}", self.rt.kfunc(insn.imm, pc))
            return [f"r0 = {name}(r1, r2, r3, r4, r5) & 0xFFFFFFFFFFFFFFFF"]
        hid = insn.imm
        if hid == TAIL_CALL_HELPER:
            return [f"t = TAIL(r1, r2, r3, {pc})", "if t is not None: return t(r1, 0, 0, 0, 0, d)"]
        fn = self.rt.helper(hid, pc)
        name = self.const(f"h_{hid & M32}", fn)
        bound = self.bound_map_helper(pc, hid, fn)
        if bound is not None:
            self.keeps_packet = True  # map operations leave the packet alone
            if hid == LOOKUP:
                fast = self.table_lookup(pc, bound)
                if fast is not None:
                    return fast
            return [f"r0 = {bound}(r2, r3, r4, r5)"]
        if hid in CALLBACK_HELPERS:
            return [f"r0 = {name}(r1, r2, r3, r4, r5, d) & 0xFFFFFFFFFFFFFFFF"]
        return [f"r0 = {name}(r1, r2, r3, r4, r5) & 0xFFFFFFFFFFFFFFFF"]

    def callx(self, pc: int, insn: Instruction) -> list[str]:
        """``callx rN``: a BPF-to-BPF call through a function pointer (``ld_imm64 src=FUNC``).
        The kernel's verifier rejects it; compilers emit it for indirect calls."""
        reg = callx_register(insn)
        if reg is None:
            return [self.bad(pc, insn, INVALID_CALLX)]
        self.env["VMError"] = VMError
        return [f"if d >= {MAX_CALL_FRAMES - 1}: DEPTH({pc})",
                f"g = FUNCS.get(r{reg} ^ {FUNC_TAG:#x})",
                f"if g is None: raise VMError({callx_not_a_function(reg)!r}, pc={pc})",
                "r0 = g(r1, r2, r3, r4, r5, d + 1)"]

    def bad(self, pc: int, insn: Instruction, what: str) -> str:
        self.env["VMError"] = VMError
        return (f"raise VMError({('invalid instruction ' + repr(insn.to_bytes().hex()) + ': ' + what)!r}, "
                f"pc={pc})")

    def stack_offset(self, pc: int, base: str, off: int, size: int, what: str) -> int | str:
        """For an access through r10: the offset in the frame's buffer, or a raise statement
        when it is outside the 512-byte frame (known statically: r10 never changes)."""
        if -STACK_SIZE <= off and off + size <= 0:
            return STACK_SIZE + off
        self.env["VMError"] = VMError
        return (f"raise VMError('{what} of {size} bytes at r10{off:+d} is outside the {STACK_SIZE}-byte stack "
                f"frame', pc={pc})")

    def mem_load(self, pc: int, dst: str, base: str, off: int, size: int, signed: bool) -> list[str]:
        if base == "r10":
            where = self.stack_offset(pc, base, off, size, "read")
            if isinstance(where, str):
                return [where]
            if size == 1 and not signed:
                return [f"{dst} = SB[{where}]"]
            tail = " & 0xFFFFFFFFFFFFFFFF" if signed else ""
            return [f"{dst} = {'I' if signed else 'U'}{size}(SB, {where})[0]{tail}"]
        addr = f"{base} + {off}" if off else base
        words = self.value_words(base, off, size, write=False)
        if words is not None:
            return [f"{dst} = {words}[{off // 8}]"]
        buf = self.value_buffer(base, off, size, write=False)
        if buf is not None:  # a map value the access is known to fit in
            if size == 1 and not signed:
                return [f"{dst} = {buf}[{off}]"]
            return [f"{dst} = {'I' if signed else 'U'}{size}({buf}, {off})[0]{' & 0xFFFFFFFFFFFFFFFF' if signed else ''}"]
        if base == "r1" and self.r1_is_ctx and not signed:  # a context field: the hook computes it
            if size == 4:  # remembered while the regions stay the same (see fastpaths.context_loader)
                return [f"{dst} = CX.get({addr}) or SL(({addr}) & 0xFFFFFFFFFFFFFFFF, 4, {pc})"]
            return [f"{dst} = SL(({addr}) & 0xFFFFFFFFFFFFFFFF, {size}, {pc})"]
        unpack = f"I{size}" if signed else f"U{size}"
        tail = " & 0xFFFFFFFFFFFFFFFF" if signed else ""
        byte = size == 1 and not signed  # indexing a bytearray gives the byte without a tuple
        slow = f"SLX(a & 0xFFFFFFFFFFFFFFFF, {size}, {pc})" if signed else f"SL(a & 0xFFFFFFFFFFFFFFFF, {size}, {pc})"
        if self.reload:  # the packet first (see packet_locals)
            self.packet_bounds.add(f"PR{size} = L[{PACKET_REGION}] - {size}")
            return [
                f"if 0 <= (o := {base} - {PACKET_BASE - off}) <= PR{size}: "
                f"{dst} = {'PK[o]' if byte else f'{unpack}(PK, o)[0]{tail}'}",
                f"elif 0 <= (a := {addr}) < TOP and (o := a & 0xFFFFFFFF) + {size} <= L[(i := a >> 32)]: "
                f"{dst} = {'M[i][o]' if byte else f'{unpack}(M[i], o)[0]{tail}'}",
                f"else: {dst} = {slow}",  # a load hook computes a value; it does not remap regions
            ]
        return [
            f"a = {addr}",
            f"if 0 <= a < TOP and (o := a & 0xFFFFFFFF) + {size} <= L[(i := a >> 32)]: "
            f"{dst} = {'M[i][o]' if byte else f'{unpack}(M[i], o)[0]{tail}'}",
            f"else: {dst} = {slow}",
        ]

    def mem_store(self, pc: int, base: str, off: int, size: int, value: str) -> list[str]:
        if base == "r10":
            where = self.stack_offset(pc, base, off, size, "write")
            if isinstance(where, str):
                return [where]
            if self.stack_temps and value.startswith("r") and not value.startswith("r10"):  # see track_stack
                return [f"s{where} = {value}; P{size}(SB, {where}, s{where})"]
            return [f"P{size}(SB, {where}, {value})"]
        addr = f"{base} + {off}" if off else base
        words = self.value_words(base, off, size, write=True)
        if words is not None:
            return [f"{words}[{off // 8}] = {value}"]
        buf = self.value_buffer(base, off, size, write=True)
        if buf is not None:  # a map value the access is known to fit in
            return [f"P{size}({buf}, {off}, {value})"]
        if self.reload:  # the packet first (see packet_locals)
            self.packet_bounds.add(f"PW{size} = W[{PACKET_REGION}] - {size}")
            return [
                f"if 0 <= (o := {base} - {PACKET_BASE - off}) <= PW{size}: P{size}(PK, o, {value})",
                f"elif 0 <= (a := {addr}) < TOP and (o := a & 0xFFFFFFFF) + {size} <= W[(i := a >> 32)]: "
                f"P{size}(M[i], o, {value})",
                f"else: SS(a & 0xFFFFFFFFFFFFFFFF, {size}, {value}, {pc}); {self.reload}",
            ]
        return [
            f"a = {addr}",
            f"if 0 <= a < TOP and (o := a & 0xFFFFFFFF) + {size} <= W[(i := a >> 32)]: P{size}(M[i], o, {value})",
            f"else: SS(a & 0xFFFFFFFFFFFFFFFF, {size}, {value}, {pc})",
        ]

    def ldx(self, pc: int, insn: Instruction) -> list[str]:
        mode = insn.opcode & MODE_MASK
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        if mode not in (Mode.MEM, Mode.MEMSX) or (mode == Mode.MEMSX and size == 8):
            return [self.bad(pc, insn, "an unknown load mode")]
        return self.mem_load(pc, f"r{insn.dst}", f"r{insn.src}", insn.off, size, mode == Mode.MEMSX)

    def st(self, pc: int, insn: Instruction) -> list[str]:
        if insn.opcode & MODE_MASK != Mode.MEM:
            return [self.bad(pc, insn, "an unknown store mode")]
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        return self.mem_store(pc, f"r{insn.dst}", insn.off, size, str(insn.imm & ((1 << (size * 8)) - 1)))

    def stx(self, pc: int, insn: Instruction) -> list[str]:
        mode = insn.opcode & MODE_MASK
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        if mode == Mode.MEM:
            value = f"r{insn.src}" if size == 8 else f"r{insn.src} & {(1 << (size * 8)) - 1}"
            return self.mem_store(pc, f"r{insn.dst}", insn.off, size, value)
        if mode != Mode.ATOMIC:
            return [self.bad(pc, insn, "an unknown store mode")]
        try:
            op = AtomicOp(insn.imm)
        except ValueError:
            return [self.bad(pc, insn, f"an unknown atomic operation {insn.imm:#x}")]
        addr = f"r{insn.dst} + {insn.off}" if op != AtomicOp.LOAD_ACQUIRE else f"r{insn.src} + {insn.off}"
        call = f"AT({addr}, {size}, {int(op)}, r{insn.src}, r0, r{insn.dst}, {pc})"
        inline = _INLINE_ATOMIC.get(op & ~1)
        if inline is not None and insn.src != 10:
            # plain writable memory: read-modify-write in place (Runtime.atomic's own fast path)
            src, mask = f"r{insn.src}", (1 << (size * 8)) - 1
            words = self.value_words(f"r{insn.dst}", insn.off, size, write=True)
            fetch = f"; {src} = t" if op.fetch else ""
            if words is not None:
                self.keeps_packet = True
                k = insn.off // 8
                return [f"V = {words}; t = V[{k}]; V[{k}] = (t {inline} {src}) & {mask}{fetch}"]
            buf = self.value_buffer(f"r{insn.dst}", insn.off, size, write=True)
            if buf is not None:  # a map value the access is known to fit in
                self.keeps_packet = True
                update = f"P{size}(B, {insn.off}, (t {inline} {src}) & {mask})"
                return [f"B = {buf}; t = U{size}(B, {insn.off})[0]; {update}" + (f"; {src} = t" if op.fetch else "")]
            update = f"P{size}(M[i], o, (t {inline} {src}) & {mask})"
            done = f"{update}; {src} = t" if op.fetch else update
            return [
                f"a = r{insn.dst} + {insn.off}" if insn.off else f"a = r{insn.dst}",
                f"if 0 <= a < TOP and (o := a & 0xFFFFFFFF) + {size} <= W[(i := a >> 32)]: "
                f"t = U{size}(M[i], o)[0]; {done}",
                f"else: {src + ' = ' if op.fetch else ''}{call}",
            ]
        if op == AtomicOp.CMPXCHG:
            return [f"r0 = {call}"]
        if op == AtomicOp.LOAD_ACQUIRE:
            return [f"r{insn.dst} = {call}"]
        if op.fetch:
            return [f"r{insn.src} = {call}"]
        return [call]

    def ld(self, pc: int, insn: Instruction) -> list[str]:
        mode = insn.opcode & MODE_MASK
        if insn.is_ld_imm64:
            value = self.resolve_ld64(insn, pc)
            return [f"r{insn.dst} = {value}"]
        if mode in (Mode.ABS, Mode.IND):
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            off = f"r{insn.src} + {insn.imm}" if mode == Mode.IND else str(insn.imm)
            return [f"v = LDABS({off}, {size}, {pc})", "if v is None: return 0",
                    "r0 = v", "r1 = r2 = r3 = r4 = r5 = 0"]
        return [self.bad(pc, insn, "an unknown LD instruction")]


_CLASS_HANDLERS: dict[int, Callable[[_Gen, int, Instruction], list[str]]] = {
    InsnClass.ALU: _Gen.alu,
    InsnClass.ALU64: _Gen.alu,
    InsnClass.JMP: _Gen.jmp,
    InsnClass.JMP32: _Gen.jmp,
    InsnClass.LDX: _Gen.ldx,
    InsnClass.ST: _Gen.st,
    InsnClass.STX: _Gen.stx,
    InsnClass.LD: _Gen.ld,
}


#: stands for the statement that reads the packet locals until a function's code is complete
_RELOAD = "<reload packet locals>"

#: atomic operations the generated code does in place on plain memory (and their fetch forms)
_INLINE_ATOMIC: dict[int, str] = {AtomicOp.ADD: "+", AtomicOp.OR: "|", AtomicOp.AND: "&", AtomicOp.XOR: "^"}


def _fusable(mov: Instruction, nxt: Instruction) -> bool:
    """``mov rD, rS`` followed by a 64-bit ALU operation on rD: generated as one statement."""
    return (mov.opcode == InsnClass.ALU64 | AluOp.MOV | Source.X and not mov.off and mov.dst < 10
            and mov.src <= 10 and nxt.opcode & CLASS_MASK == InsnClass.ALU64 and nxt.dst == mov.dst
            and (nxt.opcode & CODE_MASK) in _ALU64 and not nxt.off
            and (nxt.opcode & SOURCE_MASK == Source.K or (nxt.src <= 10 and nxt.opcode & CODE_MASK != AluOp.NEG)))


def _registers_named(insns: list[Instruction]) -> set[int]:
    """Every register an instruction of ``insns`` names (as dst, src or callx target), and r0."""
    named = {0}
    for insn in insns:
        named.update((insn.dst, insn.src))
        if insn.opcode == CALLX:
            named.add(insn.imm)
    return named






def _limit(pc: int, limit: int = BACK_EDGE_LIMIT) -> None:
    raise VMError(f"the program took more than {limit} back edges in one function call; "
                  "it does not terminate (the kernel's verifier would reject it)", pc=pc)


def _depth(pc: int) -> None:
    raise VMError(f"BPF-to-BPF calls nest deeper than {MAX_CALL_FRAMES} frames", pc=pc)


def compile_program(name: str, insns: list[Instruction], runtime: Runtime,
                    resolve_ld64: Callable[[Instruction, int], int], *,
                    counter: list[int] | None = None, prog_type: ProgramType | None = None) -> CompiledProgram:
    """Translate ``insns`` (relocated: maps are handles) into Python functions over ``runtime``.

    With ``counter`` (a one-element list) every executed instruction adds 1 to ``counter[0]``
    (slower; for measuring how many instructions a run executes). ``prog_type``: XDP programs
    remember the context fields the ``xdp_md`` hook computes (:func:`~pybpf.vm.fastpaths.context_loader`)."""
    if not insns:
        raise VMError("the program has no instructions", program=name)
    gen = _Gen(name, insns, runtime, resolve_ld64, count=counter is not None)
    gen.ctx_hooked = prog_type == ProgramType.XDP
    mem = runtime.memory
    slow_load: Callable[[int, int, int], int] = mem.slow_load
    if gen.ctx_hooked:
        slow_load, gen.env["CX"] = context_loader(mem, mem.slow_load)
    if counter is not None:
        gen.env["IC"] = counter
    try:
        source = gen.generate()
    except VMError as exc:
        if not exc.program:
            raise VMError(exc.detail, pc=exc.pc, address=exc.address, program=name) from None
        raise
    code = compile(source, f"<bpf program {name}>", "exec")
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - our own generated source
    stack_tops = [((STACK_REGION + depth) << 32) + STACK_SIZE for depth in range(MAX_CALL_FRAMES)]
    functions = namespace["_factory"](  # type: ignore[operator]
        mem.bufs, mem.rlen, mem.wlen, mem.top, slow_load, runtime.slow_load_signed,
        mem.slow_store, runtime.atomic, runtime.ld_abs, runtime.tail_call_target, stack_tops,
        _limit, _depth, gen.env,
    )
    log.debug("compiled %s: %d instructions, %d functions", name, len(insns), len(functions))
    tail_calls = any(i.is_call and i.src == CallSrc.HELPER and i.imm == TAIL_CALL_HELPER for i in insns)
    return CompiledProgram(name, functions[0], functions, source, len(insns), gen.by_slot, tail_calls=tail_calls)
