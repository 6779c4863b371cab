"""Recursive-descent parser (Pratt for expressions) for the bpftrace language.

``parse(text, filename="stdin") -> ast.Program``; syntax errors are
:class:`~pybpf.trace.errors.TraceSyntaxError` and read like bpftrace's::

    stdin:1:21-22: ERROR: syntax error, unexpected }, expecting ) or ","
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from . import ast as A
from .ast import BinaryOp, Span, UnaryOp
from .errors import TraceSyntaxError
from .lexer import Token, TokenKind, tokenize
from .probes import parse_attach_point

_Node = TypeVar("_Node")

#: builtin variable names (``argN``/``sargN`` are matched by pattern)
BUILTINS = frozenset({
    "pid", "tid", "uid", "gid", "ppid", "comm", "nsecs", "elapsed", "cpu", "ncpus", "cgroup", "curtask",
    "kstack", "ustack", "args", "retval", "func", "probe", "rand", "username", "cpid", "numaid",
    "jiffies", "sarg0", "ctx", "__builtin_retval",
})
_ARG_RE = re.compile(r"s?arg[0-9]+$")

#: integer type names accepted in casts and C definitions -> (bits, signed)
INT_TYPES: dict[str, tuple[int, bool]] = {
    "int8": (8, True), "int16": (16, True), "int32": (32, True), "int64": (64, True),
    "uint8": (8, False), "uint16": (16, False), "uint32": (32, False), "uint64": (64, False),
    "s8": (8, True), "s16": (16, True), "s32": (32, True), "s64": (64, True),
    "u8": (8, False), "u16": (16, False), "u32": (32, False), "u64": (64, False),
    "__s8": (8, True), "__s16": (16, True), "__s32": (32, True), "__s64": (64, True),
    "__u8": (8, False), "__u16": (16, False), "__u32": (32, False), "__u64": (64, False),
    "int8_t": (8, True), "int16_t": (16, True), "int32_t": (32, True), "int64_t": (64, True),
    "uint8_t": (8, False), "uint16_t": (16, False), "uint32_t": (32, False), "uint64_t": (64, False),
    "char": (8, True), "short": (16, True), "int": (32, True), "long": (64, True),
    "bool": (8, False), "size_t": (64, False), "pid_t": (32, True),
}

_BINARY: dict[str, tuple[int, BinaryOp]] = {
    "||": (4, BinaryOp.LOR), "&&": (5, BinaryOp.LAND), "|": (6, BinaryOp.BOR), "^": (7, BinaryOp.BXOR),
    "&": (8, BinaryOp.BAND), "==": (9, BinaryOp.EQ), "!=": (9, BinaryOp.NE),
    "<": (10, BinaryOp.LT), "<=": (10, BinaryOp.LE), ">": (10, BinaryOp.GT), ">=": (10, BinaryOp.GE),
    "<<": (11, BinaryOp.SHL), ">>": (11, BinaryOp.SHR), "+": (12, BinaryOp.ADD), "-": (12, BinaryOp.SUB),
    "*": (13, BinaryOp.MUL), "/": (13, BinaryOp.DIV), "%": (13, BinaryOp.MOD),
}
_TERNARY_PREC = 3
_UNARY: dict[str, UnaryOp] = {
    "-": UnaryOp.NEG, "+": UnaryOp.PLUS, "!": UnaryOp.NOT, "~": UnaryOp.BNOT, "*": UnaryOp.DEREF,
    "&": UnaryOp.ADDR, "++": UnaryOp.PRE_INC, "--": UnaryOp.PRE_DEC,
}
_COMPOUND: dict[str, BinaryOp | None] = {
    "=": None, "+=": BinaryOp.ADD, "-=": BinaryOp.SUB, "*=": BinaryOp.MUL, "/=": BinaryOp.DIV,
    "%=": BinaryOp.MOD, "&=": BinaryOp.BAND, "|=": BinaryOp.BOR, "^=": BinaryOp.BXOR,
    "<<=": BinaryOp.SHL, ">>=": BinaryOp.SHR,
}
_MAX_DEPTH = 100


class Parser:
    """Parses one token list; use :func:`parse`."""

    def __init__(self, source: str, filename: str = "stdin") -> None:
        self.source = source
        self.filename = filename
        self.toks = tokenize(source, filename)
        self.i = 0
        self.depth = 0
        self._ids = itertools.count(1)

    # ----------------------------------------------------------------- token helpers

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.toks[min(self.i + n, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind is not TokenKind.EOF:
            self.i += 1
        return t

    def at(self, text: str) -> bool:
        t = self.tok
        return t.kind in (TokenKind.PUNCT, TokenKind.KEYWORD) and t.text == text

    def accept(self, text: str) -> Token | None:
        if self.at(text):
            return self.advance()
        return None

    def error(self, message: str, span: Span) -> TraceSyntaxError:
        return TraceSyntaxError(message, span, source=self.source, filename=self.filename)

    def unexpected(self, *expecting: str) -> TraceSyntaxError:
        t = self.tok
        msg = f"syntax error, unexpected {t.describe()}"
        if expecting:
            msg += ", expecting " + " or ".join(expecting)
        return self.error(msg, t.span)

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.unexpected(_quote(text))
        return self.advance()

    def at_kind(self, kind: TokenKind) -> bool:
        """Whether the current token is of ``kind`` (a call, so checks after ``advance`` are not
        narrowed away by the type checker)."""
        return self.tok.kind is kind

    def node(self, cls: Callable[..., _Node], *args: Any, span: Span, **kw: Any) -> _Node:
        return cls(*args, span=span, node_id=next(self._ids), **kw)

    def _prev_span(self) -> Span:
        return self.toks[self.i - 1].span if self.i else self.tok.span

    def _span_from(self, start: Span) -> Span:
        return start.merge(self._prev_span())

    # ----------------------------------------------------------------- top level

    def program(self) -> A.Program:
        includes: list[A.Include] = []
        definitions: list[A.CDefinition] = []
        probes: list[A.Probe] = []
        config: A.Config | None = None
        while self.tok.kind is not TokenKind.EOF:
            t = self.tok
            if t.kind is TokenKind.PREPROC:
                includes.append(self.preprocessor())
            elif t.kind is TokenKind.CDEF:
                definitions.append(self.c_definition())
            elif t.kind is TokenKind.KEYWORD and t.text == "config":
                if config is not None or probes:
                    raise self.error("config block must come once, before the probes", t.span)
                config = self.config_block()
            elif t.kind is TokenKind.ATTACH:
                probes.append(self.probe())
            elif self.at(";"):
                self.advance()
            else:
                raise self.unexpected("attach point" if not probes else "attach point or end of file")
        if not probes:
            raise self.error("no probes: a program needs at least one probe such as 'BEGIN { ... }'",
                             self.tok.span)
        end = self.tok.span
        return self.node(A.Program, tuple(probes), tuple(includes), tuple(definitions), config,
                         filename=self.filename, source=self.source, span=Span(1, 1, end.line, end.col))

    def preprocessor(self) -> A.Include:
        t = self.advance()
        m = re.match(r'#\s*include\s*(?:<([^>]+)>|"([^"]+)")\s*$', str(t.value))
        if not m:
            raise self.error("only #include directives are supported (macros are not)", t.span)
        system = m.group(1) is not None
        return self.node(A.Include, m.group(1) or m.group(2), system, span=t.span)

    def config_block(self) -> A.Config:
        start = self.advance().span
        self.expect("=")
        self.expect("{")
        items: list[A.ConfigItem] = []
        while not self.at("}"):
            if self.tok.kind is not TokenKind.IDENT:
                raise self.unexpected("identifier", "}")
            key = self.advance()
            self.expect("=")
            value = self.expr()
            items.append(self.node(A.ConfigItem, str(key.value), value, span=key.span.merge(value.span)))
            if not self.accept(";") and not self.at("}"):
                raise self.unexpected(";", "}")
        self.expect("}")
        self.accept(";")
        return self.node(A.Config, tuple(items), span=self._span_from(start))

    def c_definition(self) -> A.CDefinition:
        from .cdefs import parse_c_definition

        t = self.advance()
        return parse_c_definition(t, self)

    def probe(self) -> A.Probe:
        aps: list[A.AttachPoint] = []
        start = self.tok.span
        while True:
            t = self.tok
            if t.kind is not TokenKind.ATTACH:
                raise self.unexpected("attach point")
            self.advance()
            ap = parse_attach_point(str(t.value), t.span, source=self.source, filename=self.filename)
            aps.append(replace(ap, node_id=next(self._ids)))
            if not self.accept(","):
                break
        predicate = None
        if self.tok.kind is TokenKind.PRED_START:
            self.advance()
            if self.at_kind(TokenKind.PRED_END):
                raise self.error("syntax error, empty predicate", self.tok.span)
            predicate = self.expr()
            if not self.at_kind(TokenKind.PRED_END):
                raise self.unexpected("/")
            self.advance()
        if not self.at("{"):
            raise self.unexpected("{")
        block = self.block()
        return self.node(A.Probe, tuple(aps), predicate, block, span=start.merge(block.span))

    # ----------------------------------------------------------------- statements

    def block(self) -> A.Block:
        start = self.expect("{").span
        stmts: list[A.Stmt] = []
        self._enter(start)
        while not self.at("}"):
            if self.at_kind(TokenKind.EOF):
                raise self.unexpected("}")
            if self.accept(";"):
                continue
            stmt, needs_sep = self.statement()
            stmts.append(stmt)
            if needs_sep and not self.accept(";") and not self.at("}"):
                raise self.unexpected("}" if self.tok.kind is not TokenKind.EOF else "}")
        end = self.advance().span
        self.depth -= 1
        return self.node(A.Block, tuple(stmts), span=start.merge(end))

    def _enter(self, span: Span) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"program nests deeper than {_MAX_DEPTH} levels", span)

    def statement(self) -> tuple[A.Stmt, bool]:
        """One statement and whether it must be followed by ``;`` or ``}``."""
        t = self.tok
        if t.kind is TokenKind.KEYWORD and t.text in _STATEMENT_KEYWORDS:
            return _STATEMENT_KEYWORDS[t.text](self)
        if self.at("{"):
            return self.block(), False
        if t.kind is TokenKind.VAR and self._assign_op_at(1):
            return self.assignment(self.primary()), True
        if t.kind is TokenKind.MAP:
            target = self.map_expr()
            if self._assign_op_at(0):
                return self.assignment(target), True
            expr = self.expr_continue(target)
            return self.node(A.ExprStmt, expr, span=expr.span), True
        expr = self.expr()
        return self.node(A.ExprStmt, expr, span=expr.span), True

    def _assign_op_at(self, n: int) -> bool:
        t = self.peek(n)
        return t.kind is TokenKind.PUNCT and t.text in _COMPOUND

    def assignment(self, target: Any) -> A.Stmt:
        op = _COMPOUND[self.advance().text]
        value = self.expr()
        span = target.span.merge(value.span)
        if isinstance(target, A.Variable):
            return self.node(A.VarAssign, target, value, op, span=span)
        return self.node(A.MapAssign, target, value, op, span=span)

    def if_stmt(self) -> tuple[A.Stmt, bool]:
        start = self.advance().span
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        then = self.block()
        otherwise = None
        if self.accept("else"):
            if self.at("if"):
                inner, _ = self.if_stmt()
                otherwise = self.node(A.Block, (inner,), span=inner.span)
            else:
                otherwise = self.block()
        return self.node(A.If, cond, then, otherwise, span=self._span_from(start)), False

    def unroll_stmt(self) -> tuple[A.Stmt, bool]:
        start = self.advance().span
        self.expect("(")
        count = self.expr()
        self.expect(")")
        body = self.block()
        return self.node(A.Unroll, count, body, span=self._span_from(start)), False

    def while_stmt(self) -> tuple[A.Stmt, bool]:
        start = self.advance().span
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        body = self.block()
        return self.node(A.While, cond, body, span=self._span_from(start)), False

    def for_stmt(self) -> tuple[A.Stmt, bool]:
        start = self.advance().span
        self.expect("(")
        if self.tok.kind is not TokenKind.VAR:
            raise self.unexpected("variable")
        var = self.primary()
        self.expect(":")
        if self.at_kind(TokenKind.MAP) and not self._range_follows():
            target = self.map_expr()
            if target.keys:
                raise self.error("for loops iterate over a whole map: write @m, not @m[...]", target.span)
            self.expect(")")
            body = self.block()
            return self.node(A.ForMap, var, target, body, span=self._span_from(start)), False
        lo = self.expr()
        self.expect("..")
        hi = self.expr()
        self.expect(")")
        body = self.block()
        return self.node(A.ForRange, var, lo, hi, body, span=self._span_from(start)), False

    def _range_follows(self) -> bool:
        """Whether a ``..`` appears before the closing ``)`` of a for header."""
        depth = 0
        for t in self.toks[self.i:]:
            if t.kind is TokenKind.PUNCT:
                if t.text in "([":
                    depth += 1
                elif t.text in ")]":
                    if depth == 0:
                        return False
                    depth -= 1
                elif t.text == ".." and depth == 0:
                    return True
                elif t.text == "{":
                    return False
            elif t.kind is TokenKind.EOF:
                return False
        return False

    def return_stmt(self) -> tuple[A.Stmt, bool]:
        t = self.advance()
        value = None
        if not self.at(";") and not self.at("}"):
            value = self.expr()
        return self.node(A.Return, value, span=self._span_from(t.span)), True

    def break_stmt(self) -> tuple[A.Stmt, bool]:
        return self.node(A.Break, span=self.advance().span), True

    def continue_stmt(self) -> tuple[A.Stmt, bool]:
        return self.node(A.Continue, span=self.advance().span), True

    # ----------------------------------------------------------------- expressions

    def expr(self, min_prec: int = 0) -> A.Expr:
        self._enter(self.tok.span)
        left = self.unary()
        self.depth -= 1
        return self.binary_rest(left, min_prec)

    def expr_continue(self, left: A.Expr) -> A.Expr:
        """Finish an expression whose first primary was already parsed."""
        return self.binary_rest(self.postfix(left), 0)

    def binary_rest(self, left: A.Expr, min_prec: int) -> A.Expr:
        while True:
            t = self.tok
            if t.kind is not TokenKind.PUNCT:
                return left
            if t.text == "?" and _TERNARY_PREC >= min_prec:
                self.advance()
                then = self.expr()
                self.expect(":")
                otherwise = self.expr(_TERNARY_PREC)
                left = self.node(A.Ternary, left, then, otherwise, span=left.span.merge(otherwise.span))
                continue
            entry = _BINARY.get(t.text)
            if entry is None or entry[0] < min_prec:
                return left
            prec, op = entry
            self.advance()
            self._enter(t.span)
            right = self.expr(prec + 1)
            self.depth -= 1
            left = self.node(A.Binop, op, left, right, span=left.span.merge(right.span))

    def unary(self) -> A.Expr:
        t = self.tok
        if t.kind is TokenKind.PUNCT and t.text in _UNARY:
            self.advance()
            self._enter(t.span)
            operand = self.unary()
            self.depth -= 1
            return self.node(A.Unop, _UNARY[t.text], operand, span=t.span.merge(operand.span))
        if self.at("(") and self._cast_follows():
            return self.cast()
        return self.postfix(self.primary())

    def _cast_follows(self) -> bool:
        t1, t2 = self.peek(1), self.peek(2)
        if t1.kind is TokenKind.KEYWORD and t1.text in ("struct", "union", "enum"):
            return True
        if t1.kind is not TokenKind.IDENT:
            return False
        if t1.text in INT_TYPES and t2.kind is TokenKind.PUNCT and t2.text in (")", "*", "["):
            return True
        if t2.kind is TokenKind.PUNCT and t2.text == "*":
            # (name *) or (name **): a pointer cast to a typedef'd or BTF type
            j = 2
            while self.peek(j).kind is TokenKind.PUNCT and self.peek(j).text == "*":
                j += 1
            return self.peek(j).kind is TokenKind.PUNCT and self.peek(j).text == ")"
        return False

    def type_name(self) -> A.TypeName:
        t = self.tok
        start = t.span
        if t.kind is TokenKind.KEYWORD and t.text in ("struct", "union", "enum"):
            self.advance()
            if self.tok.kind is not TokenKind.IDENT:
                raise self.unexpected("identifier")
            name = f"{t.text} {self.advance().value}"
        elif t.kind is TokenKind.IDENT:
            name = str(self.advance().value)
        else:
            raise self.unexpected("type name")
        depth = 0
        while self.accept("*"):
            depth += 1
        array_len = None
        if self.accept("["):
            if self.tok.kind is not TokenKind.INT:
                raise self.unexpected("integer")
            array_len = self.advance().int_value()
            self.expect("]")
        return self.node(A.TypeName, name, depth, array_len, span=self._span_from(start))

    def cast(self) -> A.Expr:
        start = self.advance().span
        tn = self.type_name()
        self.expect(")")
        operand = self.unary()
        return self.node(A.Cast, tn, operand, span=start.merge(operand.span))

    def postfix(self, e: A.Expr) -> A.Expr:
        while True:
            t = self.tok
            if t.kind is not TokenKind.PUNCT:
                return e
            if t.text in (".", "->"):
                self.advance()
                f = self.tok
                if f.kind not in (TokenKind.IDENT, TokenKind.INT, TokenKind.KEYWORD):
                    raise self.unexpected("identifier")
                self.advance()
                e = self.node(A.FieldAccess, e, str(f.value), t.text == "->", span=e.span.merge(f.span))
            elif t.text == "[":
                self.advance()
                index = self.expr()
                end = self.expect("]").span
                e = self.node(A.ArrayAccess, e, index, span=e.span.merge(end))
            elif t.text in ("++", "--"):
                self.advance()
                op = UnaryOp.POST_INC if t.text == "++" else UnaryOp.POST_DEC
                e = self.node(A.Unop, op, e, span=e.span.merge(t.span))
            else:
                return e

    def primary(self) -> A.Expr:
        t = self.tok
        handler = _PRIMARY.get(t.kind)
        if handler is None:
            raise self.unexpected()
        return handler(self)

    def _int(self) -> A.Expr:
        t = self.advance()
        return self.node(A.Integer, t.int_value(), span=t.span)

    def _string(self) -> A.Expr:
        t = self.advance()
        return self.node(A.String, str(t.value), span=t.span)

    def _var(self) -> A.Expr:
        t = self.advance()
        return self.node(A.Variable, str(t.value), span=t.span)

    def _param(self) -> A.Expr:
        t = self.advance()
        return self.node(A.PositionalParam, t.int_value(), span=t.span)

    def _param_count(self) -> A.Expr:
        return self.node(A.ParamCount, span=self.advance().span)

    def map_expr(self) -> A.Map:
        t = self.advance()
        keys: tuple[A.Expr, ...] = ()
        end = t.span
        if self.at("["):
            self.advance()
            if self.at("]"):
                raise self.unexpected("expression")
            keys = tuple(self.expr_list("]"))
            end = self.expect("]").span
        return self.node(A.Map, str(t.value), keys, span=t.span.merge(end))

    def expr_list(self, closer: str) -> list[A.Expr]:
        items = [self.expr()]
        while self.accept(","):
            items.append(self.expr())
        if not self.at(closer):
            raise self.unexpected(_quote(closer), '","')
        return items

    def _ident(self) -> A.Expr:
        t = self.advance()
        name = str(t.value)
        if self.at("("):
            self.advance()
            args: list[A.Expr] = [] if self.at(")") else self.expr_list(")")
            end = self.expect(")").span
            return self.node(A.Call, name, tuple(args), span=t.span.merge(end))
        if name in BUILTINS or _ARG_RE.match(name):
            return self.node(A.Builtin, name, span=t.span)
        return self.node(A.Identifier, name, span=t.span)

    def _keyword(self) -> A.Expr:
        t = self.tok
        if t.text == "sizeof":
            return self.sizeof()
        if t.text == "offsetof":
            return self.offsetof()
        raise self.unexpected()

    def _type_or_expr(self) -> A.TypeName | A.Expr:
        t1, t2 = self.tok, self.peek(1)
        if t1.kind is TokenKind.KEYWORD and t1.text in ("struct", "union", "enum"):
            return self.type_name()
        if t1.kind is TokenKind.IDENT and t1.text in INT_TYPES and t2.text in (")", ",", "*", "["):
            return self.type_name()
        return self.expr()

    def sizeof(self) -> A.Expr:
        start = self.advance().span
        self.expect("(")
        arg = self._type_or_expr()
        end = self.expect(")").span
        return self.node(A.Sizeof, arg, span=start.merge(end))

    def offsetof(self) -> A.Expr:
        start = self.advance().span
        self.expect("(")
        arg = self._type_or_expr()
        self.expect(",")
        fields = [self._field_name()]
        while self.accept("."):
            fields.append(self._field_name())
        end = self.expect(")").span
        return self.node(A.Offsetof, arg, tuple(fields), span=start.merge(end))

    def _field_name(self) -> str:
        if self.tok.kind is not TokenKind.IDENT:
            raise self.unexpected("identifier")
        return str(self.advance().value)

    def _paren(self) -> A.Expr:
        start = self.advance().span
        first = self.expr()
        if self.accept(","):
            elems = [first] + self.expr_list(")")
            end = self.expect(")").span
            return self.node(A.Tuple, tuple(elems), span=start.merge(end))
        if not self.at(")"):
            raise self.unexpected(")", '","')
        self.advance()
        return first


def _quote(text: str) -> str:
    return f'"{text}"' if text in (",",) else text


_STATEMENT_KEYWORDS: dict[str, Callable[[Parser], tuple[A.Stmt, bool]]] = {
    "if": Parser.if_stmt, "unroll": Parser.unroll_stmt, "while": Parser.while_stmt, "for": Parser.for_stmt,
    "return": Parser.return_stmt, "break": Parser.break_stmt, "continue": Parser.continue_stmt,
}

_PRIMARY: dict[TokenKind, Callable[[Parser], A.Expr]] = {
    TokenKind.INT: Parser._int,
    TokenKind.STRING: Parser._string,
    TokenKind.VAR: Parser._var,
    TokenKind.PARAM: Parser._param,
    TokenKind.PARAM_COUNT: Parser._param_count,
    TokenKind.MAP: Parser.map_expr,
    TokenKind.IDENT: Parser._ident,
    TokenKind.KEYWORD: Parser._keyword,
}
_PRIMARY_PUNCT = {"(": Parser._paren}


def _primary_punct(self: Parser) -> A.Expr:
    handler = _PRIMARY_PUNCT.get(self.tok.text)
    if handler is None:
        raise self.unexpected()
    return handler(self)


_PRIMARY[TokenKind.PUNCT] = _primary_punct


def parse(text: str, *, filename: str = "stdin") -> A.Program:
    """Parse a bpftrace program into an :class:`ast.Program`.

    >>> prog = parse('tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }')
    >>> prog.probes[0].attach_points[0].func
    'sys_enter_openat'
    """
    return Parser(text, filename).program()
