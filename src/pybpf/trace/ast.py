"""The bpftrace-language syntax tree: plain frozen dataclasses.

Every node carries a :class:`Span` (1-based line/column, end column exclusive, as bpftrace
prints ``file:line:col-endcol``) and a ``node_id`` that is unique within one parsed
:class:`Program`; the semantic pass keys its type table by ``node_id``.  Neither takes part in
equality, so two trees that differ only in layout compare equal (handy for tests).

Code generation walks the tree with dict dispatch on the node class, e.g.::

    handlers = {ast.Integer: gen_int, ast.Binop: gen_binop, ...}
    handlers[type(node)](node)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

# the parts a compiled program keeps (the runtime and the cache import them without the tree)
from .points import NO_SPAN as NO_SPAN, AttachPoint as AttachPoint, ProbeType as ProbeType, Span as Span
from .points import _nid, _span

# --------------------------------------------------------------------------- operators


class BinaryOp(enum.StrEnum):
    """Binary operators with their C spelling."""

    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    SHL = "<<"
    SHR = ">>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="
    BAND = "&"
    BXOR = "^"
    BOR = "|"
    LAND = "&&"
    LOR = "||"


class UnaryOp(enum.StrEnum):
    """Unary operators; ``PRE_*``/``POST_*`` are ``++``/``--`` before/after the operand."""

    NEG = "-"
    PLUS = "+"
    NOT = "!"
    BNOT = "~"
    DEREF = "*"
    ADDR = "&"
    PRE_INC = "++x"
    PRE_DEC = "--x"
    POST_INC = "x++"
    POST_DEC = "x--"


# --------------------------------------------------------------------------- types in source


@dataclass(frozen=True, slots=True)
class TypeName:
    """A type written in the source: ``uint8``, ``struct task_struct *``, ``int8[4]``.

    ``name`` keeps the ``struct``/``union``/``enum`` keyword (``"struct task_struct"``);
    ``pointer_depth`` counts the ``*``; ``array_len`` is set for ``T[N]``.
    """

    name: str
    pointer_depth: int = 0
    array_len: int | None = None
    span: Span = _span()
    node_id: int = _nid()


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer literal (already decoded: hex/octal/``_``/suffixes/exponent)."""

    value: int
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class String:
    """A string literal with escapes decoded."""

    value: str
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Builtin:
    """A builtin variable: ``pid``, ``comm``, ``arg0``, ``retval``, ``args``, ``curtask``, ``kstack``..."""

    name: str
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Identifier:
    """A bare identifier that is not a builtin: an enum value, ``perf`` in ``kstack(perf)``..."""

    name: str
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Variable:
    """A scratch variable ``$name`` (``name`` without the ``$``)."""

    name: str
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class PositionalParam:
    """``$1``, ``$2``... (``index`` >= 1)."""

    index: int
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ParamCount:
    """``$#``: the number of positional parameters."""

    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Map:
    """``@name[k1, k2]``; ``name`` includes the ``@`` (``"@"`` for the anonymous map).

    ``keys`` is empty for a scalar map (``@x``); several keys form a tuple key.
    """

    name: str
    keys: tuple[Expr, ...] = ()
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Call:
    """A function call ``name(args)``: printf, str, count, hist, kstack(perf, 3)..."""

    name: str
    args: tuple[Expr, ...] = ()
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Binop:
    """``left op right``."""

    op: BinaryOp
    left: Expr
    right: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Unop:
    """A unary operator, including ``*p``, ``&x``, ``++x`` and ``x--``."""

    op: UnaryOp
    operand: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Ternary:
    """``cond ? then : otherwise``."""

    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """``expr.field`` (``arrow=False``) or ``expr->field`` (``arrow=True``)."""

    expr: Expr
    field: str
    arrow: bool = False
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ArrayAccess:
    """``expr[index]`` on a pointer or an array (maps use :class:`Map`)."""

    expr: Expr
    index: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Cast:
    """``(type)expr``."""

    type: TypeName
    expr: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Tuple:
    """``(a, b, ...)`` with at least two elements."""

    elems: tuple[Expr, ...]
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Sizeof:
    """``sizeof(type)`` or ``sizeof(expr)``."""

    arg: TypeName | Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Offsetof:
    """``offsetof(struct X, a.b)`` or ``offsetof(expr, a)``; ``fields`` is the member path."""

    arg: TypeName | Expr
    fields: tuple[str, ...]
    span: Span = _span()
    node_id: int = _nid()


