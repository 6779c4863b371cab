"""Tokenizer for the bpftrace language.

The lexer is context sensitive in the same places bpftrace's is: at the top level (outside
any ``{}``) a word starts an *attach point*, read raw up to whitespace, ``,``, ``{`` or the
``/`` opening a predicate (``uprobe:/bin/bash:readline`` keeps its path); ``#include`` lines
and C ``struct``/``union``/``enum`` definitions are single tokens there.  Inside blocks and
predicates it produces ordinary C-like tokens.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .ast import Span
from .errors import TraceSyntaxError


class TokenKind(enum.Enum):
    """What a token is; ``describe()`` gives the words bpftrace's errors use."""

    INT = "integer"
    STRING = "string"
    IDENT = "identifier"
    VAR = "variable"
    PARAM = "positional parameter"
    PARAM_COUNT = "$#"
    MAP = "map"
    ATTACH = "attach point"
    CDEF = "struct definition"
    PREPROC = "preprocessor directive"
    KEYWORD = "keyword"
    PUNCT = "punctuation"
    PRED_START = "/"
    PRED_END = "/ (end of predicate)"
    EOF = "end of file"


KEYWORDS = frozenset({
    "if", "else", "unroll", "while", "for", "return", "break", "continue", "sizeof", "offsetof",
    "struct", "union", "enum", "config",
})

#: operators, longest first so that maximal munch works
PUNCTUATION = (
    "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "..",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "+", "-", "*", "/", "%", "<", ">", "=", "!", "~", "&", "|", "^", "?", ":", ";", ",", ".",
    "(", ")", "{", "}", "[", "]",
)

