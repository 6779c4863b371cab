"""Expression lowering: literals, variables, maps, operators, field/array access, casts, tuples."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llvmlite import ir

from .. import ast as A
from ..ast import BinaryOp as B, UnaryOp as U
from ..semantic.model import FieldBase, FieldInfo
from ..types import AddrSpace, ArrayType, IntType, PointerType, RecordType, StringType, TupleType, Type
from . import maps as M
from .helpers import I64, Helper, call
from .irgen import CodegenError, const, is_scalar

if TYPE_CHECKING:
    from .irgen import ProbeGen


# --------------------------------------------------------------------------- integers


def int_binop(g: ProbeGen, op: B, a: ir.Value, b: ir.Value, signed: bool) -> ir.Value:
    """``a op b`` on i64 values (C semantics; x/0 and x%0 are 0)."""
    bld = g.b
    simple: dict[B, Callable[[ir.Value, ir.Value], ir.Value]] = {
        B.ADD: bld.add, B.SUB: bld.sub, B.MUL: bld.mul, B.BAND: bld.and_, B.BOR: bld.or_, B.BXOR: bld.xor,
        B.SHL: bld.shl,
    }
    if op in simple:
        return simple[op](a, b)
    if op is B.SHR:
        return bld.ashr(a, b) if signed else bld.lshr(a, b)
    if op in (B.DIV, B.MOD):
        return _divmod(g, op, a, b, signed)
    if op in _CMP:
        pred = _CMP[op]
        c = bld.icmp_signed(pred, a, b) if signed else bld.icmp_unsigned(pred, a, b)
        return bld.zext(c, I64)
    raise CodegenError(f"operator {op} cannot be applied to integers here")


_CMP = {B.LT: "<", B.LE: "<=", B.GT: ">", B.GE: ">=", B.EQ: "==", B.NE: "!="}


def _divmod(g: ProbeGen, op: B, a: ir.Value, b: ir.Value, signed: bool) -> ir.Value:
    bld = g.b
    zero = bld.icmp_unsigned("==", b, const(0))
    d = bld.select(zero, const(1), b)
    if not signed:
        r = bld.udiv(a, d) if op is B.DIV else bld.urem(a, d)
        return bld.select(zero, const(0), r)
    # cpu v3 has no signed division: divide magnitudes, then fix the sign
    an, dn = bld.icmp_signed("<", a, const(0)), bld.icmp_signed("<", d, const(0))
    aa = bld.select(an, bld.neg(a), a)
    dd = bld.select(dn, bld.neg(d), d)
    if op is B.DIV:
        q = bld.udiv(aa, dd)
        r = bld.select(bld.xor(an, dn), bld.neg(q), q)
    else:
        m = bld.urem(aa, dd)
        r = bld.select(an, bld.neg(m), m)
    return bld.select(zero, const(0), r)


def _signed(t: Type) -> bool:
    return bool(getattr(t, "signed", False)) and not isinstance(t, PointerType)


def _binop(g: ProbeGen, node: A.Binop) -> ir.Value:
    op = node.op
    lt, rt = g.type_of(node.left), g.type_of(node.right)
    if op in (B.LAND, B.LOR):
        return _logical(g, node)
    if isinstance(lt, StringType) and isinstance(rt, StringType):
        from .strings import string_equal
        eq = string_equal(g, node.left, node.right)
        if op is B.NE:
            eq = g.b.xor(eq, const(1))
        return eq
    a, b = g.int_expr(node.left), g.int_expr(node.right)
    if isinstance(lt, PointerType) and op in (B.ADD, B.SUB) and isinstance(lt.target, (IntType, RecordType)) \
            and lt.target.size > 1:
        b = g.b.mul(b, const(lt.target.size))
    return int_binop(g, op, a, b, _signed(lt) and _signed(rt))


def _logical(g: ProbeGen, node: A.Binop) -> ir.Value:
    first = g.truth(g.expr(node.left))
    start = g.b.block
    rhs, join = g.new_block("rhs"), g.new_block("logic_end")
    if node.op is B.LAND:
        g.b.cbranch(first, rhs, join)
    else:
        g.b.cbranch(first, join, rhs)
    g.b.position_at_end(rhs)
    second = g.b.zext(g.truth(g.expr(node.right)), I64)
    rhs_end = g.b.block
    g.b.branch(join)
    g.b.position_at_end(join)
    phi = g.b.phi(I64)
    phi.add_incoming(const(0 if node.op is B.LAND else 1), start)
    phi.add_incoming(second, rhs_end)
    return phi


def _unop(g: ProbeGen, node: A.Unop) -> ir.Value:
    op = node.op
    if op in (U.PRE_INC, U.PRE_DEC, U.POST_INC, U.POST_DEC):
        return _incdec(g, node)
    if op is U.DEREF:
        return _deref(g, node)
    if op is U.ADDR:
        return _address_of(g, node.operand)
    v = g.int_expr(node.operand)
    table: dict[U, Callable[[], ir.Value]] = {
        U.NEG: lambda: g.b.neg(v),
        U.PLUS: lambda: v,
        U.BNOT: lambda: g.b.not_(v),
        U.NOT: lambda: g.b.zext(g.b.icmp_unsigned("==", v, const(0)), I64),
    }
    return table[op]()


def _incdec(g: ProbeGen, node: A.Unop) -> ir.Value:
    delta = const(1 if node.op in (U.PRE_INC, U.POST_INC) else -1)
    post = node.op in (U.POST_INC, U.POST_DEC)
    target = node.operand
    if isinstance(target, A.Variable):
        ref, _ = g.var_ref(target.name)
        old = g.b.load(ref, align=8)
        new = g.b.add(old, delta)
        g.b.store(new, ref, align=8)
        return old if post else new
    binding = g.u.bindings[target.name]  # type: ignore[union-attr]
    key = g.map_key(target, binding)  # type: ignore[arg-type]
    old = g.map_read_int(binding, key)
    new = g.b.add(old, delta)
    g.map_write_int(binding, key, new)
    return old if post else new


def _ternary(g: ProbeGen, node: A.Ternary) -> ir.Value:
    t = g.type_of(node)
    cond = g.truth(g.expr(node.cond))
    then, other, join = g.new_block("tern_then"), g.new_block("tern_else"), g.new_block("tern_end")
    g.b.cbranch(cond, then, other)
    out = None if is_scalar(t) else g.slot(t.size)
    values = []
    for blk, arm in ((then, node.then), (other, node.otherwise)):
        g.b.position_at_end(blk)
        if out is None:
            values.append((g.int_expr(arm), g.b.block))
        else:
            g.eval_into(arm, out, t)
        g.b.branch(join)
    g.b.position_at_end(join)
    if out is not None:
        return out
    phi = g.b.phi(I64)
    for v, blk in values:
        phi.add_incoming(v, blk)
    return phi


# --------------------------------------------------------------------------- memory reads


def probe_read(g: ProbeGen, dest: ir.Value, size: int | ir.Value, addr: ir.Value, space: AddrSpace,
               *, string: bool = False) -> ir.Value:
    """Read ``size`` bytes at ``addr`` into ``dest``; falls back to the other address space on error
    (tracepoint and syscall pointers are often user pointers typed as kernel ones)."""
    first, second = (
        (Helper.PROBE_READ_USER_STR, Helper.PROBE_READ_KERNEL_STR) if string else
        (Helper.PROBE_READ_USER, Helper.PROBE_READ_KERNEL))
    if space is AddrSpace.KERNEL:
        first, second = second, first
    n = const(size) if isinstance(size, int) else size
    src = g.to_ptr(addr)
    r = call(g.b, first, dest, n, src)
    start = g.b.block
    _, join = g.if_then(g.b.icmp_signed("<", r, const(0)), "read_retry")
    r2 = call(g.b, second, dest, n, src)
    retry_end = g.b.block
    g.close(join)
    phi = g.b.phi(I64)
    phi.add_incoming(r, start)
    phi.add_incoming(r2, retry_end)
    return phi


def space_of(g: ProbeGen, base: FieldBase | None = None, t: Type | None = None) -> AddrSpace:
    if base is FieldBase.USER:
        return AddrSpace.USER
    if isinstance(t, PointerType):
        if t.space is AddrSpace.USER:
            return AddrSpace.USER
    from .probes import user_context
    if base is None and user_context(g):
        return AddrSpace.USER
    if g.ap.provider is A.ProbeType.TRACEPOINT and g.ap.target == "syscalls":
        return AddrSpace.USER
    return AddrSpace.KERNEL


def read_scalar(g: ProbeGen, addr: ir.Value, t: Type, space: AddrSpace) -> ir.Value:
    tmp = g.slot(8)
    g.zero(tmp, 8)
    size = min(t.size, 8) or 8
    probe_read(g, tmp, size, addr, space)
    return g.load_int(tmp, size, _signed(t))


def read_value(g: ProbeGen, addr: ir.Value, t: Type, space: AddrSpace) -> ir.Value:
    """The value of type ``t`` stored at address ``addr`` (i64 for scalars, else a scratch copy)."""
    if isinstance(t, RecordType):
        return addr
    if is_scalar(t):
        return read_scalar(g, addr, t, space)
    out = g.slot(t.size)
    g.zero(out, t.size)
    probe_read(g, out, t.size, addr, space)
    return out


def _deref(g: ProbeGen, node: A.Unop) -> ir.Value:
    pt = g.type_of(node.operand)
    t = g.type_of(node)
    addr = g.int_expr(node.operand)
    space = pt.space if isinstance(pt, PointerType) else space_of(g)
    return read_value(g, addr, t, space)


def _address_of(g: ProbeGen, node: A.Expr) -> ir.Value:
    if isinstance(node, A.FieldAccess):
        info = g.tp.fields[node.node_id]
        base = _record_base(g, node)
        return g.b.add(base, const(info.offset)) if base.type == I64 else g.b.ptrtoint(g.gep(base, info.offset), I64)
    return g.int_expr(node)


def _record_base(g: ProbeGen, node: A.FieldAccess) -> ir.Value:  # noqa: D401
    """The address (i64) or pointer (ctx/memory, i8*) that the field offset is relative to."""
    return g.expr(node.expr)


def _field(g: ProbeGen, node: A.FieldAccess) -> ir.Value:
    info: FieldInfo = g.tp.fields[node.node_id]
    t = info.type
    base = _record_base(g, node)
    if info.base in (FieldBase.CTX, FieldBase.VALUE) or isinstance(base.type, ir.PointerType):
        ptr = g.to_ptr(base)
        return _field_in_memory(g, info, ptr)
    addr = g.b.add(base, const(info.offset))
    if isinstance(t, RecordType):
        return addr
    if info.bits:
        v = read_scalar(g, addr, t, space_of(g, info.base))
        return _bitfield(g, v, info)
    return read_value(g, addr, t, space_of(g, info.base, t))


def _bitfield(g: ProbeGen, v: ir.Value, info: FieldInfo) -> ir.Value:
    v = g.b.lshr(v, const(info.bit_offset))
    return g.b.and_(v, const((1 << info.bits) - 1))


def _field_in_memory(g: ProbeGen, info: FieldInfo, base: ir.Value) -> ir.Value:
    t = info.type
    ptr = g.gep(base, info.offset)
    if info.data_loc:
        loc = g.load_int(ptr, 4)
        off = g.b.and_(loc, const(0xFFFF))
        out = g.slot(t.size)
        g.zero(out, t.size)
        call(g.b, Helper.PROBE_READ_KERNEL_STR, out, const(t.size), g.b.gep(base, [off]))
        return out
    if isinstance(t, RecordType):
        return ptr
    if isinstance(t, PointerType) and info.base is FieldBase.CTX and g.ap.provider is A.ProbeType.ITER:
        # iterator context members are trusted-or-null kernel pointers: read them as plain numbers
        tmp = g.slot(8)
        call(g.b, Helper.PROBE_READ_KERNEL, tmp, const(8), ptr)
        return g.load_int(tmp, 8)
    if is_scalar(t):
        size = min(t.size, 8)
        if info.base is FieldBase.CTX and size not in (1, 2, 4, 8):
            size = 8
        v = g.load_int(ptr, size, _signed(t))
        return _bitfield(g, v, info) if info.bits else v
    if info.base is FieldBase.CTX:
        out = g.slot(t.size)
        call(g.b, Helper.PROBE_READ_KERNEL, out, const(t.size), ptr)
        return out
    return ptr


def _array(g: ProbeGen, node: A.ArrayAccess) -> ir.Value:
    bt = g.type_of(node.expr)
    t = g.type_of(node)
    idx = g.int_expr(node.index)
    if isinstance(bt, (ArrayType, StringType)):
        base = g.expr(node.expr)
        elem = t.size
        count = bt.count if isinstance(bt, ArrayType) else bt.size
        if isinstance(node.index, A.Integer):
            off = node.index.value * elem
            p = g.gep(g.to_ptr(base), off)
        else:
            safe = g.b.urem(idx, const(count))  # keeps the verifier's bounds
            p = g.b.gep(g.to_ptr(base), [g.b.mul(safe, const(elem))])
        if isinstance(base.type, ir.PointerType):
            return g.load_int(p, elem, _signed(t)) if is_scalar(t) else p
        return read_value(g, g.b.ptrtoint(p, I64), t, space_of(g))
    assert isinstance(bt, PointerType)
    addr = g.b.add(g.int_expr(node.expr), g.b.mul(idx, const(max(1, t.size))))
    return read_value(g, addr, t, bt.space)


def _cast(g: ProbeGen, node: A.Cast) -> ir.Value:
    t = g.type_of(node)
    if isinstance(t, ArrayType):
        out = g.slot(t.size)
        g.store_int(g.int_expr(node.expr), out, t.size)
        return out
    v = g.int_expr(node.expr)
    if isinstance(t, IntType) and t.bits < 64:
        v = g.b.trunc(v, ir.IntType(t.bits))
        return g.b.sext(v, I64) if t.signed else g.b.zext(v, I64)
    return v


# --------------------------------------------------------------------------- leaves


def _integer(g: ProbeGen, node: A.Integer) -> ir.Value:
    return const(node.value)


def string_literal(g: ProbeGen, text: str, size: int | None = None) -> ir.Value:
    data = text.encode("utf-8", "surrogateescape") + b"\0"
    size = size or len(data)
    out = g.slot(size)
    g.store_bytes(out, data[:size].ljust(size, b"\0"))
    return out


def _string(g: ProbeGen, node: A.String) -> ir.Value:
    return string_literal(g, node.value)


def _variable(g: ProbeGen, node: A.Variable) -> ir.Value:
    ref, t = g.var_ref(node.name)
    return g.b.load(ref, align=8) if is_scalar(t) else ref


def _param(g: ProbeGen, node: A.PositionalParam) -> ir.Value:
    t = g.type_of(node)
    text = g.tp.params[node.index - 1] if node.index <= len(g.tp.params) else ""
    if isinstance(t, IntType):
        return const(int(text, 0) if text else 0)
    return string_literal(g, text, t.size)


def _param_count(g: ProbeGen, node: A.ParamCount) -> ir.Value:
    return const(len(g.tp.params))


def _map(g: ProbeGen, node: A.Map) -> ir.Value:
    return g.map_read(node)


def _tuple(g: ProbeGen, node: A.Tuple) -> ir.Value:
    t = g.type_of(node)
    assert isinstance(t, TupleType)
    out = g.slot(t.size)
    g.tuple_into(node, out, t)
    return out


def _sizeof(g: ProbeGen, node: A.Sizeof) -> ir.Value:
    if isinstance(node.arg, A.TypeName):
        from .calls import resolve_type
        return const(resolve_type(g, node.arg).size)
    return const(g.type_of(node.arg).size)


def _offsetof(g: ProbeGen, node: A.Offsetof) -> ir.Value:
    from .calls import resolve_type
    t = resolve_type(g, node.arg) if isinstance(node.arg, A.TypeName) else g.type_of(node.arg)
    if isinstance(t, PointerType):
        t = t.target
    off = 0
    for name in node.fields:
        assert isinstance(t, RecordType)
        f = t.field(name)
        if f is None:
            from ..semantic import btftypes
            from ...btf import kernel_btf
            hit = btftypes.find_member(kernel_btf(), t, name)
            if hit is None:
                raise CodegenError(f"offsetof: no field {name} in {t}")
            off += hit[0]
            t = btftypes.to_type(kernel_btf(), hit[1])
        else:
            off += f.offset
            t = f.type
    return const(off)


def _identifier(g: ProbeGen, node: A.Identifier) -> ir.Value:
    for d in g.tp.program.definitions:
        for name, value in d.enumerators:
            if name == node.name:
                return const(value)
    raise CodegenError(f"unknown identifier {node.name}")


def _builtin(g: ProbeGen, node: A.Builtin) -> ir.Value:
    from .builtins import builtin
    return builtin(g, node)


def _call(g: ProbeGen, node: A.Call) -> ir.Value:
    from .calls import CALLS
    handler = CALLS.get(node.name)
    if handler is None:
        raise CodegenError(f"line {node.span.line}: {node.name}() is not supported by this compiler yet")
    return handler(g, node)


EXPR: dict[type, Callable[[ProbeGen, Any], ir.Value]] = {
    A.Integer: _integer, A.String: _string, A.Builtin: _builtin, A.Identifier: _identifier,
    A.Variable: _variable, A.PositionalParam: _param, A.ParamCount: _param_count, A.Map: _map, A.Call: _call,
    A.Binop: _binop, A.Unop: _unop, A.Ternary: _ternary, A.FieldAccess: _field, A.ArrayAccess: _array,
    A.Cast: _cast, A.Tuple: _tuple, A.Sizeof: _sizeof, A.Offsetof: _offsetof,
}


def _into_call(g: ProbeGen, node: A.Call, dest: ir.Value, dsize: int) -> bool:
    from .calls import INTO_CALLS
    handler = INTO_CALLS.get(node.name)
    return handler is not None and handler(g, node, dest, dsize)


def _into_builtin(g: ProbeGen, node: A.Builtin, dest: ir.Value, dsize: int) -> bool:
    from .builtins import builtin_into
    return builtin_into(g, node, dest, dsize)


def _into_string(g: ProbeGen, node: A.String, dest: ir.Value, dsize: int) -> bool:
    data = node.value.encode("utf-8", "surrogateescape")[: max(dsize - 1, 0)]
    g.store_bytes(dest, data.ljust(dsize, b"\0"))
    return True


#: evaluate directly into a destination (no temporary copy); return False to fall back
INTO: dict[type, Callable[[ProbeGen, Any, ir.Value, int], bool]] = {
    A.Call: _into_call, A.Builtin: _into_builtin, A.String: _into_string,
}

__all__ = ["EXPR", "INTO", "int_binop", "probe_read", "read_value", "read_scalar", "space_of", "string_literal"]
