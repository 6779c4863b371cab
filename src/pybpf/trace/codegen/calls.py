"""Function calls: str, buf, ksym/usym, kaddr, ntop, macaddr, strerror, signal, delete, has_key,
len, kstack/ustack, cgroupid, reg, pton, strftime; event-producing calls go to :mod:`.events`."""

from __future__ import annotations

import os
import signal as signal_mod
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from llvmlite import ir

from .. import ast as A
from ..parser import INT_TYPES
from ..types import (
    AddrSpace, ArrayType, BufType, IntType, PointerType, StackType, StringType, Type, VoidType,
)
from . import builtins as BI
from . import probes as PR
from .exprs import probe_read, space_of
from .helpers import I64, Helper, call
from .irgen import CodegenError, const

if TYPE_CHECKING:
    from .irgen import ProbeGen

AF_INET, AF_INET6 = 2, 10


def _void(g: ProbeGen) -> ir.Value:
    return const(0)


def _str_space(g: ProbeGen, node: A.Expr) -> AddrSpace:
    return space_of(g, None, g.type_of(node))


def _str_into(g: ProbeGen, node: A.Call, dest: ir.Value, dsize: int) -> bool:
    t = g.type_of(node)
    src_t = g.type_of(node.args[0])
    size = min(t.size, dsize)
    if isinstance(src_t, (StringType, ArrayType)):
        return False
    g.zero(dest, dsize)
    addr = g.int_expr(node.args[0])
    n: int | ir.Value = size
    if len(node.args) == 2 and not isinstance(node.args[1], A.Integer):
        want = g.b.add(g.int_expr(node.args[1]), const(1))
        n = g.b.select(g.b.icmp_unsigned("<", want, const(size)), want, const(size))
    probe_read(g, dest, n, addr, _str_space(g, node.args[0]), string=True)
    return True


def _str(g: ProbeGen, node: A.Call) -> ir.Value:
    t = g.type_of(node)
    src_t = g.type_of(node.args[0])
    out = g.slot(t.size)
    if isinstance(src_t, (StringType, ArrayType)):
        g.zero(out, t.size)
        src = g.expr(node.args[0])
        g.copy(out, src, min(t.size, src_t.size))
        g.store_int(const(0), g.gep(out, t.size - 1), 1)
        return out
    _str_into(g, node, out, t.size)
    return out


def _buf(g: ProbeGen, node: A.Call) -> ir.Value:
    t = g.type_of(node)
    assert isinstance(t, BufType)
    out = g.slot(t.size)
    g.zero(out, t.size)
    src_t = g.type_of(node.args[0])
    if isinstance(src_t, (ArrayType, StringType)):
        src = g.expr(node.args[0])
        n = min(t.capacity, src_t.size)
        g.copy(g.gep(out, 1), src, n)
        g.store_int(const(n), out, 1)
        return out
    addr = g.int_expr(node.args[0])
    length: int | ir.Value = t.capacity
    if len(node.args) == 2 and not isinstance(node.args[1], A.Integer):
        want = g.int_expr(node.args[1])
        length = g.b.select(g.b.icmp_unsigned("<", want, const(t.capacity)), want, const(t.capacity))
    probe_read(g, g.gep(out, 1), length, addr, _str_space(g, node.args[0]))
    g.store_int(length if isinstance(length, ir.Value) else const(length), out, 1)
    return out


def _ksym(g: ProbeGen, node: A.Call) -> ir.Value:
    return g.int_expr(node.args[0])


def _usym(g: ProbeGen, node: A.Call) -> ir.Value:
    out = g.slot(16)
    g.store_int(g.int_expr(node.args[0]), out, 8)
    g.store_int(g.b.lshr(call(g.b, Helper.GET_CURRENT_PID_TGID), const(32)), g.gep(out, 8), 8)
    return out


@lru_cache(maxsize=1)
def _kallsyms() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                out.setdefault(parts[2], int(parts[0], 16))
    return out


def _kaddr(g: ProbeGen, node: A.Call) -> ir.Value:
    name = str(node.args[0].value)  # type: ignore[union-attr]
    addr = _kallsyms().get(name)
    if addr is None:
        raise CodegenError(f"kaddr: kernel symbol '{name}' not found in /proc/kallsyms")
    return const(addr)


def _ntop(g: ProbeGen, node: A.Call) -> ir.Value:
    out = g.slot(24)
    g.zero(out, 24)
    arg = node.args[-1]
    t = g.type_of(arg)
    family: ir.Value | None = g.int_expr(node.args[0]) if len(node.args) == 2 else None
    if isinstance(t, IntType):
        g.store_int(g.int_expr(arg), g.gep(out, 8), 4)
        fam = family if family is not None else const(AF_INET)
    elif isinstance(t, (ArrayType, StringType)):
        g.copy(g.gep(out, 8), g.expr(arg), t.size)
        fam = family if family is not None else const(AF_INET if t.size == 4 else AF_INET6)
    else:
        fam = family if family is not None else const(AF_INET)
        size = g.b.select(g.b.icmp_unsigned("==", fam, const(AF_INET)), const(4), const(16))
        addr = g.int_expr(arg)
        space = t.space if isinstance(t, PointerType) else space_of(g)
        probe_read(g, g.gep(out, 8), size, addr, space)
    g.store_int(fam, out, 8)
    return out