_INT_RE = re.compile(
    r"(?:0[xX](?P<hex>[0-9a-fA-F][0-9a-fA-F_]*)|0[bB](?P<bin>[01][01_]*)|(?P<dec>[0-9][0-9_]*)(?:[eE](?P<exp>[0-9]+))?)"
    r"(?P<suffix>[uU](?:ll|LL|l|L)?|(?:ll|LL|l|L)[uU]?)?"
)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_START = re.compile(r"[A-Za-z_]")
_PATH_PROVIDERS = frozenset({"uprobe", "uretprobe", "u", "ur", "usdt", "U"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "e": "\x1b", "?": "?"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind``, the ``text`` as written, its decoded ``value`` and its ``span``."""

    kind: TokenKind
    text: str
    value: object
    span: Span

    def describe(self) -> str:
        """How bpftrace names this token in 'unexpected X' messages."""
        if self.kind in (TokenKind.PUNCT, TokenKind.KEYWORD):
            return self.text
        if self.kind is TokenKind.PRED_START:
            return "/"
        if self.kind is TokenKind.PRED_END:
            return "/"
        return str(self.kind.value)

    def int_value(self) -> int:
        """The value of an INT or PARAM token."""
        if not isinstance(self.value, int):
            raise TypeError(f"{self.kind.name} token {self.text!r} has no integer value")
        return self.value


class _TopState(enum.Enum):
    EXPECT_PROBE = 1
    PREDICATE = 2


class Lexer:
    """Turns source text into a list of :class:`Token` (``tokenize``)."""

    def __init__(self, source: str, filename: str = "stdin") -> None:
        self.src = source
        self.filename = filename
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.depth = 0          # brace depth
        self.paren = 0          # paren depth inside a predicate
        self.state = _TopState.EXPECT_PROBE
        self.tokens: list[Token] = []

    # ----------------------------------------------------------------- helpers

    def _col(self, pos: int) -> int:
        return pos - self.line_start + 1

    def _span(self, start: int, start_line: int, start_col: int) -> Span:
        return Span(start_line, start_col, self.line, self._col(self.pos))

    def error(self, message: str, start: int, end: int | None = None) -> TraceSyntaxError:
        """A syntax error at source offsets ``start``..``end`` on the current line."""
        end = start + 1 if end is None else end
        col = self._col(start)
        return TraceSyntaxError(message, Span(self.line, col, self.line, col + max(1, end - start)),
                                source=self.src, filename=self.filename)

    def _advance_to(self, new_pos: int) -> None:
        """Move to ``new_pos`` keeping line bookkeeping right across newlines."""
        chunk = self.src[self.pos:new_pos]
        nl = chunk.count("\n")
        if nl:
            self.line += nl
            self.line_start = self.pos + chunk.rindex("\n") + 1
        self.pos = new_pos

    def _emit(self, kind: TokenKind, start: int, value: object = None) -> Token:
        start_line = self.line
        start_col = self._col(start)
        text = self.src[start:self.pos]
        # a token that spans lines (C definitions) had its line counted by _advance_to
        tok = Token(kind, text, value if value is not None else text,
                    Span(start_line, start_col, self.line, self._col(self.pos)))
        self.tokens.append(tok)
        return tok

    def _skip_space(self) -> None:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c in " \t\r\f\v":
                self.pos += 1
            elif c == "\n":
                self.pos += 1
                self.line += 1
                self.line_start = self.pos
            elif src.startswith("//", self.pos):
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            elif src.startswith("/*", self.pos):
                end = src.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated comment", self.pos, self.pos + 2)
                self._advance_to(end + 2)
            else:
                return

    # ----------------------------------------------------------------- main loop

    def tokenize(self) -> list[Token]:
        """Tokenize the whole source; the list ends with an EOF token."""
        src = self.src
        if src.startswith("#!"):
            # a script's shebang line (#!/usr/bin/env bpftrace) is not part of the program
            end = src.find("\n")
            self.pos = len(src) if end < 0 else end
        while True:
            self._skip_space()
            if self.pos >= len(src):
                break
            if self.depth == 0 and self.state is _TopState.EXPECT_PROBE:
                self._top_token()
            else:
                self._normal_token()
        start_line, start_col = self.line, self._col(self.pos)
        self.tokens.append(Token(TokenKind.EOF, "", None, Span(start_line, start_col, start_line, start_col + 1)))
        return self.tokens

    def _top_token(self) -> None:
        src, pos = self.src, self.pos
        c = src[pos]
        if c == "#":
            end = src.find("\n", pos)
            end = len(src) if end < 0 else end
            self.pos = end
            self._emit(TokenKind.PREPROC, pos, src[pos:end].strip())
            return
        if c == "/":
            self.pos += 1
            self.state = _TopState.PREDICATE
            self.paren = 0
            self._emit(TokenKind.PRED_START, pos)
            return
        if _WORD_START.match(c):
            word = _IDENT_RE.match(src, pos).group()  # type: ignore[union-attr]
            rest = src[pos + len(word):].lstrip()
            if word == "config" and rest.startswith("=") and not rest.startswith("=="):
                self.pos += len(word)
                self._emit(TokenKind.KEYWORD, pos)
                return
            if word in ("struct", "union", "enum") and re.match(r"[A-Za-z_]\w*\s*\{", rest):
                self._c_definition(pos)
                return
            self._attach_point(pos)
            return
        self._normal_token()

    def _attach_point(self, start: int) -> None:
        src = self.src
        pos = start
        provider_end = src.find(":", start)
        first = _IDENT_RE.match(src, start)
        provider = first.group() if first else ""
        path_like = provider in _PATH_PROVIDERS and provider_end == start + len(provider)
        segment = 0
        while pos < len(src):
            c = src[pos]
            if c == '"':
                end = src.find('"', pos + 1)
                if end < 0 or "\n" in src[pos:end]:
                    raise self.error("unterminated string", pos)
                pos = end + 1
                continue
            if c.isspace() or c in "{},;":
                break
            if c == ":":
                segment += 1
            elif c == "/" and not (path_like and segment == 1):
                break
            pos += 1
        self.pos = pos
        self._emit(TokenKind.ATTACH, start, src[start:pos])

    def _c_definition(self, start: int) -> None:
        src = self.src
        brace = src.index("{", start)
        depth, pos = 0, brace
        while pos < len(src):
            if src[pos] == "{":
                depth += 1
            elif src[pos] == "}":
                depth -= 1
                if depth == 0:
                    break
            pos += 1
        else:
            raise self.error("unterminated struct definition", start, brace + 1)
        pos += 1
        m = re.compile(r"\s*;").match(src, pos)
        if m:
            pos = m.end()
        start_line, start_col = self.line, self._col(start)
        text = src[start:pos]
        self._advance_to(pos)
        self.tokens.append(Token(TokenKind.CDEF, text, text, Span(start_line, start_col, self.line, self._col(pos))))

    def _normal_token(self) -> None:
        src, pos = self.src, self.pos
        c = src[pos]
        if c in "0123456789":
            self._number(pos)
        elif _WORD_START.match(c):
            word = _IDENT_RE.match(src, pos).group()  # type: ignore[union-attr]
            self.pos += len(word)
            self._emit(TokenKind.KEYWORD if word in KEYWORDS else TokenKind.IDENT, pos, word)
        elif c == '"':
            self._string(pos)
        elif c == "$":
            self._dollar(pos)
        elif c == "@":
            m = _IDENT_RE.match(src, pos + 1)
            self.pos = m.end() if m else pos + 1
            self._emit(TokenKind.MAP, pos, src[pos:self.pos])
        elif c == "#":
            end = src.find("\n", pos)
            end = len(src) if end < 0 else end
            self.pos = end
            self._emit(TokenKind.PREPROC, pos, src[pos:end].strip())
        else:
            self._punct(pos)

    def _punct(self, pos: int) -> None:
        src = self.src
        for p in PUNCTUATION:
            if src.startswith(p, pos):
                break
        else:
            raise self.error(f"invalid character '{src[pos]}'", pos)
        self.pos = pos + len(p)
        if self.depth == 0 and self.state is _TopState.PREDICATE:
            if p == "(":
                self.paren += 1
            elif p == ")":
                self.paren -= 1
            elif p == "/" and self.paren <= 0:
                self.state = _TopState.EXPECT_PROBE
                self._emit(TokenKind.PRED_END, pos)
                return
            elif p == "{":
                # a predicate that never closed: let the parser report it
                self.state = _TopState.EXPECT_PROBE
        if p == "{":
            self.depth += 1
        elif p == "}":
            self.depth = max(0, self.depth - 1)
            if self.depth == 0:
                self.state = _TopState.EXPECT_PROBE
        self._emit(TokenKind.PUNCT, pos, p)

    def _number(self, pos: int) -> None:
        src = self.src
        m = _INT_RE.match(src, pos)
        assert m is not None
        end = m.end()
        if end < len(src) and (src[end].isalnum() or src[end] == "_"):
            tail = re.compile(r"\w*").match(src, end).end()  # type: ignore[union-attr]
            raise self.error(f"invalid integer literal '{src[pos:tail]}'", pos, tail)
        if m.group("hex") is not None:
            value = int(m.group("hex").replace("_", ""), 16)
        elif m.group("bin") is not None:
            value = int(m.group("bin").replace("_", ""), 2)
        else:
            digits = m.group("dec").replace("_", "")
            if len(digits) > 1 and digits[0] == "0" and m.group("exp") is None:
                if any(d in "89" for d in digits):
                    raise self.error(f"invalid octal literal '{src[pos:end]}'", pos, end)
                value = int(digits, 8)
            else:
                value = int(digits) * 10 ** int(m.group("exp") or 0)
        if value >= 1 << 64:
            raise self.error(f"integer literal '{src[pos:end]}' does not fit in 64 bits", pos, end)
        self.pos = end
        self._emit(TokenKind.INT, pos, value)

    def _string(self, pos: int) -> None:
        src = self.src
        out: list[str] = []
        i = pos + 1
        while True:
            if i >= len(src) or src[i] == "\n":
                raise self.error("unterminated string", pos, i)
            c = src[i]
            if c == '"':
                i += 1
                break
            if c != "\\":
                out.append(c)
                i += 1
                continue
            if i + 1 >= len(src):
                raise self.error("unterminated string", pos, i)
            e = src[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e == "x":
                m = re.compile(r"[0-9a-fA-F]{1,2}").match(src, i + 2)
                if not m:
                    raise self.error("invalid \\x escape in string", i, i + 2)
                out.append(chr(int(m.group(), 16)))
                i = m.end()
            elif e in "01234567":
                m = re.compile(r"[0-7]{1,3}").match(src, i + 1)
                assert m is not None
                out.append(chr(int(m.group(), 8) & 0xFF))
                i = m.end()
            else:
                raise self.error(f"invalid escape sequence '\\{e}'", i, i + 2)
        self.pos = i
        self._emit(TokenKind.STRING, pos, "".join(out))

    def _dollar(self, pos: int) -> None:
        src = self.src
        nxt = src[pos + 1] if pos + 1 < len(src) else ""
        if nxt == "#":
            self.pos = pos + 2
            self._emit(TokenKind.PARAM_COUNT, pos)
        elif nxt != "" and nxt in "0123456789":
            m = re.compile(r"[0-9]+").match(src, pos + 1)
            assert m is not None
            self.pos = m.end()
            self._emit(TokenKind.PARAM, pos, int(m.group()))
        else:
            m = _IDENT_RE.match(src, pos + 1)
            if not m:
                raise self.error("invalid variable name after '$'", pos)
            self.pos = m.end()
            self._emit(TokenKind.VAR, pos, m.group())


def tokenize(source: str, filename: str = "stdin") -> list[Token]:
    """Tokenize ``source``; raises :class:`TraceSyntaxError` on a bad character or literal."""
    return Lexer(source, filename).tokenize()
