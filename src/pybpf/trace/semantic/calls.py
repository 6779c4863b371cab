"""Type rules of bpftrace's functions and aggregations (one handler per function name)."""

from __future__ import annotations

import ipaddress
import signal as signal_mod
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import ast as A
from ..ast import ProbeType as P
from ..types import (
    INT64, UINT8, UINT64, AggKind, AggType, ArrayType, BufType, InetType, IntType, KsymType, MacAddrType,
    PointerType, RecordType, SpecialU64Type, StackMode, StackType, StringType, Type, U64Kind, UsymType,
    VoidType, VOID, kind_word,
)
from . import printf as _printf
from .events import layout
from .model import EventKind

if TYPE_CHECKING:
    from .analyser import Analyser

Handler = Callable[["Analyser", A.Call], "Type | None"]


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def _arity(self: Analyser, node: A.Call, lo: int, hi: int | None) -> None:
    n, f = len(node.args), node.name
    if hi == 0 and n:
        self.fail(f"{f}() requires no arguments ({n} provided)", node.span)
    if lo == hi and n != lo:
        self.fail(f"{f}() requires {lo} {_plural(lo)} ({n} provided)", node.span)
    if hi is not None and n > hi:
        self.fail(f"{f}() takes up to {hi} {_plural(hi)} ({n} provided)", node.span)
    if n < lo:
        self.fail(f"{f}() requires at least {lo} {_plural(lo)} ({n} provided)", node.span)


def _int_arg(self: Analyser, node: A.Call, i: int, what: str = "integer") -> Type | None:
    t = self.expr(node.args[i])
    if t is not None and not isinstance(t, (IntType, PointerType)):
        self.fail(f"{node.name}() only supports {what} arguments ({kind_word(t)} provided)", node.span)
    return t


def _literal_string(self: Analyser, node: A.Call, i: int) -> str:
    arg = node.args[i]
    self.expr(arg)
    if isinstance(arg, A.PositionalParam):
        return self.param(arg.index)
    if not isinstance(arg, A.String):
        t = self.tp.types.get(arg.node_id)
        kind = "integer" if isinstance(t, IntType) else str(t)
        self.fail(f"{node.name}() expects a string literal ({kind} provided)", node.span)
    return arg.value


def _emit(self: Analyser, node: A.Call, kind: EventKind, types: list[Type], **kw: object) -> None:
    if not self.final:
        return
    eid = len(self.tp.events)
    self.tp.events.append(layout(eid, kind, types, node_id=node.node_id, **kw))  # type: ignore[arg-type]
    self.tp.call_events[node.node_id] = eid


def _formatted(kind: EventKind, unsafe: bool = False) -> Handler:
    def handler(self: Analyser, node: A.Call) -> Type | None:
        if unsafe and not self.env.unsafe:
            self.fail(f"{node.name}() is an unsafe function being used in safe mode", node.span)
        if not node.args:
            self.fail(f"{node.name}() requires at least one argument (0 provided)", node.span)
        fmt = _literal_string(self, node, 0)
        types = [self.expr(a) for a in node.args[1:]]
        if any(t is None for t in types):
            return VOID
        for a, t in zip(node.args[1:], types):
            if isinstance(t, (VoidType, AggType)) and not (isinstance(t, AggType) and False):
                self.fail(f"{node.name}: value of type '{t}' cannot be printed here", a.span)
        problem = _printf.check_args(node.name, fmt, types)  # type: ignore[arg-type]
        if problem:
            self.fail(problem, node.span)
        _emit(self, node, kind, types, fmt=fmt)  # type: ignore[arg-type]
        return VOID
    return handler