def _macaddr(g: ProbeGen, node: A.Call) -> ir.Value:
    out = g.slot(8)
    g.zero(out, 8)
    t = g.type_of(node.args[0])
    if isinstance(t, ArrayType):
        g.copy(out, g.expr(node.args[0]), 6)
    else:
        space = t.space if isinstance(t, PointerType) else space_of(g)
        probe_read(g, out, 6, g.int_expr(node.args[0]), space)
    return out


def _pton(g: ProbeGen, node: A.Call) -> ir.Value:
    import ipaddress
    data = ipaddress.ip_address(node.args[0].value).packed  # type: ignore[union-attr]
    out = g.slot(len(data))
    g.store_bytes(out, data)
    return out


def _signal(g: ProbeGen, node: A.Call) -> ir.Value:
    arg = node.args[0]
    if isinstance(arg, A.String):
        name = arg.value if arg.value.startswith("SIG") else "SIG" + arg.value
        sig: ir.Value = const(int(signal_mod.Signals[name]))
    else:
        sig = g.int_expr(arg)
    call(g.b, Helper.SEND_SIGNAL, sig)
    return const(0)


def _delete(g: ProbeGen, node: A.Call) -> ir.Value:
    target = node.args[0]
    assert isinstance(target, A.Map)
    keys = target.keys if len(node.args) == 1 else (node.args[1],)
    binding = g.u.bindings[target.name]
    if binding.bucket_key:
        raise CodegenError(f"delete() of one {target.name} histogram entry is not supported; use clear({target.name})")
    key = g.map_key(target, binding, keys)
    call(g.b, Helper.MAP_DELETE_ELEM, g.u.map_global(binding.bpf_name), key)
    return const(0)


def _has_key(g: ProbeGen, node: A.Call) -> ir.Value:
    target = node.args[0]
    assert isinstance(target, A.Map)
    binding = g.u.bindings[target.name]
    key = g.map_key(target, binding, tuple(node.args[1:]))
    return g.b.zext(g.truth(g.map_lookup(binding, key)), I64)


def _len(g: ProbeGen, node: A.Call) -> ir.Value:
    t = g.type_of(node.args[0])
    if isinstance(t, StackType):
        return g.load_int(g.expr(node.args[0]), 8)
    arg = node.args[0]
    assert isinstance(arg, A.Map)
    from .loops import map_length
    return map_length(g, arg.name)


def _stack_call(g: ProbeGen, node: A.Call) -> ir.Value:
    t = g.type_of(node)
    assert isinstance(t, StackType)
    out = g.slot(t.size)
    BI.stack(g, t, out)
    return out


def _stack_into(g: ProbeGen, node: A.Call, dest: ir.Value, dsize: int) -> bool:
    t = g.type_of(node)
    assert isinstance(t, StackType)
    if dsize == 8:
        g.store_int(BI.stack_id(g, t), dest, 8)
    else:
        BI.stack(g, t, dest)
    return True


def _cgroupid(g: ProbeGen, node: A.Call) -> ir.Value:
    path = node.args[0].value  # type: ignore[union-attr]
    try:
        return const(os.stat(path).st_ino)
    except OSError as e:
        raise CodegenError(f"cgroupid: cannot stat {path}: {e.strerror}") from None


def _reg(g: ProbeGen, node: A.Call) -> ir.Value:
    return PR.reg(g, str(node.args[0].value))  # type: ignore[union-attr]


def _passthrough(g: ProbeGen, node: A.Call) -> ir.Value:
    """strftime/strerror: the integer argument, formatted by the runtime."""
    return g.int_expr(node.args[-1])


def _event(g: ProbeGen, node: A.Call) -> ir.Value:
    from .events import emit_event
    emit_event(g, node)
    return const(0)


def resolve_type(g: ProbeGen, tn: A.TypeName) -> Type:
    """The size-bearing type of a TypeName (for sizeof)."""
    if tn.pointer_depth:
        return PointerType(VoidType())
    if tn.name in INT_TYPES:
        bits, signed = INT_TYPES[tn.name]
        t: Type = IntType(bits, signed)
    else:
        from ..semantic import btftypes
        from ...btf import kernel_btf
        rec = btftypes.record_by_name(kernel_btf(), tn.name)
        if rec is None:
            raise CodegenError(f"sizeof: unknown type {tn.name}")
        t = rec
    return ArrayType(t, tn.array_len) if tn.array_len is not None else t


CALLS: dict[str, Callable[[ProbeGen, Any], ir.Value]] = {
    "str": _str, "buf": _buf, "ksym": _ksym, "usym": _usym, "kaddr": _kaddr, "ntop": _ntop,
    "macaddr": _macaddr, "pton": _pton, "strerror": _passthrough, "strftime": _passthrough,
    "signal": _signal, "delete": _delete, "has_key": _has_key, "len": _len, "kstack": _stack_call,
    "ustack": _stack_call, "cgroupid": _cgroupid, "reg": _reg,
    "printf": _event, "cat": _event, "system": _event, "print": _event, "time": _event, "join": _event,
    "exit": _event, "clear": _event, "zero": _event, "unwatch": _event,
}

INTO_CALLS: dict[str, Callable[[ProbeGen, Any, ir.Value, int], bool]] = {
    "str": _str_into, "kstack": _stack_into, "ustack": _stack_into,
}

__all__ = ["CALLS", "INTO_CALLS", "resolve_type"]
