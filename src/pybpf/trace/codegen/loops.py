"""``for ($kv : @m) { ... }``: the body becomes a callback of ``bpf_for_each_map_elem``.

The callback is a separate BPF function, so the probe's integer variables (registers/stack of the
probe function) are spilled to scratch slots around the call and reloaded on both sides; memory
variables already live in the per-CPU scratch buffer at offsets both functions share. Inside the
body the probe context is not available (``args``, ``argN``, ``kstack``... cannot be used there).
For per-CPU maps the value seen is this CPU's.
"""

from __future__ import annotations

import itertools


from llvmlite import ir

from .. import ast as A
from ..types import AggType, TupleType
from . import maps as M
from .helpers import I64, PTR, Helper, call
from .irgen import CodegenError, ProbeGen, const, is_scalar
from .result import MapBinding

_ids = itertools.count()


class CallbackGen(ProbeGen):
    """The function ``long cb(map, key, value, ctx)`` running one iteration of the loop body."""

    RET_TYPE = I64

    def __init__(self, parent: ProbeGen, fn: ir.Function, node: A.ForMap, binding: MapBinding) -> None:
        super().__init__(parent.u, parent.info, parent.attach, fn, parent.state)
        self.node = node
        self.binding = binding
        self.ctx = fn.args[3]

    def generate(self) -> None:
        eb = ir.IRBuilder(self.entry)
        key = eb.alloca(ir.IntType(32), name="zero")
        eb.store(ir.Constant(ir.IntType(32), 0), key, align=4)
        self._zero_key = key
        base = call(eb, Helper.MAP_LOOKUP_ELEM, self.u.map_global(M.SCRATCH_NAME), key)
        fail = self.fn.append_basic_block("no_scratch")
        eb.cbranch(eb.icmp_unsigned("!=", base, ir.Constant(PTR, None)), self.body, fail)
        ir.IRBuilder(fail).ret(ir.Constant(I64, 1))
        self.scratch = base
        for name in list(self.state.spill_slots):  # the probe's integer variables, as they were
            ref, _ = self.var_ref(name)
            self.b.store(self.load_int(self.scratch_at(self.state.spill_slots[name]), 8), ref, align=8)
        self._fill_kv()
        self.block(self.node.body)
        if not self.b.block.is_terminated:
            self.leave(0)
        self.u.scratch_size = max(self.u.scratch_size, self.state.offset)

    def _fill_kv(self) -> None:
        kv_ref, kv_t = self.var_ref(self.node.var.name)
        assert isinstance(kv_t, TupleType)
        key_t, value_t = kv_t.elems
        koff, voff = kv_t.offsets
        key_ptr, value_ptr = self.fn.args[1], self.fn.args[2]
        key_size = self.binding.key_size if self.binding.info.key is not None else 8
        self.copy(self.gep(kv_ref, koff), key_ptr, min(key_t.size, key_size))
        stored = self.binding.info.value
        size = 8 if isinstance(stored, AggType) else stored.size
        self.copy(self.gep(kv_ref, voff), value_ptr, min(value_t.size, size))

    def leave(self, code: int = 0) -> None:
        for name, ref in self.vars.items():
            t = self.tp.variables.get((self.info.index, name))
            if t is not None and is_scalar(t):
                off = _spill_slot(self, name)
                self.store_int(self.b.load(ref, align=8), self.scratch_at(off), 8)
        self.b.ret(ir.Constant(I64, code))


def _spill_slot(g: ProbeGen, name: str) -> int:
    off = g.state.spill_slots.get(name)
    if off is None:
        off = g.state.offset
        g.state.offset += 8
        g.state.spill_slots[name] = off
    return off


def for_map(g: ProbeGen, node: A.ForMap) -> None:
    """Lower ``for ($kv : @m) body`` in probe function ``g``."""
    binding = g.u.bindings.get(node.map.name)
    if binding is None:
        raise CodegenError(f"line {node.span.line}: unknown map {node.map.name}")
    if binding.bucket_key:
        raise CodegenError(f"line {node.span.line}: cannot loop over histogram map {node.map.name}")
    for name, ref in list(g.vars.items()):  # spill the integer variables the body may use
        t = g.tp.variables.get((g.info.index, name))
        if t is not None and is_scalar(t):
            g.store_int(g.b.load(ref, align=8), g.scratch_at(_spill_slot(g, name)), 8)
    fnty = ir.FunctionType(I64, [PTR, PTR, PTR, PTR])
    cb = ir.Function(g.u.module, fnty, f"{g.fn.name}_for{next(_ids)}")
    cb.linkage = "internal"
    CallbackGen(g, cb, node, binding).generate()
    call(g.b, Helper.FOR_EACH_MAP_ELEM, g.u.map_global(binding.bpf_name), g.b.bitcast(cb, PTR),
         ir.Constant(PTR, None), const(0))
    for name, off in g.state.spill_slots.items():  # and take back what the body changed
        t = g.tp.variables.get((g.info.index, name))
        if t is not None and is_scalar(t):
            ref, _ = g.var_ref(name)
            g.b.store(g.load_int(g.scratch_at(off), 8), ref, align=8)


def map_length(g: ProbeGen, name: str) -> ir.Value:
    """``len(@m)``: the number of entries, counted by a ``bpf_for_each_map_elem`` callback into a
    scratch slot (a histogram map counts its bucket entries)."""
    binding = g.u.bindings[name]
    off = g.state.offset
    g.state.offset += 8
    g.store_int(const(0), g.scratch_at(off), 8)
    fnty = ir.FunctionType(I64, [PTR, PTR, PTR, PTR])
    cb = ir.Function(g.u.module, fnty, f"{g.fn.name}_len{next(_ids)}")
    cb.linkage = "internal"
    b = ir.IRBuilder(cb.append_basic_block("entry"))
    key = b.alloca(ir.IntType(32))
    b.store(ir.Constant(ir.IntType(32), 0), key, align=4)
    base = call(b, Helper.MAP_LOOKUP_ELEM, g.u.map_global(M.SCRATCH_NAME), key)
    have, done = cb.append_basic_block("have"), cb.append_basic_block("done")
    b.cbranch(b.icmp_unsigned("!=", base, ir.Constant(PTR, None)), have, done)
    b.position_at_end(have)
    slot = b.bitcast(b.gep(base, [const(off)]), I64.as_pointer())
    b.store(b.add(b.load(slot, align=8), const(1)), slot, align=8)
    b.branch(done)
    b.position_at_end(done)
    b.ret(const(0))
    call(g.b, Helper.FOR_EACH_MAP_ELEM, g.u.map_global(binding.bpf_name), g.b.bitcast(cb, PTR),
         ir.Constant(PTR, None), const(0))
    return g.load_int(g.scratch_at(off), 8)