def _print(self: Analyser, node: A.Call) -> Type | None:
    _arity(self, node, 1, 3)
    arg = node.args[0]
    if isinstance(arg, A.Map) and not arg.keys:
        if arg.name not in self.tp.maps:
            if self.final:
                self.fail(f"Undefined map: {arg.name}", node.span)
            return VOID
        self.set_type(arg, self.tp.maps[arg.name].value)
        extra = tuple(self.const_int(a, "print") for a in node.args[1:])
        _emit(self, node, EventKind.PRINT, [], map_name=arg.name, extra=extra)
        return VOID
    if len(node.args) > 1:
        self.fail(f"Non-map print() only takes 1 argument, {len(node.args)} found", node.span)
    t = self.expr(arg)
    if t is None:
        return VOID
    if isinstance(t, (VoidType, AggType)):
        self.fail(f"print() cannot print a value of type '{t}'", node.span)
    if isinstance(arg, A.Builtin) and arg.name in ("args", "ctx") and isinstance(t, RecordType):
        # the probe's context, not a value: bpftrace 0.17 refuses it with these words
        self.fail(f"(ctx) {t.name} * type passed to print() is not printable", node.span)
    _emit(self, node, EventKind.PRINT, [t])
    return VOID


def _time(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 0, 1)
    fmt = _literal_string(self, node, 0) if node.args else "%H:%M:%S\n"
    _emit(self, node, EventKind.TIME, [], fmt=fmt)
    return VOID


def _strftime(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 2, 2)
    fmt = _literal_string(self, node, 0)
    _int_arg(self, node, 1)
    return SpecialU64Type(U64Kind.TIMESTAMP, fmt)


def _join(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 2)
    t = _int_arg(self, node, 0, "pointer")
    sep = _literal_string(self, node, 1) if len(node.args) > 1 else " "
    if t is not None:
        _emit(self, node, EventKind.JOIN, [ArrayType(StringType(self.env.strlen), 16)], extra=(sep,))
    return VOID


def _str(self: Analyser, node: A.Call) -> Type | None:
    _arity(self, node, 1, 2)
    t = self.expr(node.args[0])
    size = self.env.strlen
    if len(node.args) == 2:
        lt = _int_arg(self, node, 1)
        if isinstance(node.args[1], A.Integer):
            size = min(size, node.args[1].value + 1) if node.args[1].value >= 0 else size
        elif lt is None:
            return None
    if t is None:
        return None
    if isinstance(t, StringType):
        return StringType(min(t.size, size))
    if not isinstance(t, (IntType, PointerType, ArrayType)):
        self.fail(f"str() expects an integer or a pointer type as first argument ({t} provided)", node.span)
    return StringType(size)


def _buf(self: Analyser, node: A.Call) -> Type | None:
    _arity(self, node, 1, 2)
    t = self.expr(node.args[0])
    if len(node.args) == 2:
        _int_arg(self, node, 1)
        if isinstance(node.args[1], A.Integer):
            return BufType(max(1, min(node.args[1].value, self.env.strlen)))
        return BufType(self.env.strlen)
    if isinstance(t, ArrayType):
        return BufType(t.size)
    if isinstance(t, StringType):
        return BufType(t.size)
    if t is not None:
        self.fail("buf() needs a length as second argument unless the first is an array", node.span)
    return None


def _addr_to(kind: Callable[[], Type]) -> Handler:
    def handler(self: Analyser, node: A.Call) -> Type:
        _arity(self, node, 1, 1)
        _int_arg(self, node, 0)
        return kind()
    return handler


