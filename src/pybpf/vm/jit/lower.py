"""eBPF instructions -> LLVM IR for the host, with the interpreter's semantics exactly.

One LLVM function per BPF function (the entry and every BPF-to-BPF callee / callback), the
eleven registers as allocas (``mem2reg`` turns them into SSA values), one basic block per
instruction slot. No undefined behaviour is left to LLVM: divisions check for zero and
``INT_MIN / -1`` with selects, shift counts are masked, loads and stores are ``align 1``.
Memory goes through the region table of :mod:`pybpf.vm.jit.abi`; helpers, faults and special
regions call back into Python. Whatever the interpreter reports at run time (an invalid
instruction reached, a runaway loop, calls nested too deep) becomes a *static error* with the
same message.

Anything this module cannot lower raises :class:`JitUnsupported`; the program then runs in the
interpreter (which also reports compile-time errors such as a jump out of a function).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from llvmlite import ir

from ...errors import BPFError
from ...isa import Instruction
from ...isa.opcodes import (
    CLASS_MASK, CODE_MASK, MODE_MASK, SIZE_BYTES, SIZE_MASK, SOURCE_MASK, AluOp, AtomicOp, CallSrc,
    InsnClass, JmpOp, Mode, PseudoSrc, Size, Source,
)
from ..interpreter import _Gen, BACK_EDGE_LIMIT, MAY_GOTO_BUDGET, TAIL_CALL_HELPER, CALLBACK_HELPERS
from ..interpreter import CALLX, FUNC_TAG, INVALID_CALLX, KFUNC_HELPER_BASE, callx_not_a_function, callx_register
from ..memory import CTX_REGION, MAX_CALL_FRAMES, STACK_REGION, STACK_SIZE
from .abi import CTX_CACHE_ENTRIES, ENTRY_WORDS, ERR_STATIC, EnvSlot, SlowKind, thunk_symbol
from .fastmaps import FAST_HELPERS, FastHelpers
from .packet import PacketWindow

__all__ = ["JitUnsupported", "LoweredProgram", "lower_program", "StaticError", "REPEAT_SYMBOL"]

#: the native repeat loop of every module (see _Lowerer.repeat_loop)
REPEAT_SYMBOL = "bpf_repeat"

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
P8 = I8.as_pointer()
P64 = I64.as_pointer()
INT = {1: I8, 2: I16, 4: I32, 8: I64}
CALLBACK_T = ir.FunctionType(I64, [])
THUNK_T = ir.FunctionType(I64, [P8])
FUNC_T = ir.FunctionType(I64, [P8] + [I64] * 6)


class JitUnsupported(BPFError):
    """The program uses something the JIT does not lower (it runs in the interpreter instead)."""


@dataclass(frozen=True)
class StaticError:
    """An error the generated code reports by number: ``kind`` is "invalid", "limit", "depth"
    or "message"; ``pc`` the instruction slot."""

    kind: str
    message: str
    pc: int


@dataclass
class LoweredProgram:
    """The LLVM module of one program and what its Python side needs to know."""

    module: ir.Module
    entries: list[int]
    errors: list[StaticError] = field(default_factory=list)
    helper_ids: set[int] = field(default_factory=set)

    @staticmethod
    def symbol(slot: int) -> str:
        return f"bpf_f{slot}"


def _c(value: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, value & ((1 << ty.width) - 1))


class _Func:
    """Lowering state of one BPF function."""

    def __init__(self, prog: _Lowerer, start: int, stop: int) -> None:
        self.p = prog
        self.start, self.stop = start, stop
        self.fn: ir.Function = prog.functions[start]
        self.slots = [s for s in prog.slot_list if start <= s < stop]
        fn = self.fn
        entry = fn.append_basic_block("entry")
        self.blocks = {s: fn.append_basic_block(f"i{s}") for s in self.slots}
        self.bail = fn.append_basic_block("bail")
        b = self.b = ir.IRBuilder(entry)
        self.env = b.bitcast(fn.args[0], P64, name="envp")
        self.depth = fn.args[6]
        self.regs = [b.alloca(I64, name=f"r{i}") for i in range(11)]
        self.n = b.alloca(I64, name="n")
        self.mg = b.alloca(I64, name="mg")
        for i in (0, 6, 7, 8, 9):
            b.store(_c(0), self.regs[i])
        for i in range(1, 6):
            b.store(fn.args[i], self.regs[i])
        b.store(_c(0), self.n)
        b.store(_c(MAY_GOTO_BUDGET), self.mg)
        rid = b.add(self.depth, _c(STACK_REGION))
        b.store(b.add(b.shl(rid, _c(32)), _c(STACK_SIZE)), self.regs[10])
        table_addr = self.field(EnvSlot.TABLE)
        self.table = b.inttoptr(table_addr, P64, name="table")
        self.capacity = self.field(EnvSlot.CAPACITY)
        stack_host = b.load(b.gep(self.table, [b.mul(rid, _c(ENTRY_WORDS))]))
        self.stack = b.inttoptr(stack_host, P8, name="stack")
        self.pkt = PacketWindow(self)
        b.branch(self.blocks[start])
        ib = ir.IRBuilder(self.bail)
        ib.ret(_c(0))

    # ---- small pieces ------------------------------------------------------------------

    def field(self, slot: EnvSlot) -> ir.Value:
        return self.b.load(self.b.gep(self.env, [_c(int(slot))]))

    def set_field(self, slot: EnvSlot, value: ir.Value) -> None:
        self.b.store(value, self.b.gep(self.env, [_c(int(slot))]))

    def reg(self, i: int) -> ir.Value:
        return self.b.load(self.regs[i])

    def set_reg(self, i: int, v: ir.Value) -> None:
        self.b.store(v, self.regs[i])

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)

    def check_err(self) -> None:
        """After a call out: return at once when an error is pending; else re-read what Python
        may have changed (the packet's table entry)."""
        err = self.field(EnvSlot.ERR)
        cont = self.new_block("ok")
        self.b.cbranch(self.b.icmp_unsigned("!=", err, _c(0)), self.bail, cont)
        self.b.position_at_end(cont)
        self.pkt.reload()

    def fail(self, kind: str, message: str, pc: int) -> None:
        """Terminate the current block with static error ``kind``."""
        code = self.p.error(kind, message, pc)
        self.set_field(EnvSlot.ERR, _c(ERR_STATIC + code))
        self.b.ret(_c(0))

    def callback(self, slot: EnvSlot, args: list[ir.Value]) -> ir.Value:
        """Call back into Python: the arguments go to ``env[ARGS..]``."""
        for i, arg in enumerate(args):
            self.b.store(arg, self.b.gep(self.env, [_c(EnvSlot.ARGS + i)]))
        ptr = self.b.inttoptr(self.field(slot), CALLBACK_T.as_pointer())
        return self.b.call(ptr, [])

    def fast_or_python(self, ok: ir.Value, fast: ir.Value | Callable[[], ir.Value], slot: EnvSlot,
                       args: list[ir.Value], name: str) -> ir.Value:
        """The value of a native fast path where ``ok`` holds, else of a call back into Python
        through ``env[slot]`` with ``args`` (a pending error then returns at once), merged by a
        phi. ``fast`` is a value already computed (``ok`` then branches straight to the merge)
        or emits the fast path into a block of its own (``{name}_fast``) and returns its value."""
        b = self.b
        if callable(fast):
            fast_block = self.new_block(f"{name}_fast")
            slow, done = self.new_block(f"{name}_slow"), self.new_block(f"{name}_done")
            b.cbranch(ok, fast_block, slow)
            b.position_at_end(fast_block)
            v_fast = fast()
            fast_end = b.block
            b.branch(done)
        else:
            slow, done = self.new_block(f"{name}_slow"), self.new_block(f"{name}_done")
            v_fast, fast_end = fast, b.block
            b.cbranch(ok, done, slow)
        b.position_at_end(slow)
        v_slow = self.callback(slot, args)
        self.check_err()
        slow_end = b.block
        b.branch(done)
        b.position_at_end(done)
        phi = b.phi(I64)
        phi.add_incoming(v_fast, fast_end)
        phi.add_incoming(v_slow, slow_end)
        return phi

    def goto(self, src: int, dst: int) -> None:
        """Jump to slot ``dst``, counting back edges as the interpreter does."""
        if dst <= src:
            b = self.b
            n = b.add(b.load(self.n), _c(1))
            b.store(n, self.n)
            over = self.new_block("runaway")
            go = self.new_block("back")
            b.cbranch(b.icmp_unsigned(">", n, _c(self.p.back_edge_limit)), over, go)
            b.position_at_end(over)
            self.fail("limit", str(self.p.back_edge_limit), src)
            b.position_at_end(go)
        self.b.branch(self.blocks[dst])

    # ---- memory ------------------------------------------------------------------------

    def host_ptr(self, addr: ir.Value, size: int, length_word: int) -> tuple[ir.Value, ir.Value]:
        """(in-bounds condition, host pointer) for ``size`` bytes at ``addr``."""
        b = self.b
        rid = b.lshr(addr, _c(32))
        inside = b.icmp_unsigned("<", rid, self.capacity)
        rid = b.select(inside, rid, _c(0))
        base = b.mul(rid, _c(ENTRY_WORDS))
        length = b.load(b.gep(self.table, [b.add(base, _c(length_word))]))
        off = b.and_(addr, _c(M32))
        ok = b.icmp_unsigned("<=", b.add(off, _c(size)), length)
        host = b.load(b.gep(self.table, [base]))
        ptr = b.gep(b.inttoptr(host, P8), [off])
        return ok, b.bitcast(ptr, INT[size].as_pointer())

    def load(self, pc: int, addr: ir.Value, size: int, signed: bool) -> ir.Value:
        b = self.b
        extend = (b.sext if signed else b.zext) if size < 8 else None
        in_pkt, pkt_ptr = self.pkt.access(addr, size, write=False)
        pkt, other = self.new_block("ld_pkt"), self.new_block("ld_table")
        b.cbranch(in_pkt, pkt, other)
        b.position_at_end(pkt)
        raw = b.load(pkt_ptr, align=1)
        v_pkt = extend(raw, I64) if extend else raw
        b.position_at_end(other)
        ok, ptr = self.host_ptr(addr, size, 1)
        fast, slow, done = self.new_block("ld_fast"), self.new_block("ld_slow"), self.new_block("ld_done")
        b.cbranch(ok, fast, slow)
        b.position_at_end(pkt)
        b.branch(done)
        b.position_at_end(fast)
        raw = b.load(ptr, align=1)
        v_fast = extend(raw, I64) if extend else raw
        b.branch(done)
        b.position_at_end(slow)
        incoming = [(v_pkt, pkt), (v_fast, fast)]
        if not signed:  # a context field a hook computed earlier in this stretch of native code?
            probe, call = self.new_block("ctx_probe"), self.new_block("ld_call")
            off = b.and_(addr, _c(M32))
            cacheable = b.and_(b.icmp_unsigned("==", b.lshr(addr, _c(32)), _c(CTX_REGION)),
                               b.icmp_unsigned("==", b.and_(off, _c(~(4 * CTX_CACHE_ENTRIES - 4) & M64)), _c(0)))
            b.cbranch(cacheable, probe, call)
            b.position_at_end(probe)
            at = b.add(_c(EnvSlot.CTX_CACHE), b.lshr(off, _c(1)))  # 2 words per 4-byte field
            tag = b.load(b.gep(self.env, [at]))
            want = b.or_(b.shl(self.field(EnvSlot.GEN), _c(4)), _c(size))
            hit = self.new_block("ctx_hit")
            b.cbranch(b.icmp_unsigned("==", tag, want), hit, call)
            b.position_at_end(hit)
            incoming.append((b.load(b.gep(self.env, [b.add(at, _c(1))])), hit))
            b.branch(done)
            b.position_at_end(call)
        kind = SlowKind.LOAD_SIGNED if signed else SlowKind.LOAD
        v_slow = self.callback(EnvSlot.SLOW_FN, [_c(kind), addr, _c(size), _c(0), _c(pc)])
        self.check_err()
        incoming.append((v_slow, b.block))
        b.branch(done)
        b.position_at_end(done)
        phi = b.phi(I64)
        for value, block in incoming:
            phi.add_incoming(value, block)
        return phi

    def store(self, pc: int, addr: ir.Value, size: int, value: ir.Value) -> None:
        b = self.b
        narrow = b.trunc(value, INT[size]) if size < 8 else value
        in_pkt, pkt_ptr = self.pkt.access(addr, size, write=True)
        fast, other = self.new_block("st_pkt"), self.new_block("st_table")
        slow, done = self.new_block("st_slow"), self.new_block("st_done")
        b.cbranch(in_pkt, fast, other)
        b.position_at_end(fast)
        b.store(narrow, pkt_ptr, align=1)
        b.branch(done)
        b.position_at_end(other)
        ok, ptr = self.host_ptr(addr, size, 2)
        table = self.new_block("st_fast")
        b.cbranch(ok, table, slow)
        b.position_at_end(table)
        b.store(narrow, ptr, align=1)
        b.branch(done)
        b.position_at_end(slow)
        self.callback(EnvSlot.SLOW_FN, [_c(SlowKind.STORE), addr, _c(size), value, _c(pc)])
        self.check_err()
        b.branch(done)
        b.position_at_end(done)

    def stack_ptr(self, pc: int, off: int, size: int, what: str) -> ir.Value | None:
        """Host pointer for an r10-relative access (checked statically, like the interpreter)."""
        if -STACK_SIZE <= off and off + size <= 0:
            ptr = self.b.gep(self.stack, [_c(STACK_SIZE + off)])
            return self.b.bitcast(ptr, INT[size].as_pointer())
        self.fail("message", f"{what} of {size} bytes at r10{off:+d} is outside the {STACK_SIZE}-byte stack "
                  "frame", pc)
        return None


class _Lowerer:
    """Builds the module of one program."""

    def __init__(self, name: str, insns: list[Instruction], resolve_ld64: Callable[[Instruction, int], int],
                 triple: str, back_edge_limit: int) -> None:
        self.name = name
        self.back_edge_limit = back_edge_limit
        self.by_slot: dict[int, Instruction] = {}
        slot = 0
        for insn in insns:
            self.by_slot[slot] = insn
            slot += insn.slots
        self.end = slot
        self.slot_list = sorted(self.by_slot)
        self.resolve_ld64 = resolve_ld64
        self.module = ir.Module(name=f"bpf_{name}")
        self.module.triple = triple
        self.errors: list[StaticError] = []
        self.helper_ids: set[int] = set()
        self.functions: dict[int, ir.Function] = {}
        #: helpers with a native fast path (bpf_map_lookup_elem, bpf_map_update_elem)
        self.fast = FastHelpers(self.module)

    def repeat_loop(self) -> None:
        """``u64 bpf_repeat(env)``: run the entry ``env[ARGS + 6]`` times in native code (stops
        at the first error), for ``test_run(repeat=N)`` without a Python round trip per run."""
        fn = ir.Function(self.module, THUNK_T, REPEAT_SYMBOL)
        entry, loop, body, done = (fn.append_basic_block(n) for n in ("entry", "loop", "body", "done"))
        b = ir.IRBuilder(entry)
        envp = b.bitcast(fn.args[0], P64)
        args = [b.load(b.gep(envp, [_c(EnvSlot.ARGS + i)])) for i in range(7)]
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64)
        r0 = b.phi(I64)
        i.add_incoming(_c(0), entry)
        r0.add_incoming(_c(0), entry)
        err = b.load(b.gep(envp, [_c(EnvSlot.ERR)]))
        more = b.and_(b.icmp_unsigned("<", i, args[6]), b.icmp_unsigned("==", err, _c(0)))
        b.cbranch(more, body, done)
        b.position_at_end(body)
        value = b.call(self.functions[0], [fn.args[0], *args[:6]])
        i.add_incoming(b.add(i, _c(1)), body)
        r0.add_incoming(value, body)
        b.branch(loop)
        b.position_at_end(done)
        b.ret(r0)

    def error(self, kind: str, message: str, pc: int) -> int:
        err = StaticError(kind, message, pc)
        self.errors.append(err)
        return len(self.errors) - 1

    def entries(self) -> list[int]:
        found = {0}
        for slot, insn in self.by_slot.items():
            if insn.is_call and insn.src == CallSrc.CALL:
                found.add(slot + 1 + insn.imm)
            elif insn.is_ld_imm64 and insn.src == PseudoSrc.FUNC:
                found.add(slot + 1 + (insn.lo32 - (1 << 32) if insn.lo32 >> 31 else insn.lo32))
        for e in found:
            if e not in self.by_slot:
                raise JitUnsupported(f"a call targets slot {e}, which is not an instruction")
        return sorted(found)

    def lower(self) -> LoweredProgram:
        entries = self.entries()
        for e in entries:
            fn = ir.Function(self.module, FUNC_T, LoweredProgram.symbol(e))
            self.functions[e] = fn
        for start, stop in zip(entries, entries[1:] + [self.end]):
            self.function(start, stop)
        for e in entries:  # Python's way in: u64 thunk(env), arguments in env[ARGS..]
            thunk = ir.Function(self.module, THUNK_T, thunk_symbol(e))
            b = ir.IRBuilder(thunk.append_basic_block("entry"))
            envp = b.bitcast(thunk.args[0], P64)
            args = [b.load(b.gep(envp, [_c(EnvSlot.ARGS + i)])) for i in range(6)]
            b.ret(b.call(self.functions[e], [thunk.args[0], *args]))
        self.repeat_loop()
        return LoweredProgram(self.module, entries, self.errors, self.helper_ids)

    def function(self, start: int, stop: int) -> None:
        f = _Func(self, start, stop)
        for s in f.slots:  # bad jump targets are compile-time errors (before anything else)
            insn = self.by_slot[s]
            if insn.is_jump:
                self.target(f, s, insn)
        for s in f.slots:
            insn = self.by_slot[s]
            f.b.position_at_end(f.blocks[s])
            problem = _register_problem(insn.opcode & CLASS_MASK, insn)
            if problem:
                falls = self.bad(f, s, insn, problem)
            else:
                falls = _CLASS_HANDLERS[insn.opcode & CLASS_MASK](self, f, s, insn)
            if falls and not f.b.block.is_terminated:
                nxt = s + insn.slots
                if nxt < stop and nxt in f.blocks:
                    f.b.branch(f.blocks[nxt])
                else:
                    f.fail("message", f"execution falls off the end of the function after slot {s}", s)

    def target(self, f: _Func, slot: int, insn: Instruction) -> int:
        t = slot + 1 + insn.jump_offset
        if t not in f.blocks:
            raise JitUnsupported(f"jump from slot {slot} to slot {t} leaves its function")
        return t

    def bad(self, f: _Func, pc: int, insn: Instruction, what: str) -> bool:
        f.fail("invalid", f"invalid instruction {insn.to_bytes().hex()!r}: {what}", pc)
        return False

    # ---- ALU ---------------------------------------------------------------------------

    def alu(self, f: _Func, pc: int, insn: Instruction) -> bool:
        b = f.b
        is64 = (insn.opcode & CLASS_MASK) == InsnClass.ALU64
        op = insn.opcode & CODE_MASK
        x = insn.opcode & SOURCE_MASK == Source.X
        if insn.dst > 10 or (x and insn.src > 10):
            return self.bad(f, pc, insn, "a register above r10")
        d = f.reg(insn.dst)
        s = f.reg(insn.src) if x else _c(insn.imm & (M64 if is64 else M32))
        if op == AluOp.MOV:
            if insn.off in (8, 16, 32) and x:
                if not is64 and insn.off == 32:
                    return self.bad(f, pc, insn, "movsx32 with a 32-bit offset")
                v = b.sext(b.trunc(s, ir.IntType(insn.off)), I64)
                f.set_reg(insn.dst, v if is64 else b.and_(v, _c(M32)))
                return True
            if insn.off:
                return self.bad(f, pc, insn, f"mov with offset {insn.off}")
            f.set_reg(insn.dst, s if (is64 or not x) else b.and_(s, _c(M32)))
            return True
        if op == AluOp.END:
            if insn.imm not in (16, 32, 64):
                return self.bad(f, pc, insn, f"byte swap of {insn.imm} bits")
            ty = ir.IntType(insn.imm)
            low = b.trunc(d, ty) if insn.imm < 64 else d
            if is64 or (insn.opcode & SOURCE_MASK):
                low = b.bswap(low)
            f.set_reg(insn.dst, b.zext(low, I64) if insn.imm < 64 else low)
            return True
        if op in (AluOp.DIV, AluOp.MOD):
            if insn.off not in (0, 1):
                return self.bad(f, pc, insn, f"division with offset {insn.off}")
            ty = I64 if is64 else I32
            a = d if is64 else b.trunc(d, I32)
            c = s if is64 else b.trunc(s, I32)
            f.set_reg(insn.dst, self.divide(b, op == AluOp.DIV, insn.off == 1, a, c, ty))
            return True
        if insn.off or (op == AluOp.NEG and x) or op not in _BINOPS:
            return self.bad(f, pc, insn, "an unknown ALU operation")
        if is64:
            f.set_reg(insn.dst, _BINOPS[op](b, d, s, 64))
        else:
            v = _BINOPS[op](b, b.trunc(d, I32), b.trunc(s, I32), 32)
            f.set_reg(insn.dst, b.zext(v, I64))
        return True

    @staticmethod
    def divide(b: ir.IRBuilder, div: bool, signed: bool, a: ir.Value, c: ir.Value, ty: ir.IntType) -> ir.Value:
        zero = b.icmp_unsigned("==", c, _c(0, ty))
        if signed:
            int_min = _c(1 << (ty.width - 1), ty)
            overflow = b.and_(b.icmp_unsigned("==", a, int_min), b.icmp_unsigned("==", c, _c(-1, ty)))
            safe = b.select(b.or_(zero, overflow), _c(1, ty), c)
            if div:  # x/0 = 0, INT_MIN/-1 = INT_MIN (safe divisor 1 gives a)
                v = b.select(zero, _c(0, ty), b.sdiv(a, safe))
            else:  # x%0 = x, INT_MIN%-1 = 0 (a % 1 = 0)
                v = b.select(zero, a, b.srem(a, safe))
        else:
            safe = b.select(zero, _c(1, ty), c)
            v = b.select(zero, _c(0, ty), b.udiv(a, safe)) if div else b.select(zero, a, b.urem(a, safe))
        return b.zext(v, I64) if ty.width < 64 else v

    # ---- jumps and calls -----------------------------------------------------------------

    def jmp(self, f: _Func, pc: int, insn: Instruction) -> bool:
        b = f.b
        cls = insn.opcode & CLASS_MASK
        op = insn.opcode & CODE_MASK
        if op == JmpOp.EXIT:
            if not insn.is_exit:
                return self.bad(f, pc, insn, "an invalid exit")
            b.ret(f.reg(0))
            return False
        if op == JmpOp.CALL:
            if insn.opcode == CALLX:
                return self.callx(f, pc, insn)
            if not insn.is_call:
                return self.bad(f, pc, insn, "an invalid call (no call of this encoding exists)")
            return self.call(f, pc, insn)
        if op == JmpOp.JA:
            f.goto(pc, self.target(f, pc, insn))
            return False
        if op == JmpOp.JCOND:
            if cls != InsnClass.JMP or insn.src or insn.opcode & SOURCE_MASK:
                return self.bad(f, pc, insn, "an invalid may_goto")
            t = self.target(f, pc, insn)
            mg = b.sub(b.load(f.mg), _c(1))
            b.store(mg, f.mg)
            taken, cont = f.new_block("may_goto"), f.new_block("cont")
            b.cbranch(b.icmp_signed("<", mg, _c(0)), taken, cont)
            b.position_at_end(taken)
            f.goto(pc, t)
            b.position_at_end(cont)
            return True
        pred = _CMP.get(op)
        if pred is None:
            return self.bad(f, pc, insn, "an unknown jump operation")
        x = insn.opcode & SOURCE_MASK == Source.X
        if insn.dst > 10 or (x and insn.src > 10):
            return self.bad(f, pc, insn, "a register above r10")
        t = self.target(f, pc, insn)
        a = f.reg(insn.dst)
        c = f.reg(insn.src) if x else _c(insn.imm & M64)
        if cls == InsnClass.JMP32:
            a, c = b.trunc(a, I32), b.trunc(c, I32)
        if op == JmpOp.JSET:
            cond = b.icmp_unsigned("!=", b.and_(a, c), ir.Constant(a.type, 0))
        elif op in _SIGNED:
            cond = b.icmp_signed(pred, a, c)
        else:
            cond = b.icmp_unsigned(pred, a, c)
        taken, cont = f.new_block("taken"), f.new_block("cont")
        b.cbranch(cond, taken, cont)
        b.position_at_end(taken)
        f.goto(pc, t)
        b.position_at_end(cont)
        return True

    def callx(self, f: _Func, pc: int, insn: Instruction) -> bool:
        """``callx rN``: a switch over the program's functions on the pointer's value."""
        reg = callx_register(insn)
        if reg is None:
            return self.bad(f, pc, insn, INVALID_CALLX)
        b = f.b
        args = [f.reg(i) for i in range(1, 6)]
        deep, ok = f.new_block("too_deep"), f.new_block("callx")
        b.cbranch(b.icmp_signed(">=", f.depth, _c(MAX_CALL_FRAMES - 1)), deep, ok)
        b.position_at_end(deep)
        f.fail("depth", "", pc)
        b.position_at_end(ok)
        target = f.reg(reg)
        missing, done = f.new_block("callx_no_function"), f.new_block("callx_done")
        switch = b.switch(target, missing)
        results = []
        for entry, callee in sorted(self.functions.items()):
            block = f.new_block(f"callx_{entry}")
            switch.add_case(_c(FUNC_TAG | entry), block)
            b.position_at_end(block)
            results.append((b.call(callee, [f.fn.args[0], *args, b.add(f.depth, _c(1))]), block))
            b.branch(done)
        b.position_at_end(missing)
        f.fail("message", callx_not_a_function(reg), pc)
        b.position_at_end(done)
        r0 = b.phi(I64)
        for value, block in results:
            r0.add_incoming(value, block)
        f.check_err()
        f.set_reg(0, r0)
        return True

    def call(self, f: _Func, pc: int, insn: Instruction) -> bool:
        b = f.b
        args = [f.reg(i) for i in range(1, 6)]
        if insn.src == CallSrc.CALL:
            callee = self.functions[pc + 1 + insn.imm]
            deep, ok = f.new_block("too_deep"), f.new_block("call")
            b.cbranch(b.icmp_signed(">=", f.depth, _c(MAX_CALL_FRAMES - 1)), deep, ok)
            b.position_at_end(deep)
            f.fail("depth", "", pc)
            b.position_at_end(ok)
            r0 = b.call(callee, [f.fn.args[0], *args, b.add(f.depth, _c(1))])
            f.check_err()
            f.set_reg(0, r0)
            return True
        # a kfunc goes through the helper callback under a helper id no helper has
        hid = KFUNC_HELPER_BASE | (insn.imm & 0xFFFFFFFF) if insn.src != CallSrc.HELPER else insn.imm
        self.helper_ids.add(hid)
        if hid in FAST_HELPERS:
            f.set_reg(0, self.fast.call(f, pc, hid, args))
            return True
        r0 = f.callback(EnvSlot.HELPER_FN, [_c(hid), *args, f.depth, _c(pc)])
        f.check_err()
        if hid == TAIL_CALL_HELPER:
            flag = f.field(EnvSlot.FLAG)
            done, cont = f.new_block("tail_done"), f.new_block("tail_failed")
            b.cbranch(b.icmp_unsigned("!=", flag, _c(0)), done, cont)
            b.position_at_end(done)
            f.set_field(EnvSlot.FLAG, _c(0))
            b.ret(r0)
            b.position_at_end(cont)  # no tail call: r0 is unchanged
            return True
        f.set_reg(0, r0)
        return True

    # ---- memory instructions -------------------------------------------------------------

    def access(self, f: _Func, pc: int, base: int, off: int, size: int, *, signed: bool = False,
               value: ir.Value | None = None) -> ir.Value | None:
        b = f.b
        if base == 10:
            ptr = f.stack_ptr(pc, off, size, "read" if value is None else "write")
            if ptr is None:
                return None
            if value is not None:
                b.store(b.trunc(value, INT[size]) if size < 8 else value, ptr, align=1)
                return None
            raw = b.load(ptr, align=1)
            return (b.sext if signed else b.zext)(raw, I64) if size < 8 else raw
        addr = b.add(f.reg(base), _c(off))
        if value is not None:
            f.store(pc, addr, size, value)
            return None
        return f.load(pc, addr, size, signed)

    def ldx(self, f: _Func, pc: int, insn: Instruction) -> bool:
        mode = insn.opcode & MODE_MASK
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        if mode not in (Mode.MEM, Mode.MEMSX) or (mode == Mode.MEMSX and size == 8):
            return self.bad(f, pc, insn, "an unknown load mode")
        if insn.dst > 10 or insn.src > 10:
            return self.bad(f, pc, insn, "a register above r10")
        v = self.access(f, pc, insn.src, insn.off, size, signed=mode == Mode.MEMSX)
        if v is None:
            return False
        f.set_reg(insn.dst, v)
        return True

    def st(self, f: _Func, pc: int, insn: Instruction) -> bool:
        if insn.opcode & MODE_MASK != Mode.MEM:
            return self.bad(f, pc, insn, "an unknown store mode")
        if insn.dst > 10:
            return self.bad(f, pc, insn, "a register above r10")
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        self.access(f, pc, insn.dst, insn.off, size, value=_c(insn.imm & ((1 << (size * 8)) - 1)))
        return not f.b.block.is_terminated

    def stx(self, f: _Func, pc: int, insn: Instruction) -> bool:
        mode = insn.opcode & MODE_MASK
        size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
        if insn.dst > 10 or insn.src > 10:
            return self.bad(f, pc, insn, "a register above r10")
        if mode == Mode.MEM:
            self.access(f, pc, insn.dst, insn.off, size, value=f.reg(insn.src))
            return not f.b.block.is_terminated
        if mode != Mode.ATOMIC:
            return self.bad(f, pc, insn, "an unknown store mode")
        try:
            op = AtomicOp(insn.imm)
        except ValueError:
            return self.bad(f, pc, insn, f"an unknown atomic operation {insn.imm:#x}")
        self.atomic(f, pc, insn, op, size)
        return True

    def atomic(self, f: _Func, pc: int, insn: Instruction, op: AtomicOp, size: int) -> None:
        b = f.b
        base = insn.src if op == AtomicOp.LOAD_ACQUIRE else insn.dst
        addr = b.add(f.reg(base), _c(insn.off))
        src, r0, dst = f.reg(insn.src), f.reg(0), f.reg(insn.dst)
        ok, ptr = f.host_ptr(addr, size, 1 if op == AtomicOp.LOAD_ACQUIRE else 2)
        value = f.fast_or_python(ok, lambda: _atomic_op(b, op, ptr, size, src, r0), EnvSlot.ATOMIC_FN,
                                 [addr, _c(size), _c(int(op)), src, r0, dst, _c(pc)], "at")
        if op == AtomicOp.CMPXCHG:
            f.set_reg(0, value)
        elif op == AtomicOp.LOAD_ACQUIRE:
            f.set_reg(insn.dst, value)
        elif op.fetch:
            f.set_reg(insn.src, value)

    def ld(self, f: _Func, pc: int, insn: Instruction) -> bool:
        b = f.b
        mode = insn.opcode & MODE_MASK
        if insn.is_ld_imm64:
            if insn.dst > 10:
                return self.bad(f, pc, insn, "a register above r10")
            f.set_reg(insn.dst, _c(self.resolve_ld64(insn, pc) & M64))
            return True
        if mode in (Mode.ABS, Mode.IND):
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            off: ir.Value = _c(insn.imm)
            if mode == Mode.IND:
                if insn.src > 10:
                    return self.bad(f, pc, insn, "a register above r10")
                off = b.add(f.reg(insn.src), off)
            v = f.callback(EnvSlot.SLOW_FN, [_c(SlowKind.LD_ABS), off, _c(size), _c(0), _c(pc)])
            f.check_err()
            outside, inside = f.new_block("ldabs_outside"), f.new_block("ldabs")
            b.cbranch(b.icmp_unsigned("!=", f.field(EnvSlot.FLAG), _c(0)), outside, inside)
            b.position_at_end(outside)
            f.set_field(EnvSlot.FLAG, _c(0))
            b.ret(_c(0))
            b.position_at_end(inside)
            f.set_reg(0, v)
            for i in range(1, 6):
                f.set_reg(i, _c(0))
            return True
        return self.bad(f, pc, insn, "an unknown LD instruction")


