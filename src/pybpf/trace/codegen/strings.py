"""String comparison (bpftrace's ``==``/``!=`` on strings: equal up to the first NUL or the
shorter buffer), unrolled byte by byte."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from .. import ast as A
from .helpers import I64, I8
from .irgen import const

if TYPE_CHECKING:
    from .irgen import ProbeGen


def _operand(g: ProbeGen, node: A.Expr) -> tuple[ir.Value | None, bytes | None, int]:
    """(pointer, literal bytes, size) of one side."""
    t = g.type_of(node)
    if isinstance(node, A.String):
        data = node.value.encode("utf-8", "surrogateescape") + b"\0"
        return None, data, len(data)
    return g.expr(node), None, t.size


def string_equal(g: ProbeGen, left: A.Expr, right: A.Expr) -> ir.Value:
    """An i64 that is 1 when the two strings are equal."""
    lp, lb, ls = _operand(g, left)
    rp, rb, rs = _operand(g, right)
    if lp is None and rp is None:
        assert lb is not None and rb is not None
        return const(int(lb.split(b"\0")[0] == rb.split(b"\0")[0]))
    if lp is None:  # keep the literal on the right
        lp, lb, ls, rp, rb, rs = rp, rb, rs, lp, lb, ls
    n = min(ls, rs)
    done = g.new_block("streq_end")
    results: list[tuple[ir.Value, ir.Block]] = []
    for i in range(n):
        a = g.b.load(g.gep(lp, i), align=1)
        if rb is not None:
            bval: ir.Value = ir.Constant(I8, rb[i])
        else:
            bval = g.b.load(g.gep(rp, i), align=1)
        differ = g.b.icmp_unsigned("!=", a, bval)
        nxt = g.new_block("streq_next")
        results.append((const(0), g.b.block))
        g.b.cbranch(differ, done, nxt)
        g.b.position_at_end(nxt)
        if rb is not None and rb[i] == 0:  # literal ended and both matched up to here
            break
        end_here = g.b.icmp_unsigned("==", a, ir.Constant(I8, 0))
        nxt2 = g.new_block("streq_more")
        results.append((const(1), g.b.block))
        g.b.cbranch(end_here, done, nxt2)
        g.b.position_at_end(nxt2)
    results.append((const(1), g.b.block))
    g.b.branch(done)
    g.b.position_at_end(done)
    phi = g.b.phi(I64)
    for v, blk in results:
        phi.add_incoming(v, blk)
    return phi