def _kaddr(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    _literal_string(self, node, 0)
    return UINT64


def _uaddr(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    _literal_string(self, node, 0)
    if not all(p in (P.UPROBE, P.URETPROBE, P.USDT) for p in self.providers):
        self.fail("uaddr can only be used with uprobes and usdt probes", node.span)
    return PointerType(INT64)


def _ntop(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 2)
    if len(node.args) == 2:
        _int_arg(self, node, 0)
    t = self.expr(node.args[-1])
    if t is None:
        return InetType()
    if isinstance(t, IntType) and t.bits <= 32:
        return InetType()
    if isinstance(t, (ArrayType, StringType)) and t.size in (4, 16):
        return InetType()
    if isinstance(t, (IntType, PointerType)):
        return InetType()
    self.fail(f"ntop() expects an integer or array argument of size 4 or 16 ({t} provided)", node.span)


def _pton(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    text = _literal_string(self, node, 0)
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        self.fail(f"pton() expects a valid IPv4 or IPv6 address ('{text}' is not)", node.span)
    return ArrayType(UINT8, 4 if addr.version == 4 else 16)


def _macaddr(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    t = self.expr(node.args[0])
    if t is not None and not isinstance(t, (IntType, PointerType, ArrayType)):
        self.fail(f"macaddr() only supports array or pointer arguments ({t} provided)", node.span)
    if isinstance(t, ArrayType) and t.size < 6:
        self.fail("macaddr() argument must be at least 6 bytes", node.span)
    return MacAddrType()


def _strerror(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    _int_arg(self, node, 0)
    return SpecialU64Type(U64Kind.STRERROR)


def _signal(self: Analyser, node: A.Call) -> Type:
    if not self.env.unsafe:
        self.fail("signal() is an unsafe function being used in safe mode", node.span)
    _arity(self, node, 1, 1)
    arg = node.args[0]
    if isinstance(arg, A.String):
        self.expr(arg)
        name = arg.value if arg.value.startswith("SIG") else "SIG" + arg.value
        if name not in signal_mod.Signals.__members__:
            self.fail(f"signal(): unknown signal '{arg.value}'", node.span)
    else:
        _int_arg(self, node, 0)
    return VOID


def _exit(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 0, 1)
    if node.args:
        _int_arg(self, node, 0)
    _emit(self, node, EventKind.EXIT, [INT64] if node.args else [])
    return VOID


def _unwatch(self: Analyser, node: A.Call) -> Type:
    """``unwatch(addr)``: the runtime removes the watchpoints watchpoint:FUNC+argN set on addr."""
    _arity(self, node, 1, 1)
    _int_arg(self, node, 0, "integer or pointer")
    _emit(self, node, EventKind.UNWATCH, [UINT64])
    return VOID


def _whole_map(self: Analyser, node: A.Call, kind: EventKind | None) -> Type:
    _arity(self, node, 1, 1)
    arg = node.args[0]
    if not isinstance(arg, A.Map) or arg.keys:
        self.fail(f"{node.name}() expects a map with no keys, e.g. {node.name}(@m)", node.span)
    if arg.name not in self.tp.maps:
        if self.final:
            self.fail(f"Undefined map: {arg.name}", node.span)
        return VOID
    self.set_type(arg, self.tp.maps[arg.name].value)
    if kind is not None:
        _emit(self, node, kind, [], map_name=arg.name)
    return VOID


def _delete(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 2)
    arg = node.args[0]
    if not isinstance(arg, A.Map):
        self.fail("delete() expects a map element, e.g. delete(@m[key])", node.span)
    if len(node.args) == 2:
        if arg.keys:
            self.fail("delete(@m, key) takes the map without keys", node.span)
        arg = A.Map(arg.name, (node.args[1],), span=arg.span, node_id=arg.node_id)
    self.expr(arg)
    return VOID


def _len(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    arg = node.args[0]
    if isinstance(arg, A.Map) and not arg.keys:
        _whole_map(self, node, None)
        return INT64
    t = self.expr(arg)
    if t is not None and not isinstance(t, StackType):
        self.fail(f"len() expects a map or a stack ({t} provided)", node.span)
    return INT64


def _has_key(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 2, None)
    arg = node.args[0]
    if not isinstance(arg, A.Map) or arg.keys:
        self.fail("has_key() expects a map as first argument, e.g. has_key(@m, key)", node.span)
    self.expr(A.Map(arg.name, tuple(node.args[1:]), span=arg.span, node_id=arg.node_id))
    return INT64


def _stack(kernel: bool) -> Handler:
    def handler(self: Analyser, node: A.Call) -> Type:
        _arity(self, node, 0, 2)
        mode, limit = StackMode.BPFTRACE, self.env.stack_limit
        for arg in node.args:
            if isinstance(arg, A.Identifier) and arg.name in {m.value for m in StackMode}:
                mode = StackMode(arg.name)
                self.set_type(arg, VOID)
            elif isinstance(arg, A.Identifier):
                self.fail(f"{node.name}: unknown stack mode '{arg.name}' (use bpftrace, perf or raw)", arg.span)
            else:
                limit = self.const_int(arg, node.name)
                if not 1 <= limit <= 1024:
                    self.fail(f"{node.name}: stack size must be between 1 and 1024", arg.span)
        return StackType(kernel, mode, limit)
    return handler


def _agg(kind: AggKind, nargs: int) -> Handler:
    def handler(self: Analyser, node: A.Call) -> Type | None:
        _arity(self, node, nargs, nargs)
        signed = True
        if nargs:
            t = _int_arg(self, node, 0)
            signed = getattr(t, "signed", True)
        return AggType(kind, signed)
    return handler


def _hist(self: Analyser, node: A.Call) -> Type | None:
    _arity(self, node, 1, 2)
    t = _int_arg(self, node, 0)
    bits = self.const_int(node.args[1], "hist") if len(node.args) > 1 else 0
    if not 0 <= bits <= 5:
        self.fail("hist: bits must be between 0 and 5", node.args[1].span)
    return AggType(AggKind.HIST, getattr(t, "signed", True), bits=bits)


def _lhist(self: Analyser, node: A.Call) -> Type | None:
    _arity(self, node, 4, 4)
    t = _int_arg(self, node, 0)
    lo, hi, step = (self.const_int(a, "lhist") for a in node.args[1:])
    if lo < 0:
        self.fail("lhist() min must be non-negative", node.args[1].span)
    if hi <= lo:
        self.fail("lhist() max must be greater than min", node.args[2].span)
    if step <= 0:
        self.fail("lhist() step must be >= 1", node.args[3].span)
    if (hi - lo) // step > 1000:
        self.fail("lhist() too many buckets, must be <= 1000", node.span)
    return AggType(AggKind.LHIST, getattr(t, "signed", True), lo=lo, hi=hi, step=step)


def _cgroupid(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    _literal_string(self, node, 0)
    return UINT64


def _reg(self: Analyser, node: A.Call) -> Type:
    _arity(self, node, 1, 1)
    _literal_string(self, node, 0)
    return UINT64


CALLS: dict[str, Handler] = {
    "printf": _formatted(EventKind.PRINTF),
    "cat": _formatted(EventKind.CAT),
    "system": _formatted(EventKind.SYSTEM, unsafe=True),
    "print": _print,
    "time": _time,
    "strftime": _strftime,
    "join": _join,
    "str": _str,
    "buf": _buf,
    "ksym": _addr_to(KsymType),
    "usym": _addr_to(UsymType),
    "kaddr": _kaddr,
    "uaddr": _uaddr,
    "ntop": _ntop,
    "pton": _pton,
    "macaddr": _macaddr,
    "strerror": _strerror,
    "signal": _signal,
    "exit": _exit,
    "unwatch": _unwatch,
    "delete": _delete,
    "clear": lambda self, node: _whole_map(self, node, EventKind.CLEAR),
    "zero": lambda self, node: _whole_map(self, node, EventKind.ZERO),
    "len": _len,
    "has_key": _has_key,
    "kstack": _stack(True),
    "ustack": _stack(False),
    "count": _agg(AggKind.COUNT, 0),
    "sum": _agg(AggKind.SUM, 1),
    "avg": _agg(AggKind.AVG, 1),
    "min": _agg(AggKind.MIN, 1),
    "max": _agg(AggKind.MAX, 1),
    "stats": _agg(AggKind.STATS, 1),
    "hist": _hist,
    "lhist": _lhist,
    "cgroupid": _cgroupid,
    "reg": _reg,
}

__all__ = ["CALLS"]
