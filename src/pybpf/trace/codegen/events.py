"""Event records (printf, print, time, join, exit, cat, system, clear, zero) written into the ring
buffer: ``u64 id`` then the fields at the offsets semantic analysis laid out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from .. import ast as A
from ..semantic.model import EventKind, EventLayout
from ..types import ArrayType, StringType
from . import maps as M
from .exprs import probe_read, space_of
from .helpers import Helper, call
from .irgen import CodegenError, const

if TYPE_CHECKING:
    from .irgen import ProbeGen


def _value_args(node: A.Call, layout: EventLayout) -> tuple[A.Expr, ...]:
    return tuple(node.args[1:])


ARGS: dict[EventKind, Callable[[A.Call, EventLayout], tuple[A.Expr, ...]]] = {
    EventKind.PRINTF: _value_args,
    EventKind.CAT: _value_args,
    EventKind.SYSTEM: _value_args,
    EventKind.PRINT: lambda n, lay: tuple(n.args[:1]) if lay.fields else (),
    EventKind.TIME: lambda n, lay: (),
    EventKind.EXIT: lambda n, lay: tuple(n.args[:1]),
    EventKind.UNWATCH: lambda n, lay: tuple(n.args[:1]),
    EventKind.CLEAR: lambda n, lay: (),
    EventKind.ZERO: lambda n, lay: (),
    EventKind.JOIN: lambda n, lay: (),
}


def emit_event(g: ProbeGen, node: A.Call) -> None:
    """Reserve a record, fill it in and submit it (dropped when the ring buffer is full)."""
    eid = g.tp.call_events.get(node.node_id)
    if eid is None:
        raise CodegenError(f"line {node.span.line}: {node.name}() has no event layout")
    layout = g.tp.events[eid]
    rb = g.u.map_global(M.RINGBUF_NAME)
    rec = call(g.b, Helper.RINGBUF_RESERVE, rb, const(layout.size), const(0))
    reserved, lost, join = g.new_block("reserved"), g.new_block("lost"), g.new_block("reserved_end")
    g.b.cbranch(g.truth(rec), reserved, lost)
    g.b.position_at_end(lost)
    count_lost(g)
    g.b.branch(join)
    g.b.position_at_end(reserved)
    g.store_int(const(layout.id), rec, 8)
    if layout.kind is EventKind.JOIN:
        _join(g, node, layout, rec)
    else:
        for f, arg in zip(layout.fields, ARGS[layout.kind](node, layout)):
            g.eval_into(arg, g.gep(rec, f.offset), f.type)
    call(g.b, Helper.RINGBUF_SUBMIT, rec, const(0))
    g.close(join)
    if layout.kind is EventKind.EXIT:
        g.leave(1)


def count_lost(g: ProbeGen) -> None:
    """Add one to this CPU's lost-event counter (the ring buffer was full)."""
    p = call(g.b, Helper.MAP_LOOKUP_ELEM, g.u.map_global(M.LOST_NAME), g._zero_key)
    _, join = g.if_then(g.truth(p), "lost_count")
    g.store_int(g.b.add(g.load_int(p, 8), const(1)), p, 8)
    g.close(join)


def _join(g: ProbeGen, node: A.Call, layout: EventLayout, rec: ir.Value) -> None:
    field = layout.fields[0]
    t = field.type
    assert isinstance(t, ArrayType) and isinstance(t.elem, StringType)
    base = g.gep(rec, field.offset)
    for i in range(t.count):  # an empty string ends the list for the runtime
        g.store_int(const(0), g.gep(base, i * t.elem.size), 1)
    argv = g.int_expr(node.args[0])
    arg_t = g.type_of(node.args[0])
    space = space_of(g, None, arg_t)
    ptr_slot = g.slot(8)
    done = g.new_block("join_done")
    for i in range(t.count):
        g.zero(ptr_slot, 8)
        probe_read(g, ptr_slot, 8, g.b.add(argv, const(8 * i)), space)
        p = g.load_int(ptr_slot, 8)
        more = g.new_block("join_arg")
        g.b.cbranch(g.truth(p), more, done)
        g.b.position_at_end(more)
        probe_read(g, g.gep(base, i * t.elem.size), t.elem.size, p, space, string=True)
    g.b.branch(done)
    g.b.position_at_end(done)