def _atomic_op(b: ir.IRBuilder, op: AtomicOp, ptr: ir.Value, size: int, src: ir.Value, r0: ir.Value) -> ir.Value:
    """Atomic ``op`` on ``size`` bytes at host ``ptr``: the old value, zero-extended (0 for a
    store-release)."""
    ty = INT[size]
    narrow = b.trunc(src, ty) if size < 8 else src
    if op == AtomicOp.LOAD_ACQUIRE:
        old = b.load_atomic(ptr, "acquire", size)
    elif op == AtomicOp.STORE_RELEASE:
        b.store_atomic(narrow, ptr, "release", size)
        old = ir.Constant(ty, 0)
    elif op == AtomicOp.CMPXCHG:
        expected = b.trunc(r0, ty) if size < 8 else r0
        pair = b.cmpxchg(ptr, expected, narrow, "seq_cst", "seq_cst")
        old = b.extract_value(pair, 0)
    else:
        old = b.atomic_rmw(_RMW[op], ptr, narrow, "seq_cst")
    return b.zext(old, I64) if size < 8 else old


def _shift(kind: str) -> Callable[[ir.IRBuilder, ir.Value, ir.Value, int], ir.Value]:
    def emit(b: ir.IRBuilder, a: ir.Value, c: ir.Value, bits: int) -> ir.Value:
        amount = b.and_(c, ir.Constant(c.type, bits - 1))
        return getattr(b, kind)(a, amount)
    return emit


