"""A small C tokenizer for the bcc rewriter: identifiers, numbers, strings, comments,
preprocessor lines and punctuators, each with its offsets in the text, plus helpers to
find balanced brackets and split argument lists. It does not preprocess: macros are left
as written, which is what a source-to-source rewrite wants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """What a token is."""

    IDENT = "ident"
    NUMBER = "number"
    STRING = "string"
    CHAR = "char"
    PUNCT = "punct"
    COMMENT = "comment"
    PREPROC = "preproc"
    SPACE = "space"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, text and ``[start, end)`` offsets in the source."""

    kind: Kind
    text: str
    start: int
    end: int

    @property
    def trivia(self) -> bool:
        """Whitespace, comments and preprocessor lines: skipped when matching code."""
        return self.kind in (Kind.SPACE, Kind.COMMENT, Kind.PREPROC)


_PUNCTS = sorted(
    ["...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=",
     "/=", "%=", "&=", "^=", "|=", "##"], key=len, reverse=True)
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<comment>//(?:[^\n\\]|\\.)*|/\*.*?\*/)"
    r"|(?P<string>(?:L|u8|u|U)?\"(?:[^\"\\\n]|\\.)*\")"
    r"|(?P<char>(?:L|u|U)?'(?:[^'\\\n]|\\.)*')"
    r"|(?P<ident>[A-Za-z_]\w*)"
    r"|(?P<number>\.?\d(?:[eEpP][+-]|[\w.])*)"
    r"|(?P<punct>" + "|".join(re.escape(p) for p in _PUNCTS) + r"|.)",
    re.S,
)
_KINDS = {"space": Kind.SPACE, "comment": Kind.COMMENT, "string": Kind.STRING, "char": Kind.CHAR,
          "ident": Kind.IDENT, "number": Kind.NUMBER, "punct": Kind.PUNCT}
_PREPROC = re.compile(r"#(?:[^\n\\]|\\.|\\\n)*", re.S)


class TokenizeError(ValueError):
    """The text is not tokenizable C (an unterminated comment or string)."""


def tokenize(text: str) -> list[Token]:
    """Every token of ``text`` in order; concatenating their texts gives ``text`` back.

    A ``#`` that starts a line (after whitespace) begins a PREPROC token that runs to the
    end of the line, backslash continuations included.
    """
    out: list[Token] = []
    pos, n = 0, len(text)
    line_start = True
    while pos < n:
        if line_start and text[pos] == "#":
            m = _PREPROC.match(text, pos)
            assert m is not None
            out.append(Token(Kind.PREPROC, m.group(), pos, m.end()))
            pos = m.end()
            continue
        if text.startswith("/*", pos) and text.find("*/", pos + 2) < 0:
            raise TokenizeError(f"line {text.count(chr(10), 0, pos) + 1}: unterminated /* comment")
        m = _TOKEN.match(text, pos)
        assert m is not None and m.lastgroup is not None
        kind = _KINDS[m.lastgroup]
        tok = Token(kind, m.group(), pos, m.end())
        out.append(tok)
        if kind is Kind.SPACE:
            line_start = line_start or "\n" in tok.text
        elif kind is not Kind.COMMENT:
            line_start = False
        pos = m.end()
    return out


def code(tokens: list[Token]) -> list[Token]:
    """The tokens that are not trivia."""
    return [t for t in tokens if not t.trivia]


_CLOSE = {"(": ")", "[": "]", "{": "}"}


def match_close(toks: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``toks[i]`` (``toks`` without trivia)."""
    opener = toks[i].text
    closer = _CLOSE[opener]
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j].text
        if toks[j].kind is not Kind.PUNCT:
            continue
        if t in _CLOSE:
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                if t != closer:
                    raise TokenizeError(f"unbalanced {opener!r}: closed by {t!r}")
                return j
    raise TokenizeError(f"unbalanced {opener!r}: never closed")


def split_args(toks: list[Token], open_idx: int, close_idx: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` token index ranges of the comma-separated arguments between
    the brackets at ``open_idx`` and ``close_idx`` (empty list for ``()``)."""
    if close_idx == open_idx + 1:
        return []
    out: list[tuple[int, int]] = []
    depth = 0
    start = open_idx + 1
    for j in range(open_idx + 1, close_idx):
        t = toks[j]
        if t.kind is not Kind.PUNCT:
            continue
        if t.text in _CLOSE:
            depth += 1
        elif t.text in (")", "]", "}"):
            depth -= 1
        elif t.text == "," and depth == 0:
            out.append((start, j))
            start = j + 1
    out.append((start, close_idx))
    return out


def line_of(text: str, offset: int) -> int:
    """1-based line number of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1


__all__ = ["Kind", "Token", "TokenizeError", "code", "line_of", "match_close", "split_args", "tokenize"]
