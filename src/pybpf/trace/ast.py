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


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in the source: 1-based ``line``/``col``; ``end_col`` is exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def merge(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(self.line, self.col, other.end_line, other.end_col)


#: the span of a node built by code rather than parsed
NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, kw_only=True, compare=False, repr=False)  # type: ignore[return-value]


def _nid() -> int:
    return field(default=0, kw_only=True, compare=False, repr=False)  # type: ignore[return-value]


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


class ProbeType(enum.StrEnum):
    """Canonical probe provider names (aliases such as ``t``/``kfunc`` are resolved by the parser)."""

    BEGIN = "BEGIN"
    END = "END"
    TRACEPOINT = "tracepoint"
    RAWTRACEPOINT = "rawtracepoint"
    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    FENTRY = "fentry"
    FEXIT = "fexit"
    UPROBE = "uprobe"
    URETPROBE = "uretprobe"
    USDT = "usdt"
    PROFILE = "profile"
    INTERVAL = "interval"
    SOFTWARE = "software"
    HARDWARE = "hardware"
    ITER = "iter"
    WATCHPOINT = "watchpoint"
    ASYNCWATCHPOINT = "asyncwatchpoint"


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
class AttachPoint:
    """One attach point of a probe, split into its parts.

    ==============================  ======================================================
    source                          fields
    ==============================  ======================================================
    ``BEGIN``                       provider=BEGIN
    ``tracepoint:sched:sched_*``    provider=TRACEPOINT, target="sched", func="sched_*"
    ``rawtracepoint:[mod:]name``    provider=RAWTRACEPOINT, target=mod, func=name
    ``kprobe:[mod:]f+0x10``         provider=KPROBE, target=mod, func="f", offset=16
    ``fentry:[mod:]f``              provider=FENTRY, target=mod, func="f"
    ``uprobe:/bin/bash:readline``   provider=UPROBE, target="/bin/bash", func="readline"
    ``uprobe:/bin/x:0x1234``        provider=UPROBE, target="/bin/x", address=0x1234
    ``usdt:/bin/x:ns:probe``        provider=USDT, target="/bin/x", namespace="ns", func="probe"
    ``profile:hz:99``               provider=PROFILE, unit="hz", freq=99
    ``interval:ms:100``             provider=INTERVAL, unit="ms", freq=100
    ``software:cpu-clock:1000``     provider=SOFTWARE, func="cpu-clock", freq=1000 (0: default)
    ``hardware:cache-misses:1e6``   provider=HARDWARE, func="cache-misses", freq=1000000
    ``iter:task``                   provider=ITER, func="task"
    ``watchpoint:0x1000:8:rw``      provider=WATCHPOINT, address=0x1000, length=8, mode="rw"
    ==============================  ======================================================

    ``raw`` is the text as written; ``wildcard`` is True when ``target`` or ``func`` contains
    ``*`` or ``?`` (see :mod:`pybpf.trace.probes` for expansion).
    """

    raw: str
    provider: ProbeType
    target: str = ""
    namespace: str = ""
    func: str = ""
    offset: int | None = None
    address: int | None = None
    unit: str = ""
    freq: int = 0
    length: int = 0
    mode: str = ""
    span: Span = _span()
    node_id: int = _nid()

    @property
    def wildcard(self) -> bool:
        """Whether the attach point needs expansion against the system's probe list."""
        return any(c in s for s in (self.target, self.namespace, self.func) for c in "*?[")

    @property
    def name(self) -> str:
        """The canonical probe name bpftrace shows for ``probe`` (``tracepoint:sched:sched_switch``)."""
        parts = [str(self.provider)]
        parts += _NAME_PARTS[self.provider](self)
        return ":".join(parts)


def _name_target_func(ap: AttachPoint) -> list[str]:
    return [p for p in (ap.target, ap.func) if p] if ap.target else [ap.func]


def _name_uprobe(ap: AttachPoint) -> list[str]:
    func = ap.func if ap.address is None else hex(ap.address)
    if ap.offset:
        func += f"+{ap.offset}"
    return [ap.target, func]


def _name_kprobe(ap: AttachPoint) -> list[str]:
    func = ap.func if not ap.offset else f"{ap.func}+{ap.offset}"
    return [p for p in (ap.target, func) if p]


_NAME_PARTS = {
    ProbeType.BEGIN: lambda ap: [],
    ProbeType.END: lambda ap: [],
    ProbeType.TRACEPOINT: lambda ap: [ap.target, ap.func],
    ProbeType.RAWTRACEPOINT: _name_target_func,
    ProbeType.KPROBE: _name_kprobe,
    ProbeType.KRETPROBE: _name_kprobe,
    ProbeType.FENTRY: _name_target_func,
    ProbeType.FEXIT: _name_target_func,
    ProbeType.UPROBE: _name_uprobe,
    ProbeType.URETPROBE: _name_uprobe,
    ProbeType.USDT: lambda ap: [p for p in (ap.target, ap.namespace, ap.func) if p],
    ProbeType.PROFILE: lambda ap: [ap.unit, str(ap.freq)],
    ProbeType.INTERVAL: lambda ap: [ap.unit, str(ap.freq)],
    ProbeType.SOFTWARE: lambda ap: [ap.func] + ([str(ap.freq)] if ap.freq else []),
    ProbeType.HARDWARE: lambda ap: [ap.func] + ([str(ap.freq)] if ap.freq else []),
    ProbeType.ITER: lambda ap: [ap.func],
    ProbeType.WATCHPOINT: lambda ap: [hex(ap.address or 0), str(ap.length), ap.mode],
    ProbeType.ASYNCWATCHPOINT: lambda ap: [hex(ap.address or 0), str(ap.length), ap.mode],
}


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