_BINOPS: dict[int, Callable[[ir.IRBuilder, ir.Value, ir.Value, int], ir.Value]] = {
    AluOp.ADD: lambda b, a, c, bits: b.add(a, c),
    AluOp.SUB: lambda b, a, c, bits: b.sub(a, c),
    AluOp.MUL: lambda b, a, c, bits: b.mul(a, c),
    AluOp.OR: lambda b, a, c, bits: b.or_(a, c),
    AluOp.AND: lambda b, a, c, bits: b.and_(a, c),
    AluOp.XOR: lambda b, a, c, bits: b.xor(a, c),
    AluOp.LSH: _shift("shl"),
    AluOp.RSH: _shift("lshr"),
    AluOp.ARSH: _shift("ashr"),
    AluOp.NEG: lambda b, a, c, bits: b.neg(a),
}
_CMP: dict[int, str] = {
    JmpOp.JEQ: "==", JmpOp.JNE: "!=", JmpOp.JGT: ">", JmpOp.JGE: ">=", JmpOp.JLT: "<", JmpOp.JLE: "<=",
    JmpOp.JSET: "&", JmpOp.JSGT: ">", JmpOp.JSGE: ">=", JmpOp.JSLT: "<", JmpOp.JSLE: "<=",
}
_SIGNED = {JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE}
_RMW: dict[int, str] = {
    AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor",
    AtomicOp.FETCH_ADD: "add", AtomicOp.FETCH_OR: "or", AtomicOp.FETCH_AND: "and", AtomicOp.FETCH_XOR: "xor",
    AtomicOp.XCHG: "xchg",
}
_CLASS_HANDLERS: dict[int, Callable[[_Lowerer, _Func, int, Instruction], bool]] = {
    InsnClass.ALU: _Lowerer.alu,
    InsnClass.ALU64: _Lowerer.alu,
    InsnClass.JMP: _Lowerer.jmp,
    InsnClass.JMP32: _Lowerer.jmp,
    InsnClass.LDX: _Lowerer.ldx,
    InsnClass.ST: _Lowerer.st,
    InsnClass.STX: _Lowerer.stx,
    InsnClass.LD: _Lowerer.ld,
}
_ = CALLBACK_HELPERS  # the Python side passes the depth to these (see binding.py)


def _no_register_problem(cls: int, insn: Instruction) -> str:
    return ""


#: the interpreter's register validation (same rule, same message), when it has one
_register_problem: Callable[[int, Instruction], str] = getattr(_Gen, "register_problem", _no_register_problem)


def lower_program(name: str, insns: list[Instruction], resolve_ld64: Callable[[Instruction, int], int],
                  triple: str, *, back_edge_limit: int = BACK_EDGE_LIMIT) -> LoweredProgram:
    """Lower a relocated program to one LLVM module (raises :class:`JitUnsupported`).
    ``back_edge_limit``: back edges one function call may take (the runtime's, as the interpreter)."""
    if not insns:
        raise JitUnsupported("the program has no instructions")
    return _Lowerer(name, insns, resolve_ld64, triple, back_edge_limit).lower()
