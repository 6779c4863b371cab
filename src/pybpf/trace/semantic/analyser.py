"""The semantic pass: walks the AST, types every expression, and checks bpftrace's rules.

It runs twice over the program: the first pass learns map types from every assignment (a map
may be read in a probe that comes before the one that writes it); the second pass checks
everything with all map types known and records events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from .. import ast as A
from ..ast import BinaryOp, ProbeType as P, UnaryOp
from ..errors import TraceSemanticError
from ..parser import INT_TYPES
from ..types import (
    INT64, UINT64, AddrSpace, AggType, ArrayType, Field, IntType, PointerType, RecordType, StringType, TupleType,
    Type, VoidType, kind_word, same_kind, unify,
)
from . import btftypes
from .builtins import BUILTINS as _BUILTINS
from .context import USER_PROBES, ContextBuilder, check_builtin
from .model import Env, EventKind, FieldBase, FieldInfo, MapInfo, ProbeInfo, TypedProgram

_COMPARISONS = frozenset({BinaryOp.LT, BinaryOp.LE, BinaryOp.GT, BinaryOp.GE, BinaryOp.EQ, BinaryOp.NE})
_LOGICAL = frozenset({BinaryOp.LAND, BinaryOp.LOR})

Pending = None  # a type not known yet (first pass only)


class Analyser:
    """One analysis of one program; use :func:`pybpf.trace.semantic.analyse`."""

    def __init__(self, program: A.Program, env: Env) -> None:
        self.program = program
        self.env: Env = env
        self.tp = TypedProgram(program, params=env.params, unsafe=env.unsafe)
        self.ctx = ContextBuilder(env, program.source, program.filename)
        self.final = False
        self.probe: ProbeInfo | None = None
        self.scope: dict[str, Type | None] = {}
        self.loops = 0
        self.record_base: dict[int, FieldBase] = {}
        self.cdefs = {f"{d.kind} {d.name}": d for d in program.definitions if d.kind != "enum"}
        self.enum_values = {n: v for d in program.definitions if d.kind == "enum" for n, v in d.enumerators}
        self._crecords: dict[str, RecordType] = {}
        from .calls import CALLS
        self.calls = CALLS

    # ----------------------------------------------------------------- driver

    def run(self) -> TypedProgram:
        self._config()
        self.tp.probes = [self.ctx.probe_info(i, p) for i, p in enumerate(self.program.probes)]
        for final in (False, True):
            self.final = final
            self.tp.events.clear()
            self.tp.call_events.clear()
            for info in self.tp.probes:
                self._probe(info)
        self._watch_events()
        return self.tp

    def _watch_events(self) -> None:
        """A ``watchpoint:FUNC+argN`` sends the address it finds in argN (a u64) to the runtime,
        which then sets the watchpoint: one event per such attach point, keyed by its node id."""
        from .events import layout

        for info in self.tp.probes:
            for ap in info.attach_points:
                if ap.provider in (P.WATCHPOINT, P.ASYNCWATCHPOINT) and ap.func:
                    self.tp.events.append(layout(len(self.tp.events), EventKind.WATCH, [IntType(64, False)],
                                                 node_id=ap.node_id))

    def _config(self) -> None:
        if self.program.config is None:
            return
        for item in self.program.config.items:
            if not isinstance(item.value, (A.Integer, A.String, A.Identifier)):
                self.fail(f"config value for '{item.key}' must be an integer or a string", item.value.span)
            value = getattr(item.value, "value", getattr(item.value, "name", None))
            self.tp.config[item.key] = value

    def _probe(self, info: ProbeInfo) -> None:
        self.probe = info
        self.scope = {}
        self.loops = 0
        p = info.probe
        if p.predicate is not None:
            t = self.expr(p.predicate)
            if t is not Pending and not isinstance(t, (IntType, PointerType)):
                self.fail(f"Invalid type for predicate: {t}", p.predicate.span)
        self.block(p.block)
        for name, t in self.scope.items():
            if t is not Pending:
                self.tp.variables[(info.index, name)] = t

    # ----------------------------------------------------------------- helpers

    def fail(self, message: str, span: A.Span) -> NoReturn:
        raise TraceSemanticError(message, span, source=self.program.source, filename=self.program.filename)

    def set_type(self, node: Any, t: Type | None) -> Type | None:
        if t is not Pending:
            self.tp.types[node.node_id] = t
        return t

    @property
    def providers(self) -> tuple[P, ...]:
        assert self.probe is not None
        return tuple(ap.provider for ap in self.probe.probe.attach_points)

    def user_space(self) -> AddrSpace:
        """Pointers made from plain integers in user probes point into user memory."""
        return AddrSpace.USER if all(p in USER_PROBES for p in self.providers) else AddrSpace.KERNEL

    # ----------------------------------------------------------------- statements

    def block(self, block: A.Block) -> None:
        for stmt in block.stmts:
            self.stmt(stmt)

    def stmt(self, node: A.Stmt) -> None:
        _STMT[type(node)](self, node)

    def _expr_stmt(self, node: A.ExprStmt) -> None:
        self.expr(node.expr)

    def _var_assign(self, node: A.VarAssign) -> None:
        name = node.target.name
        old = self.scope.get(name, Pending)
        if node.op is not None:
            if name not in self.scope:
                self.fail(f"Undefined or undeclared variable: ${name}", node.target.span)
            new = self.expr(A.Binop(node.op, node.target, node.value, span=node.span, node_id=node.node_id))
        else:
            new = self.expr(node.value)
        if new is not Pending and isinstance(new, (VoidType, AggType)):
            what = node.value.name if isinstance(node.value, A.Call) else str(new)
            self.fail(f"Value '{what}' cannot be assigned to a scratch variable.", node.span)
        if old is not Pending and new is not Pending:
            if not same_kind(old, new):
                self.fail(f"Type mismatch for ${name}: trying to assign value of type '{new}' when variable "
                          f"already contains a value of type '{old}'", node.value.span)
            new = unify(old, new)
        self.scope[name] = new if new is not Pending else old
        self.set_type(node.target, self.scope[name])

    def _map_assign(self, node: A.MapAssign) -> None:
        key = self.map_key(node.target)
        if node.op is not None:
            info = self.tp.maps.get(node.target.name)
            if info is not None and not isinstance(info.value, IntType):
                self.fail(f"Type mismatch for {node.target.name}: trying to use '{node.op}=' on a map "
                          f"containing a value of type '{info.value}'", node.span)
            value: Type | None = self.expr(node.value)
            if value is not Pending and not isinstance(value, (IntType, PointerType)):
                self.fail(f"Type mismatch for '{node.op}': comparing 'int64' with '{value}'", node.value.span)
            value = INT64 if value is Pending else IntType(64, getattr(value, "signed", True))
        elif isinstance(node.value, A.Call) and node.value.name in _AGGREGATIONS:
            value = self.call(node.value, aggregation_ok=True)
        else:
            value = self.expr(node.value)
        if value is not Pending and isinstance(value, VoidType):
            what = node.value.name if isinstance(node.value, A.Call) else "value"
            self.fail(f"Value '{what}' cannot be assigned to a map.", node.span)
        self.define_map(node.target, key, value, node.target.span)

    def define_map(self, target: A.Map, key: Type | None | bool, value: Type | None, span: A.Span) -> None:
        """Record (or check against) the key and value types of map ``target``."""
        name = target.name
        info = self.tp.maps.get(name)
        if value is Pending or key is Pending:
            return
        if info is None:
            self.tp.maps[name] = MapInfo(name, key if key is not False else None, value)  # type: ignore[arg-type]
        else:
            if not _value_compatible(info.value, value):
                self.fail(f"Type mismatch for {name}: trying to assign value of type '{value}' when map "
                          f"already contains a value of type '{info.value}'", span)
            self.tp.maps[name] = MapInfo(name, info.key, _value_unify(info.value, value))
        self.set_type(target, self.tp.maps[name].value)

    def map_key(self, target: A.Map) -> Type | None | bool:
        """Type the keys of ``target`` and check them against the map; False for no keys."""
        if not target.keys:
            key: Type | None | bool = False
        else:
            types = [self.expr(k) for k in target.keys]
            if any(t is Pending for t in types):
                return Pending
            for k, t in zip(target.keys, types):
                if isinstance(t, (VoidType, AggType)):
                    self.fail(f"{target.name}: a value of type '{t}' cannot be a map key", k.span)
            key = types[0] if len(types) == 1 else TupleType(tuple(types))  # type: ignore[arg-type]
        info = self.tp.maps.get(target.name)
        if info is not None:
            old = info.key
            mismatch = (old is None) != (key is False)
            if mismatch or (old is not None and not same_kind(old, key)):  # type: ignore[arg-type]
                self.fail(f"Argument mismatch for {target.name}: trying to access with arguments: "
                          f"[{_keys_str(key)}] when map expects arguments: [{_keys_str(old)}]", target.span)
            if old is not None:
                self.tp.maps[target.name] = MapInfo(target.name, unify(old, key), info.value)  # type: ignore[arg-type]
        return key

    def _if(self, node: A.If) -> None:
        self.condition(node.cond)
        self.block(node.then)
        if node.otherwise is not None:
            self.block(node.otherwise)

    def condition(self, cond: A.Expr) -> None:
        t = self.expr(cond)
        if t is not Pending and not isinstance(t, (IntType, PointerType)):
            self.fail(f"Invalid condition: expected an integer, got '{t}'", cond.span)

    def _unroll(self, node: A.Unroll) -> None:
        count = self.const_int(node.count, "unroll")
        if count < 1:
            self.fail("unroll minimum value is 1", node.count.span)
        if count > 100:
            self.fail("unroll maximum value is 100", node.count.span)
        self.block(node.body)

    def _loop_body(self, body: A.Block) -> None:
        self.loops += 1
        try:
            self.block(body)
        finally:
            self.loops -= 1

    def _while(self, node: A.While) -> None:
        self.condition(node.cond)
        self._loop_body(node.body)

    def _for_map(self, node: A.ForMap) -> None:
        info = self.tp.maps.get(node.map.name)
        if info is None:
            if self.final:
                self.fail(f"Undefined map: {node.map.name}", node.map.span)
            self.scope[node.var.name] = Pending
        else:
            value = info.value
            if isinstance(value, AggType):
                if value.kind.value in ("hist", "lhist", "stats"):
                    self.fail(f"Loop over map {node.map.name} of {value} values is not supported", node.map.span)
                value = IntType(64, value.signed)
            kv = TupleType((info.key if info.key is not None else INT64, value))
            self.scope[node.var.name] = kv
            self.set_type(node.map, info.value)
            self.set_type(node.var, kv)
        self._loop_body(node.body)

    def _for_range(self, node: A.ForRange) -> None:
        for e in (node.start, node.end):
            t = self.expr(e)
            if t is not Pending and not isinstance(t, IntType):
                self.fail(f"Loop range requires integer bounds, got '{t}'", e.span)
        self.scope[node.var.name] = INT64
        self.set_type(node.var, INT64)
        self._loop_body(node.body)

    def _return(self, node: A.Return) -> None:
        if node.value is not None:
            t = self.expr(node.value)
            if t is not Pending and not isinstance(t, IntType):
                self.fail(f"return value must be an integer, got '{t}'", node.value.span)

    def _loop_control(self, node: A.Break | A.Continue) -> None:
        if self.loops == 0:
            word = "break" if isinstance(node, A.Break) else "continue"
            self.fail(f"'{word}' statement is not in a loop", node.span)

    # ----------------------------------------------------------------- expressions

    def expr(self, node: A.Expr) -> Type | None:
        t = _EXPR[type(node)](self, node)
        return self.set_type(node, t)

    def const_int(self, node: A.Expr, what: str) -> int:
        """The value of an integer constant expression (literal, ``$N``, ``-literal``)."""
        self.expr(node)
        if isinstance(node, A.Integer):
            return node.value
        if isinstance(node, A.Unop) and node.op is UnaryOp.NEG and isinstance(node.operand, A.Integer):
            return -node.operand.value
        if isinstance(node, A.PositionalParam):
            text = self.param(node.index)
            if re.fullmatch(r"-?\d+|0[xX][0-9a-fA-F]+", text):
                return int(text, 0)
        if isinstance(node, A.Identifier) and node.name in self.enum_values:
            return self.enum_values[node.name]
        self.fail(f"{what}: expected an integer literal", node.span)

    def param(self, index: int) -> str:
        return self.env.params[index - 1] if 0 < index <= len(self.env.params) else ""

    def _integer(self, node: A.Integer) -> Type:
        return INT64 if node.value < (1 << 63) else UINT64

    def _string(self, node: A.String) -> Type:
        return StringType(len(node.value.encode("utf-8", "surrogateescape")) + 1)

    def _identifier(self, node: A.Identifier) -> Type:
        if node.name in self.enum_values:
            return INT64
        self.fail(f"Unknown identifier: '{node.name}'", node.span)

    def _variable(self, node: A.Variable) -> Type | None:
        if node.name not in self.scope:
            self.fail(f"Undefined or undeclared variable: ${node.name}", node.span)
        return self.scope[node.name]

    def _param(self, node: A.PositionalParam) -> Type:
        text = self.param(node.index)
        if text == "" or re.fullmatch(r"-?\d+|0[xX][0-9a-fA-F]+", text):
            return INT64
        return StringType(len(text.encode()) + 1)

    def _param_count(self, node: A.ParamCount) -> Type:
        return INT64

    def _builtin(self, node: A.Builtin) -> Type | None:
        assert self.probe is not None
        check_builtin(node.name, node.span, self.probe.probe.attach_points, TraceSemanticError,
                      self.program.source, self.program.filename)
        handler = _BUILTINS.get(node.name)
        if handler is not None:
            return handler(self, node)
        return UINT64  # argN, sargN

    def _map(self, node: A.Map) -> Type | None:
        key = self.map_key(node)
        info = self.tp.maps.get(node.name)
        if info is None:
            if self.final:
                self.fail(f"Undefined map: {node.name}", node.span)
            return Pending
        if key is Pending:
            return Pending
        return info.value

    def _call(self, node: A.Call) -> Type | None:
        return self.call(node)

    def call(self, node: A.Call, *, aggregation_ok: bool = False) -> Type | None:
        handler = self.calls.get(node.name)
        if handler is None:
            self.fail(f"Unknown function: {node.name}", node.span)
        if node.name in _AGGREGATIONS and not aggregation_ok:
            self.fail(f"{node.name}() should be directly assigned to a map", node.span)
        t = handler(self, node)
        return self.set_type(node, t)

    def _binop(self, node: A.Binop) -> Type | None:
        lt, rt = self.expr(node.left), self.expr(node.right)
        if lt is Pending or rt is Pending:
            return Pending
        op = node.op
        if isinstance(lt, StringType) and isinstance(rt, StringType) and op in (BinaryOp.EQ, BinaryOp.NE):
            return INT64
        if op in _LOGICAL:
            for t in (lt, rt):
                if not isinstance(t, (IntType, PointerType)):
                    self._mismatch(op, lt, rt, node.span)
            return INT64
        ok_l = isinstance(lt, (IntType, PointerType))
        ok_r = isinstance(rt, (IntType, PointerType))
        if not (ok_l and ok_r):
            self._mismatch(op, lt, rt, node.span)
        if op in _COMPARISONS:
            return INT64
        if isinstance(lt, PointerType) and isinstance(rt, IntType) and op in (BinaryOp.ADD, BinaryOp.SUB):
            return lt
        if isinstance(lt, IntType) and isinstance(rt, PointerType) and op is BinaryOp.ADD:
            return rt
        if isinstance(lt, PointerType) or isinstance(rt, PointerType):
            return UINT64
        assert isinstance(lt, IntType) and isinstance(rt, IntType)
        return IntType(64, lt.signed and rt.signed)

    def _mismatch(self, op: BinaryOp, lt: Type, rt: Type, span: A.Span) -> NoReturn:
        self.fail(f"Type mismatch for '{op}': comparing '{lt}' with '{rt}'", span)

    def _unop(self, node: A.Unop) -> Type | None:
        op = node.op
        if op in (UnaryOp.PRE_INC, UnaryOp.PRE_DEC, UnaryOp.POST_INC, UnaryOp.POST_DEC):
            return self._incdec(node)
        t = self.expr(node.operand)
        if t is Pending:
            return Pending
        if op is UnaryOp.DEREF:
            if isinstance(t, PointerType):
                if isinstance(t.target, VoidType):
                    self.fail("Can not dereference a 'void *' pointer: cast it first", node.span)
                if isinstance(t.target, RecordType):
                    self.record_base[node.node_id] = _space_base(t.space)
                return t.target
            if isinstance(t, IntType):
                return UINT64
            self.fail(f"Can not dereference type '{t}'", node.span)
        if op is UnaryOp.ADDR:
            if isinstance(t, RecordType) and node.operand.node_id in self.record_base:
                return PointerType(t)
            if isinstance(node.operand, A.FieldAccess):
                return PointerType(t)
            self.fail(f"Can not take the address of this expression (type '{t}')", node.span)
        if op is UnaryOp.NOT and isinstance(t, PointerType):
            return INT64
        if not isinstance(t, IntType):
            self.fail(f"The {op} operator can not be used on expressions of type '{t}'", node.span)
        if op is UnaryOp.NOT:
            return INT64
        if op is UnaryOp.NEG:
            return IntType(t.bits, True) if t.bits == 64 else INT64
        return t

    def _incdec(self, node: A.Unop) -> Type | None:
        target = node.operand
        if isinstance(target, A.Variable):
            t = self.expr(target)
            if t is not Pending and not isinstance(t, IntType):
                self.fail(f"The {_op_word(node.op)} operator can not be used on expressions of type '{t}'",
                          node.span)
            return t
        if isinstance(target, A.Map):
            key = self.map_key(target)
            info = self.tp.maps.get(target.name)
            if info is not None and not isinstance(info.value, IntType):
                self.fail(f"The {_op_word(node.op)} operator can not be used on expressions of type '{info.value}'",
                          node.span)
            self.define_map(target, key, INT64 if info is None else info.value, target.span)
            return self.tp.maps[target.name].value if target.name in self.tp.maps else Pending
        self.fail(f"The {_op_word(node.op)} operator must be applied to a map or variable", node.span)

    def _ternary(self, node: A.Ternary) -> Type | None:
        self.condition(node.cond)
        a, b = self.expr(node.then), self.expr(node.otherwise)
        if a is Pending or b is Pending:
            return a if b is Pending else b
        if not same_kind(a, b):
            self.fail(f"Ternary operator must return the same type: have '{kind_word(a)}' and '{kind_word(b)}'",
                      node.span)
        return unify(a, b)

    # ----------------------------------------------------------------- fields, casts

    def _field(self, node: A.FieldAccess) -> Type | None:
        base_t = self.expr(node.expr)
        if base_t is Pending:
            return Pending
        is_args = isinstance(node.expr, A.Builtin) and node.expr.name in ("args", "ctx")
        if isinstance(base_t, TupleType):
            if node.arrow or not node.field.isdigit():
                self.fail(f"Can not access field '{node.field}' on a tuple: use .0, .1, ...", node.span)
            i = int(node.field)
            if i >= len(base_t.elems):
                self.fail(f"Invalid tuple index: {i}. Found {len(base_t.elems)} elements in tuple.", node.span)
            t = base_t.elems[i]
            self.tp.fields[node.node_id] = FieldInfo(base_t.offsets[i], t, FieldBase.VALUE)
            return t
        if isinstance(base_t, PointerType) and isinstance(base_t.target, RecordType) and (node.arrow or is_args):
            record, base = base_t.target, _space_base(base_t.space)
            if is_args:
                base = FieldBase.CTX
        elif isinstance(base_t, RecordType) and (not node.arrow or is_args):
            record = base_t
            base = FieldBase.CTX if is_args else self.record_base.get(node.expr.node_id, FieldBase.KERNEL)
        elif isinstance(base_t, PointerType):
            self.fail(f"Can not access field '{node.field}' on type '{base_t}'. Try dereferencing it first, "
                      "or using '->'", node.span)
        elif isinstance(base_t, RecordType):
            self.fail(f"Can not access field '{node.field}' with '->' on type '{base_t}': it is not a pointer, "
                      "use '.'", node.span)
        else:
            self.fail(f"Can not access field '{node.field}' on expression of type '{base_t}'", node.span)
        info = self._member(record, node.field, base, node.span)
        self.tp.fields[node.node_id] = info
        if isinstance(info.type, RecordType):
            self.record_base[node.node_id] = base
        return info.type

    def _member(self, record: RecordType, name: str, base: FieldBase, span: A.Span) -> FieldInfo:
        f: Field | None = record.field(name)
        if f is not None:
            return FieldInfo(f.offset, f.type, base, f.data_loc, f.bits, f.bit_offset)
        if record.fields is None:
            btf = self.ctx.btf()
            hit = btftypes.find_member(btf, record, name) if btf is not None else None
            if hit is not None:
                off, tid, bits, bit_off = hit
                space = AddrSpace.USER if base is FieldBase.USER else AddrSpace.KERNEL
                t = btftypes.to_type(btf, tid, space)  # type: ignore[arg-type]
                return FieldInfo(off, t, base, False, bits, bit_off)
        why = self.ctx.unreadable_args.get((record.name, name))
        if why:
            self.fail(f"argument '{name}' of {why}", span)
        self.fail(f"Struct/union of type '{record.name}' does not contain a field named '{name}'", span)

    def _array(self, node: A.ArrayAccess) -> Type | None:
        base = self.expr(node.expr)
        it = self.expr(node.index)
        if it is not Pending and not isinstance(it, IntType):
            self.fail(f"The array index operator [] requires an integer index, got '{it}'", node.index.span)
        if base is Pending:
            return Pending
        if isinstance(base, ArrayType):
            if isinstance(node.index, A.Integer) and node.index.value >= base.count:
                self.fail(f"the index {node.index.value} is out of bounds for array of size {base.count}",
                          node.span)
            return base.elem
        if isinstance(base, PointerType):
            if isinstance(base.target, VoidType):
                self.fail("Can not index a 'void *' pointer: cast it first", node.span)
            return base.target
        self.fail(f"The array index operator [] can only be used on arrays and pointers, found {kind_word(base)}.",
                  node.span)

    def resolve_type(self, tn: A.TypeName) -> Type:
        """A TypeName written in the source -> Type (C definitions first, then kernel BTF)."""
        if tn.name in INT_TYPES:
            bits, signed = INT_TYPES[tn.name]
            t: Type = IntType(bits, signed)
        elif tn.name == "void":
            t = VoidType()
        else:
            t = self._record(tn)
        for _ in range(tn.pointer_depth):
            t = PointerType(t, self.user_space())
        if tn.array_len is not None:
            t = ArrayType(t, tn.array_len)
        return t

    def _record(self, tn: A.TypeName) -> RecordType:
        name = tn.name
        if name in self._crecords:
            return self._crecords[name]
        d = self.cdefs.get(name)
        if d is not None:
            rec = self._c_record(d)
            self._crecords[name] = rec
            return rec
        btf = self.ctx.btf()
        found = btftypes.record_by_name(btf, name) if btf is not None else None
        if found is None:
            if tn.pointer_depth and btf is None:
                return RecordType(name, 0)
            self.fail(f"Unknown struct/union: '{name}'", tn.span)
        return found

    def _c_record(self, d: A.CDefinition) -> RecordType:
        fields: list[Field] = []
        off = size = 0
        align = 1
        for cf in d.fields:
            t = self.resolve_type(cf.type) if cf.type.name != f"{d.kind} {d.name}" else PointerType(INT64)
            a = max(1, min(8, t.align))
            align = max(align, a)
            if d.kind == "union":
                fields.append(Field(cf.name, t, 0))
                size = max(size, t.size)
            else:
                off = (off + a - 1) // a * a
                fields.append(Field(cf.name, t, off))
                off += t.size
                size = off
        size = (size + align - 1) // align * align
        return RecordType(f"{d.kind} {d.name}", size, tuple(fields), align=align)

    def _cast(self, node: A.Cast) -> Type | None:
        target = self.resolve_type(node.type)
        t = self.expr(node.expr)
        if t is Pending:
            return target
        if isinstance(target, RecordType):
            self.fail(f"Cannot cast to '{target}': cast to a pointer ('{target} *') instead", node.span)
        if isinstance(target, ArrayType):
            if not isinstance(t, IntType) or target.size != t.size:
                self.fail(f"Cannot cast from '{t}' to '{target}'", node.span)
            return target
        if not isinstance(t, (IntType, PointerType)):
            self.fail(f"Cannot cast from '{t}' to '{target}'", node.span)
        if isinstance(target, PointerType) and isinstance(t, PointerType):
            return PointerType(target.target, t.space)
        return target

    def _tuple(self, node: A.Tuple) -> Type | None:
        types = [self.expr(e) for e in node.elems]
        if any(t is Pending for t in types):
            return Pending
        for e, t in zip(node.elems, types):
            if isinstance(t, (VoidType, AggType)):
                self.fail(f"Invalid expression in tuple: value of type '{t}'", e.span)
        return TupleType(tuple(types))  # type: ignore[arg-type]

    def _sizeof(self, node: A.Sizeof) -> Type:
        if isinstance(node.arg, A.TypeName):
            t: Type | None = self.resolve_type(node.arg)
        else:
            t = self.expr(node.arg)
        if t is not Pending and isinstance(t, RecordType) and t.size == 0:
            self.fail(f"sizeof: the size of '{t}' is unknown", node.span)
        return UINT64

    def _offsetof(self, node: A.Offsetof) -> Type:
        if isinstance(node.arg, A.TypeName):
            t: Type | None = self.resolve_type(node.arg)
        else:
            t = self.expr(node.arg)
        if t is Pending:
            return UINT64
        for name in node.fields:
            if not isinstance(t, RecordType):
                self.fail(f"offsetof: '{t}' is not a struct or union", node.span)
            t = self._member(t, name, FieldBase.VALUE, node.span).type
        return UINT64


def _op_word(op: UnaryOp) -> str:
    return {UnaryOp.PRE_INC: "++", UnaryOp.POST_INC: "++", UnaryOp.PRE_DEC: "--", UnaryOp.POST_DEC: "--"}.get(
        op, str(op))


def _space_base(space: AddrSpace) -> FieldBase:
    return FieldBase.USER if space is AddrSpace.USER else FieldBase.KERNEL


def _keys_str(key: Type | None | bool) -> str:
    if key is None or key is False:
        return ""
    if isinstance(key, TupleType):
        return ", ".join(str(t) for t in key.elems)
    return str(key)


def _value_compatible(old: Type, new: Type) -> bool:
    if isinstance(old, AggType) or isinstance(new, AggType):
        return isinstance(old, AggType) and isinstance(new, AggType) and old.kind == new.kind
    return same_kind(old, new)


def _value_unify(old: Type, new: Type) -> Type:
    if isinstance(old, AggType):
        assert isinstance(new, AggType)
        return AggType(old.kind, old.signed or new.signed, old.bits, old.lo, old.hi, old.step)
    return unify(old, new)


_AGGREGATIONS = frozenset({"count", "sum", "avg", "min", "max", "stats", "hist", "lhist"})


_STMT: dict[type, Callable[[Analyser, Any], None]] = {
    A.ExprStmt: Analyser._expr_stmt, A.VarAssign: Analyser._var_assign, A.MapAssign: Analyser._map_assign,
    A.If: Analyser._if, A.Unroll: Analyser._unroll, A.While: Analyser._while, A.ForMap: Analyser._for_map,
    A.ForRange: Analyser._for_range, A.Return: Analyser._return, A.Break: Analyser._loop_control,
    A.Continue: Analyser._loop_control, A.Block: Analyser.block,
}

_EXPR: dict[type, Callable[[Analyser, Any], Type | None]] = {
    A.Integer: Analyser._integer, A.String: Analyser._string, A.Builtin: Analyser._builtin,
    A.Identifier: Analyser._identifier, A.Variable: Analyser._variable, A.PositionalParam: Analyser._param,
    A.ParamCount: Analyser._param_count, A.Map: Analyser._map, A.Call: Analyser._call,
    A.Binop: Analyser._binop, A.Unop: Analyser._unop, A.Ternary: Analyser._ternary,
    A.FieldAccess: Analyser._field, A.ArrayAccess: Analyser._array, A.Cast: Analyser._cast,
    A.Tuple: Analyser._tuple, A.Sizeof: Analyser._sizeof, A.Offsetof: Analyser._offsetof,
}
