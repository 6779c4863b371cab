"""Top-level C definitions in bpftrace scripts: ``struct``/``union`` with simple members and ``enum``.

Only the forms scripts use are accepted: members ``TYPE [*...] NAME [ [N] ];`` where TYPE is an
integer type name, ``struct X``/``union X``/``enum X`` or a typedef name; enums with optional
``= value``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import ast as A

if TYPE_CHECKING:
    from .lexer import Token
    from .parser import Parser

_HEAD = re.compile(r"\s*(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{(?P<body>.*)\}\s*;?\s*$", re.S)
_MEMBER = re.compile(
    r"^(?P<type>(?:(?:const|volatile|unsigned|signed|struct|union|enum)\s+)*[A-Za-z_]\w*(?:\s+(?:long|int))*)"
    r"\s*(?P<ptr>(?:\*\s*)*)(?P<name>[A-Za-z_]\w*)\s*(?:\[\s*(?P<len>\d+)\s*\])?$"
)
_UNSIGNED = {"unsigned char": "uint8", "unsigned short": "uint16", "unsigned int": "uint32", "unsigned": "uint32",
             "unsigned long": "uint64", "unsigned long long": "uint64", "long long": "int64",
             "signed char": "int8", "long int": "int64", "short int": "int16"}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_c_definition(tok: Token, parser: Parser) -> A.CDefinition:
    """Parse the text of a CDEF token into an :class:`ast.CDefinition`."""
    text = str(tok.value)
    m = _HEAD.match(_strip_comments(text))
    if not m:
        raise parser.error("cannot parse this C definition (expected 'struct NAME { members };')", tok.span)
    kind, name, body = m.group(1), m.group(2), m.group("body")
    if kind == "enum":
        return parser.node(A.CDefinition, kind, name, (), _enumerators(body, tok, parser), text, span=tok.span)
    fields: list[A.CField] = []
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        fm = _MEMBER.match(decl)
        if not fm:
            raise parser.error(f"cannot parse member '{decl}' of {kind} {name}", tok.span)
        tname = re.sub(r"\b(const|volatile)\s+", "", fm.group("type")).strip()
        tname = _UNSIGNED.get(tname, tname)
        depth = fm.group("ptr").count("*")
        alen = int(fm.group("len")) if fm.group("len") else None
        tn = parser.node(A.TypeName, tname, depth, alen, span=tok.span)
        fields.append(parser.node(A.CField, tn, fm.group("name"), span=tok.span))
    return parser.node(A.CDefinition, kind, name, tuple(fields), (), text, span=tok.span)


def _enumerators(body: str, tok: Token, parser: Parser) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    nxt = 0
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        em = re.match(r"^([A-Za-z_]\w*)\s*(?:=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+)))?$", item)
        if not em:
            raise parser.error(f"cannot parse enumerator '{item}'", tok.span)
        if em.group(2) is not None:
            nxt = int(em.group(2), 0)
        out.append((em.group(1), nxt))
        nxt += 1
    return tuple(out)