Expr = Union[
    Integer, String, Builtin, Identifier, Variable, PositionalParam, ParamCount, Map, Call,
    Binop, Unop, Ternary, FieldAccess, ArrayAccess, Cast, Tuple, Sizeof, Offsetof,
]


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Block:
    """``{ stmt; stmt; ... }``."""

    stmts: tuple[Stmt, ...] = ()
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ExprStmt:
    """An expression evaluated for its effect: ``printf(...)``, ``@x++``, ``delete(@m[k])``."""

    expr: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class VarAssign:
    """``$x = value`` or, with ``op``, ``$x op= value``."""

    target: Variable
    value: Expr
    op: BinaryOp | None = None
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class MapAssign:
    """``@m[k] = value`` (value may be an aggregation call: ``count()``, ``hist(x)``...),
    or with ``op`` a compound assignment ``@m[k] op= value``."""

    target: Map
    value: Expr
    op: BinaryOp | None = None
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class If:
    """``if (cond) {..} else {..}``; ``else if`` becomes an ``otherwise`` block holding an If."""

    cond: Expr
    then: Block
    otherwise: Block | None = None
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Unroll:
    """``unroll(count) {..}``; ``count`` is an integer expression (a literal or ``$1``)."""

    count: Expr
    body: Block
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class While:
    """``while (cond) {..}``."""

    cond: Expr
    body: Block
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ForMap:
    """``for ($kv : @m) {..}``: ``$kv.0`` is the key, ``$kv.1`` the value."""

    var: Variable
    map: Map
    body: Block
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ForRange:
    """``for ($i : start..end) {..}`` (``end`` exclusive)."""

    var: Variable
    start: Expr
    end: Expr
    body: Block
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Return:
    """``return`` or ``return expr``."""

    value: Expr | None = None
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Break:
    """``break``."""

    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Continue:
    """``continue``."""

    span: Span = _span()
    node_id: int = _nid()


Stmt = Union[ExprStmt, VarAssign, MapAssign, If, Unroll, While, ForMap, ForRange, Return, Break, Continue, Block]


# --------------------------------------------------------------------------- top level


@dataclass(frozen=True, slots=True)
class Probe:
    """``ap1, ap2 /predicate/ { block }``."""

    attach_points: tuple[AttachPoint, ...]
    predicate: Expr | None
    block: Block
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Include:
    """``#include <path>`` (``system=True``) or ``#include "path"``: recorded, not expanded."""

    path: str
    system: bool = True
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class CField:
    """One member of a C definition: ``type name[array_len]``."""

    type: TypeName
    name: str
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class CDefinition:
    """A top-level C ``struct``/``union`` definition (``kind`` is ``"struct"`` or ``"union"``),
    or an ``enum`` (``enumerators`` set, ``fields`` empty). ``text`` is the source as written."""

    kind: str
    name: str
    fields: tuple[CField, ...] = ()
    enumerators: tuple[tuple[str, int], ...] = ()
    text: str = ""
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class ConfigItem:
    """``key = value`` inside ``config = { ... }``."""

    key: str
    value: Expr
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Config:
    """The optional ``config = { key = value; ... }`` block."""

    items: tuple[ConfigItem, ...] = ()
    span: Span = _span()
    node_id: int = _nid()


@dataclass(frozen=True, slots=True)
class Program:
    """A whole script. ``source``/``filename`` are kept for error messages."""

    probes: tuple[Probe, ...]
    includes: tuple[Include, ...] = ()
    definitions: tuple[CDefinition, ...] = ()
    config: Config | None = None
    filename: str = field(default="stdin", compare=False)
    source: str = field(default="", compare=False, repr=False)
    span: Span = _span()
    node_id: int = _nid()


Node = Union[Expr, Stmt, TypeName, AttachPoint, Probe, Include, CField, CDefinition, ConfigItem, Config, Program]


def children(node: object) -> tuple[object, ...]:
    """The direct child nodes of ``node`` in source order (for generic walks)."""
    out: list[object] = []
    for name in getattr(type(node), "__dataclass_fields__", {}):
        if name in ("span", "node_id"):
            continue
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(v for v in value if hasattr(v, "node_id"))
        elif hasattr(value, "node_id"):
            out.append(value)
    return tuple(out)


def walk(node: object):  # type: ignore[no-untyped-def]
    """Yield ``node`` and every node below it, depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))
