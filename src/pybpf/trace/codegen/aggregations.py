"""Aggregations into per-CPU hash maps, like bpftrace: count/sum (one i64), avg/stats (count,
total), min/max (value, set flag), hist/lhist (one u64 count per ``key + bucket``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from .. import ast as A
from ..types import AggKind, AggType
from . import maps as M
from .irgen import const
from .result import MapBinding

if TYPE_CHECKING:
    from .irgen import ProbeGen


def log2_bucket(g: ProbeGen, v: ir.Value) -> ir.Value:
    """bpftrace's hist() bucket: 0 for negatives, 1 for 0, ``2 + floor(log2(v))`` otherwise."""
    b = g.b
    x, r = v, const(0)
    for shift in (32, 16, 8, 4, 2, 1):
        big = b.icmp_unsigned(">=", x, const(1 << shift))
        x = b.select(big, b.lshr(x, const(shift)), x)
        r = b.select(big, b.add(r, const(shift)), r)
    idx = b.add(r, const(2))
    idx = b.select(b.icmp_signed("==", v, const(0)), const(1), idx)
    return b.select(b.icmp_signed("<", v, const(0)), const(0), idx)


def linear_bucket(g: ProbeGen, v: ir.Value, lo: int, hi: int, step: int) -> ir.Value:
    """lhist(): 0 below ``lo``, ``(v - lo) / step + 1`` inside, ``(hi - lo) / step + 1`` at/above ``hi``."""
    b = g.b
    inside = b.add(b.udiv(b.sub(v, const(lo)), const(step)), const(1))
    idx = b.select(b.icmp_signed(">=", v, const(hi)), const((hi - lo) // step + 1), inside)
    return b.select(b.icmp_signed("<", v, const(lo)), const(0), idx)


def _value(g: ProbeGen, call_node: A.Call) -> ir.Value | None:
    return g.int_expr(call_node.args[0]) if call_node.args else None


def _add_at(g: ProbeGen, p: ir.Value, off: int, v: ir.Value) -> None:
    ptr = g.gep(p, off)
    g.store_int(g.b.add(g.load_int(ptr, 8), v), ptr, 8)


def _count(g: ProbeGen, p: ir.Value, v: ir.Value | None, t: AggType) -> None:
    _add_at(g, p, 0, const(1))


def _sum(g: ProbeGen, p: ir.Value, v: ir.Value | None, t: AggType) -> None:
    assert v is not None
    _add_at(g, p, 0, v)


def _avg(g: ProbeGen, p: ir.Value, v: ir.Value | None, t: AggType) -> None:
    assert v is not None
    _add_at(g, p, 0, const(1))
    _add_at(g, p, 8, v)


def _extreme(pred: str) -> Callable[[ProbeGen, ir.Value, ir.Value | None, AggType], None]:
    def update(g: ProbeGen, p: ir.Value, v: ir.Value | None, t: AggType) -> None:
        assert v is not None
        cur = g.load_int(p, 8)
        unset = g.b.icmp_unsigned("==", g.load_int(g.gep(p, 8), 8), const(0))
        better = g.b.icmp_signed(pred, v, cur) if t.signed else g.b.icmp_unsigned(pred, v, cur)
        g.store_int(g.b.select(g.b.or_(unset, better), v, cur), p, 8)
        g.store_int(const(1), g.gep(p, 8), 8)
    return update


UPDATE: dict[AggKind, Callable[[ProbeGen, ir.Value, ir.Value | None, AggType], None]] = {
    AggKind.COUNT: _count, AggKind.SUM: _sum, AggKind.AVG: _avg, AggKind.STATS: _avg,
    AggKind.MIN: _extreme("<"), AggKind.MAX: _extreme(">"),
    AggKind.HIST: _count, AggKind.LHIST: _count,
}


def aggregate(g: ProbeGen, node: A.MapAssign, binding: MapBinding) -> None:
    """``@m[k] = agg(...)``: update this CPU's value, creating it when absent."""
    call_node = node.value
    assert isinstance(call_node, A.Call)
    t = binding.info.value
    assert isinstance(t, AggType)
    v = _value(g, call_node)
    if binding.bucket_key:
        key = _bucket_key(g, node.target, binding, t, v)
    else:
        key = g.map_key(node.target, binding)
    p, join = g.get_or_create(binding, key)
    UPDATE[t.kind](g, p, v, t)
    g.b.branch(join)
    g.b.position_at_end(join)


def _bucket_key(g: ProbeGen, target: A.Map, binding: MapBinding, t: AggType, v: ir.Value | None) -> ir.Value:
    assert v is not None
    idx = log2_bucket(g, v) if t.kind is AggKind.HIST else linear_bucket(g, v, t.lo, t.hi, t.step)
    info = binding.info
    if info.key is None:
        key = g.slot(8)
        g.store_int(idx, key, 8)
        return key
    key = g.slot(binding.key_size)
    g.zero(key, binding.key_size)
    if len(target.keys) == 1:
        g.eval_into(target.keys[0], key, info.key, key=True)
    else:
        from ..types import TupleType
        assert isinstance(info.key, TupleType)
        offs, _ = M.stored_layout(info.key)
        for k, kt, off in zip(target.keys, info.key.elems, offs):
            g.eval_into(k, g.gep(key, off), kt, key=True)
    g.store_int(idx, g.gep(key, binding.key_size - 8), 8)
    return key
