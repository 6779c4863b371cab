"""Lowering of one probe (one attach point) to an LLVM function: memory, integers, control flow,
statements and map access. Expressions, builtins, calls, aggregations and events live in their
own modules and are reached through dict dispatch on the AST node class / name.

Values: integers, pointers and record addresses are ``i64``; every other value (strings, tuples,
buffers, stacks, ...) lives in memory and is passed around as an ``i8*`` to its bytes, laid out
as :mod:`pybpf.trace.types` describes. Temporaries live in a per-CPU scratch buffer (a map value,
so they do not count against the 512-byte BPF stack); only integer variables use the stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llvmlite import ir

from ...errors import BPFError
from .. import ast as A
from ..semantic.model import ProbeInfo, TypedProgram
from ..types import (
    AggType, IntType, KsymType, PointerType, RecordType, SpecialU64Type, StackType, TupleType, Type,
)
from . import maps as M
from .helpers import I32, I64, PTR, Helper, call
from .result import MapBinding, ProbeAttach

log = logging.getLogger("pybpf.trace.codegen")

#: above this many bytes, zeroing uses volatile stores (no memset fusion)
LARGE_MEMSET = 256

SCALAR_TYPES = (IntType, PointerType, KsymType, SpecialU64Type, RecordType)


class CodegenError(BPFError):
    """A construct the code generator cannot lower (what to write instead is in the message)."""


class _VolatileStore(ir.instructions.StoreInstr):  # type: ignore[misc]
    """``store volatile`` (llvmlite's builder has no volatile flag)."""

    def descr(self, buf: list[str]) -> None:
        super().descr(buf)
        buf[-1] = buf[-1].replace("store ", "store volatile ", 1)


def is_scalar(t: Type) -> bool:
    """Whether a value of type ``t`` is an ``i64`` in registers (else: bytes in memory)."""
    return isinstance(t, SCALAR_TYPES)


def const(v: int) -> ir.Constant:
    return ir.Constant(I64, v & 0xFFFF_FFFF_FFFF_FFFF)


@dataclass
class FrameState:
    """Scratch layout shared by a probe's function and its for-loop callbacks: the bump offset,
    the slots of memory variables, and the slots integer variables are spilled to around a
    callback call."""

    offset: int = 0
    mem_slots: dict[str, int] = field(default_factory=dict)
    spill_slots: dict[str, int] = field(default_factory=dict)


@dataclass
class Unit:
    """Module-level state shared by the programs of one script."""

    module: ir.Module
    tp: TypedProgram
    bindings: dict[str, MapBinding]
    globals: dict[str, ir.GlobalVariable]
    probes: list[ProbeAttach] = field(default_factory=list)
    scratch_size: int = 8
    cpid: int = 0
    ncpus: int = 1
    stack_maps: dict[tuple[bool, int], str] = field(default_factory=dict)
    needs_vars: bool = False
    map_defs: list[M.MapDef] = field(default_factory=list)  # every map emitted, described at the end

    def map_global(self, name: str) -> ir.GlobalVariable:
        """The ``.maps`` global of BPF map ``name`` (stack maps are created on first use)."""
        g = self.globals.get(name)
        if g is None and name.startswith("stack_"):
            from ...enums import MapType
            limit = int(name[7:])
            d = M.MapDef(name, MapType.STACK_TRACE, 4, 8 * limit, M.STACK_MAP_ENTRIES)
            g = self.globals[name] = M.emit(self.module, [d])[name]
            self.map_defs.append(d)
        return self.globals[name]


class ProbeGen:
    """Generates the function of one attach point of one probe block."""

    #: what a function of this kind returns when it leaves early / at its end
    RET_TYPE: ir.Type = I32

    def __init__(self, unit: Unit, info: ProbeInfo, attach: ProbeAttach, fn: ir.Function,
                 state: FrameState | None = None) -> None:
        self.u = unit
        self.tp = unit.tp
        self.info = info
        self.attach = attach
        self.ap = attach.attach_point
        self.fn = fn
        self.ctx = fn.args[0]
        self.entry = fn.append_basic_block("entry")
        self.body = fn.append_basic_block("body")
        self.b = ir.IRBuilder(self.body)
        self.scratch: ir.Value | None = None
        self.state = state or FrameState()
        self.vars: dict[str, ir.Value] = {}
        self.loops: list[tuple[ir.Block, ir.Block]] = []
        self._zero_key: ir.Value | None = None

    # ----------------------------------------------------------------- driver

    def generate(self) -> None:
        eb = ir.IRBuilder(self.entry)
        key = eb.alloca(I32, name="zero")
        eb.store(ir.Constant(I32, 0), key, align=4)
        self._zero_key = key
        base = call(eb, Helper.MAP_LOOKUP_ELEM, self.u.map_global(M.SCRATCH_NAME), key)
        ok = eb.icmp_unsigned("!=", base, ir.Constant(PTR, None))
        fail = self.fn.append_basic_block("no_scratch")
        eb.cbranch(ok, self.body, fail)
        ir.IRBuilder(fail).ret(ir.Constant(self.RET_TYPE, 0))
        self.scratch = base
        if self.ap.provider is A.ProbeType.USDT:  # pybpf.link.usdt finds its spec map through the program
            from .probes import USDT_SPECS_MAP
            call(self.b, Helper.MAP_LOOKUP_ELEM, self.u.map_global(USDT_SPECS_MAP), key)
        if self.ap.provider is A.ProbeType.ITER:
            self._skip_end_of_iteration()
        p = self.info.probe
        if p.predicate is not None:
            cond = self.truth(self.expr(p.predicate))
            go = self.new_block("pred_ok")
            stop = self.new_block("pred_fail")
            self.b.cbranch(cond, go, stop)
            ir.IRBuilder(stop).ret(ir.Constant(I32, 0))
            self.b.position_at_end(go)
        self.block(p.block)
        if not self.b.block.is_terminated:
            self.leave()
        self.u.scratch_size = max(self.u.scratch_size, self.state.offset)

    def _skip_end_of_iteration(self) -> None:
        """An iterator program is called once more after the last object, with the object pointer
        (the member after ``meta`` in every ``struct bpf_iter__*``) NULL: return at once then."""
        slot = self.b.bitcast(self.b.gep(self.ctx, [ir.Constant(ir.IntType(64), 8)]), ir.IntType(64).as_pointer())
        obj = self.b.load(slot, align=8)
        go = self.new_block("iter_object")
        done = self.new_block("iter_end")
        self.b.cbranch(self.b.icmp_unsigned("!=", obj, ir.Constant(ir.IntType(64), 0)), go, done)
        ir.IRBuilder(done).ret(ir.Constant(I32, 0))
        self.b.position_at_end(go)

    def leave(self, code: int = 0) -> None:
        """Return from the function: probes return 0; for-loop callbacks (which first store their
        integer variables back) return ``code`` (1: stop iterating)."""
        self.b.ret(ir.Constant(self.RET_TYPE, 0))

    # ----------------------------------------------------------------- blocks & memory

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)

    def alloca(self, name: str = "") -> ir.Value:
        """An i64 stack slot (allocated in the entry block)."""
        eb = ir.IRBuilder(self.entry)
        eb.position_at_start(self.entry)
        return eb.alloca(I64, name=name)

    def slot(self, size: int) -> ir.Value:
        """A fresh scratch area of ``size`` bytes (8-aligned), as i8*."""
        off = self.state.offset
        self.state.offset = M.round_up(off + max(size, 1), 8)
        return self.scratch_at(off)

    def scratch_at(self, off: int) -> ir.Value:
        """The scratch buffer at byte ``off`` (an i8* computed in the entry block)."""
        if off == 0:
            return self.scratch
        eb = ir.IRBuilder(self.entry)  # in the entry block, so the pointer dominates every use
        eb.position_before(self.entry.terminator)
        return eb.gep(self.scratch, [ir.Constant(I64, off)])

    def gep(self, ptr: ir.Value, off: int | ir.Value) -> ir.Value:
        if isinstance(off, int):
            if off == 0:
                return ptr
            off = ir.Constant(I64, off)
        return self.b.gep(ptr, [off])

    def to_ptr(self, v: ir.Value) -> ir.Value:
        """An i64 address as i8* (for helper arguments)."""
        return v if isinstance(v.type, ir.PointerType) else self.b.inttoptr(v, PTR)

    def load_int(self, ptr: ir.Value, size: int, signed: bool = False) -> ir.Value:
        ty = ir.IntType(8 * size)
        v = self.b.load(self.b.bitcast(ptr, ty.as_pointer()), align=size)
        if size == 8:
            return v
        return self.b.sext(v, I64) if signed else self.b.zext(v, I64)

    def store_int(self, v: ir.Value, ptr: ir.Value, size: int) -> None:
        ty = ir.IntType(8 * size)
        if v.type != I64:
            v = self.b.ptrtoint(v, I64) if isinstance(v.type, ir.PointerType) else self.b.zext(v, I64)
        if size < 8:
            v = self.b.trunc(v, ty)
        self.b.store(v, self.b.bitcast(ptr, ty.as_pointer()), align=size)

    def _chunks(self, n: int) -> list[tuple[int, int]]:
        out, off = [], 0
        for size in (8, 4, 2, 1):
            while n - off >= size:
                out.append((off, size))
                off += size
        return out

    def copy(self, dst: ir.Value, src: ir.Value, n: int) -> None:
        for off, size in self._chunks(n):
            ty = ir.IntType(8 * size).as_pointer()
            v = self.b.load(self.b.bitcast(self.gep(src, off), ty), align=size)
            self.b.store(v, self.b.bitcast(self.gep(dst, off), ty), align=size)

    def zero(self, dst: ir.Value, n: int) -> None:
        """Zero ``n`` bytes; large areas use volatile stores so LLVM does not fuse them into a
        ``memset`` call the BPF backend cannot lower."""
        big = n > LARGE_MEMSET
        for off, size in self._chunks(n):
            ty = ir.IntType(8 * size)
            ptr = self.b.bitcast(self.gep(dst, off), ty.as_pointer())
            if big:
                inst = _VolatileStore(self.b.block, ir.Constant(ty, 0), ptr)
                inst.align = size
                self.b._insert(inst)
            else:
                self.b.store(ir.Constant(ty, 0), ptr, align=size)

    def store_bytes(self, dst: ir.Value, data: bytes) -> None:
        for off, size in self._chunks(len(data)):
            ty = ir.IntType(8 * size)
            val = int.from_bytes(data[off:off + size], "little")
            self.b.store(ir.Constant(ty, val), self.b.bitcast(self.gep(dst, off), ty.as_pointer()), align=size)

    def truth(self, v: ir.Value) -> ir.Value:
        """An i1 that is true when ``v`` (i64 or pointer) is non-zero."""
        if isinstance(v.type, ir.PointerType):
            v = self.b.ptrtoint(v, I64)
        return self.b.icmp_unsigned("!=", v, const(0))

    def if_then(self, cond: ir.Value, name: str = "then") -> tuple[ir.Block, ir.Block]:
        """Branch on ``cond`` to a new block (returned, builder positioned there) and the join block."""
        then, join = self.new_block(name), self.new_block(name + "_end")
        self.b.cbranch(cond, then, join)
        self.b.position_at_end(then)
        return then, join

    def close(self, join: ir.Block) -> None:
        if not self.b.block.is_terminated:
            self.b.branch(join)
        self.b.position_at_end(join)

    # ----------------------------------------------------------------- values

    def type_of(self, node: Any) -> Type:
        try:
            return self.tp.types[node.node_id]
        except KeyError:
            raise CodegenError(f"no type for {type(node).__name__} at line {node.span.line}") from None

    def expr(self, node: A.Expr) -> ir.Value:
        from .exprs import EXPR
        return EXPR[type(node)](self, node)

    def int_expr(self, node: A.Expr) -> ir.Value:
        v = self.expr(node)
        if isinstance(v.type, ir.PointerType):
            return self.b.ptrtoint(v, I64)
        return v

    def store_value(self, v: ir.Value, t: Type, dest: ir.Value, dsize: int | None = None) -> None:
        """Write value ``v`` of type ``t`` into ``dsize`` bytes at ``dest`` (zero-filling the rest)."""
        size = t.size if dsize is None else dsize
        if isinstance(t, StackType) and dsize == 8:
            self.store_int(v, dest, 8)
            return
        if is_scalar(t):
            self.store_int(v, dest, min(size, 8))
            return
        n = min(t.size, size)
        self.copy(dest, v, n)
        if size > n:
            self.zero(self.gep(dest, n), size - n)

    def eval_into(self, node: A.Expr, dest: ir.Value, dest_type: Type, *, key: bool = False) -> None:
        """Evaluate ``node`` and store it at ``dest`` laid out as ``dest_type`` (in a map key when
        ``key``: stacks are then stored as u64 stack ids)."""
        from .exprs import INTO
        t = self.type_of(node)
        dsize = M.stored_size(dest_type) if key else dest_type.size
        if isinstance(t, TupleType) and isinstance(dest_type, TupleType):
            self.tuple_into(node, dest, dest_type, key=key)
            return
        handler = INTO.get(type(node))
        if handler is not None and handler(self, node, dest, dsize):
            return
        self.store_value(self.expr(node), t, dest, dsize)

    def tuple_into(self, node: A.Expr, dest: ir.Value, dest_type: TupleType, *, key: bool = False) -> None:
        offs, size = M.stored_layout(dest_type) if key else (dest_type.offsets, dest_type.size)
        if isinstance(node, A.Tuple):
            self.zero(dest, size)
            for e, et, off in zip(node.elems, dest_type.elems, offs):
                self.eval_into(e, self.gep(dest, off), et, key=key)
            return
        src_t = self.type_of(node)
        assert isinstance(src_t, TupleType)
        src = self.expr(node)
        self.zero(dest, size)
        for st, dt, so, do in zip(src_t.elems, dest_type.elems, src_t.offsets, offs):
            dsize = M.stored_size(dt) if key else dt.size
            if is_scalar(st):
                v = self.load_int(self.gep(src, so), min(st.size, 8), getattr(st, "signed", False))
                self.store_int(v, self.gep(dest, do), min(dsize, 8))
            elif isinstance(st, StackType) and dsize == 8:
                raise CodegenError("a tuple holding a stack cannot be copied into a map key; "
                                   "write the tuple literally in the key")
            else:
                self.copy(self.gep(dest, do), self.gep(src, so), min(st.size, dsize))

    def materialize(self, node: A.Expr) -> tuple[ir.Value, Type]:
        """The value of ``node`` in memory (i8*) with its type."""
        t = self.type_of(node)
        v = self.expr(node)
        if not is_scalar(t):
            return v, t
        p = self.slot(8)
        self.store_int(v, p, 8)
        return p, t

    # ----------------------------------------------------------------- statements

    def block(self, block: A.Block) -> None:
        for stmt in block.stmts:
            if self.b.block.is_terminated:
                self.b.position_at_end(self.new_block("dead"))
            STMT[type(stmt)](self, stmt)

    def var_ref(self, name: str) -> tuple[ir.Value, Type]:
        t = self.tp.variables.get((self.info.index, name))
        if t is None:
            raise CodegenError(f"variable ${name} has no type")
        ref = self.vars.get(name)
        if ref is None:
            if is_scalar(t):
                ref = self.alloca(name)
            elif name in self.state.mem_slots:
                ref = self.scratch_at(self.state.mem_slots[name])
            else:
                ref = self.slot(t.size)
                self.state.mem_slots[name] = self.state.offset - M.round_up(max(t.size, 1), 8)
                self.zero(ref, t.size)
            self.vars[name] = ref
        return ref, t

    def assign_var(self, name: str, node: A.Expr | None, value: ir.Value | None = None) -> None:
        ref, t = self.var_ref(name)
        if is_scalar(t):
            v = value if value is not None else self.int_expr(node)  # type: ignore[arg-type]
            self.b.store(v, ref, align=8)
        else:
            assert node is not None
            self.eval_into(node, ref, t)

    def _var_assign(self, node: A.VarAssign) -> None:
        if node.op is not None:
            from .exprs import int_binop
            ref, t = self.var_ref(node.target.name)
            cur = self.b.load(ref, align=8)
            rhs = self.int_expr(node.value)
            signed = getattr(t, "signed", False) and getattr(self.type_of(node.value), "signed", False)
            self.b.store(int_binop(self, node.op, cur, rhs, signed), ref, align=8)
            return
        self.assign_var(node.target.name, node.value)

    def _map_assign(self, node: A.MapAssign) -> None:
        binding = self.u.bindings[node.target.name]
        if isinstance(binding.info.value, AggType):
            from .aggregations import aggregate
            aggregate(self, node, binding)
            return
        key = self.map_key(node.target, binding)
        if node.op is not None:
            from .exprs import int_binop
            cur = self.map_read_int(binding, key)
            rhs = self.int_expr(node.value)
            t = binding.info.value
            signed = getattr(t, "signed", True) and getattr(self.type_of(node.value), "signed", True)
            self.map_write_int(binding, key, int_binop(self, node.op, cur, rhs, signed))
            return
        value = self.slot(binding.value_size)
        self.eval_into(node.value, value, binding.info.value)
        call(self.b, Helper.MAP_UPDATE_ELEM, self.u.map_global(binding.bpf_name), key, value, const(0))

    def _expr_stmt(self, node: A.ExprStmt) -> None:
        self.expr(node.expr)

    def _if(self, node: A.If) -> None:
        cond = self.truth(self.expr(node.cond))
        then, other, join = self.new_block("if"), self.new_block("else"), self.new_block("endif")
        self.b.cbranch(cond, then, other)
        self.b.position_at_end(then)
        self.block(node.then)
        self.close(join)
        self.b.position_at_end(other)
        if node.otherwise is not None:
            self.block(node.otherwise)
        self.close(join)

    def _unroll(self, node: A.Unroll) -> None:
        count = self._const_count(node.count)
        for _ in range(count):
            self.block(node.body)

    def _const_count(self, node: A.Expr) -> int:
        if isinstance(node, A.Integer):
            return node.value
        if isinstance(node, A.PositionalParam):
            return int(self.tp.params[node.index - 1], 0)
        raise CodegenError("unroll() needs an integer literal or a positional parameter")

    def _loop(self, cond_fn: Callable[[], ir.Value], body_fn: Callable[[], None],
              step_fn: Callable[[], None] | None = None) -> None:
        head, body, step, end = (self.new_block(n) for n in ("loop", "loop_body", "loop_step", "loop_end"))
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(cond_fn(), body, end)
        self.b.position_at_end(body)
        self.loops.append((step, end))
        body_fn()
        self.loops.pop()
        self.close(step)
        if step_fn is not None:
            step_fn()
        self.b.branch(head)
        self.b.position_at_end(end)

    def _while(self, node: A.While) -> None:
        self._loop(lambda: self.truth(self.expr(node.cond)), lambda: self.block(node.body))

    def _for_range(self, node: A.ForRange) -> None:
        ref, _ = self.var_ref(node.var.name)
        self.b.store(self.int_expr(node.start), ref, align=8)
        end = self.alloca("range_end")
        self.b.store(self.int_expr(node.end), end, align=8)

        def cond() -> ir.Value:
            return self.b.icmp_signed("<", self.b.load(ref, align=8), self.b.load(end, align=8))

        def step() -> None:
            self.b.store(self.b.add(self.b.load(ref, align=8), const(1)), ref, align=8)

        self._loop(cond, lambda: self.block(node.body), step)

    def _for_map(self, node: A.ForMap) -> None:
        from .loops import for_map
        for_map(self, node)

    def _return(self, node: A.Return) -> None:
        self.leave()

    def _break(self, node: A.Break) -> None:
        if not self.loops:  # the body of a for ($kv : @m) callback: stop iterating
            self.leave(1)
            return
        self.b.branch(self.loops[-1][1])

    def _continue(self, node: A.Continue) -> None:
        if not self.loops:
            self.leave(0)
            return
        self.b.branch(self.loops[-1][0])

    # ----------------------------------------------------------------- maps

    def map_key(self, target: A.Map, binding: MapBinding, keys: tuple[A.Expr, ...] | None = None) -> ir.Value:
        """A pointer to the key bytes of ``target`` (without any hist bucket)."""
        keys = target.keys if keys is None else keys
        key_t = binding.info.key
        size = binding.key_size
        ptr = self.slot(size)
        self.zero(ptr, size)
        if key_t is None:
            return ptr
        if len(keys) == 1:
            self.eval_into(keys[0], ptr, key_t, key=True)
        else:
            assert isinstance(key_t, TupleType)
            offs, _ = M.stored_layout(key_t)
            for k, kt, off in zip(keys, key_t.elems, offs):
                self.eval_into(k, self.gep(ptr, off), kt, key=True)
        return ptr

    def map_lookup(self, binding: MapBinding, key: ir.Value) -> ir.Value:
        return call(self.b, Helper.MAP_LOOKUP_ELEM, self.u.map_global(binding.bpf_name), key)

    def map_read_int(self, binding: MapBinding, key: ir.Value) -> ir.Value:
        """The integer value under ``key`` (0 when absent)."""
        p = self.map_lookup(binding, key)
        found = self.truth(p)
        start = self.b.block
        then, join = self.if_then(found, "found")
        t = binding.info.value
        size = 8 if isinstance(t, AggType) else t.size
        v = self.load_int(p, size, getattr(t, "signed", True))
        then_end = self.b.block
        self.close(join)
        phi = self.b.phi(I64)
        phi.add_incoming(const(0), start)
        phi.add_incoming(v, then_end)
        return phi

    def map_write_int(self, binding: MapBinding, key: ir.Value, v: ir.Value) -> None:
        value = self.slot(binding.value_size)
        self.store_int(v, value, binding.value_size if binding.value_size <= 8 else 8)
        call(self.b, Helper.MAP_UPDATE_ELEM, self.u.map_global(binding.bpf_name), key, value, const(0))

    def map_read(self, node: A.Map) -> ir.Value:
        binding = self.u.bindings[node.name]
        key = self.map_key(node, binding)
        t = binding.info.value
        if is_scalar(t) or isinstance(t, AggType):
            return self.map_read_int(binding, key)
        out = self.slot(binding.value_size)
        self.zero(out, binding.value_size)
        p = self.map_lookup(binding, key)
        _, join = self.if_then(self.truth(p), "found")
        self.copy(out, p, binding.value_size)
        self.close(join)
        return out

    def get_or_create(self, binding: MapBinding, key: ir.Value) -> tuple[ir.Value, ir.Block]:
        """The value pointer under ``key``, inserting zeros first when absent.

        Returns the pointer (valid in the returned block, where the builder is positioned) and the
        block to continue with afterwards.
        """
        mapg = self.u.map_global(binding.bpf_name)
        p = self.map_lookup(binding, key)
        start = self.b.block
        have, create, join = self.new_block("have"), self.new_block("create"), self.new_block("agg_end")
        self.b.cbranch(self.truth(p), have, create)
        self.b.position_at_end(create)
        init = self.slot(binding.value_size)
        self.zero(init, binding.value_size)
        call(self.b, Helper.MAP_UPDATE_ELEM, mapg, key, init, const(1))  # BPF_NOEXIST
        p2 = call(self.b, Helper.MAP_LOOKUP_ELEM, mapg, key)
        create_end = self.b.block
        self.b.cbranch(self.truth(p2), have, join)
        self.b.position_at_end(have)
        phi = self.b.phi(PTR)
        phi.add_incoming(p, start)
        phi.add_incoming(p2, create_end)
        return phi, join


STMT: dict[type, Callable[[ProbeGen, Any], None]] = {
    A.ExprStmt: ProbeGen._expr_stmt, A.VarAssign: ProbeGen._var_assign, A.MapAssign: ProbeGen._map_assign,
    A.If: ProbeGen._if, A.Unroll: ProbeGen._unroll, A.While: ProbeGen._while, A.ForMap: ProbeGen._for_map,
    A.ForRange: ProbeGen._for_range, A.Return: ProbeGen._return, A.Break: ProbeGen._break,
    A.Continue: ProbeGen._continue, A.Block: ProbeGen.block,
}

__all__ = ["ProbeGen", "Unit", "FrameState", "CodegenError", "is_scalar", "const"]
