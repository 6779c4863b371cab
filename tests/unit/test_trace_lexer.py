"""The bpftrace-language lexer: literals, attach points, predicates, comments, errors."""

from __future__ import annotations

import pytest

from pybpf.errors import BPFError
from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.lexer import TokenKind, tokenize


def kinds_values(src: str) -> list[tuple[str, object]]:
    return [(t.kind.name, t.value) for t in tokenize(src)[:-1]]


@pytest.mark.parametrize("text,value", [
    ("42", 42), ("0x1f", 31), ("0X1F", 31), ("077", 63), ("0", 0), ("1_000_000", 1000000),
    ("0x_ff".replace("_", ""), 255), ("1e3", 1000), ("5u", 5), ("5ul", 5), ("5ULL", 5), ("5LL", 5),
    ("0b101", 5), ("18446744073709551615", (1 << 64) - 1),
])
def test_integer_literals(text: str, value: int) -> None:
    toks = tokenize(f"BEGIN {{ $x = {text}; }}")
    ints = [t for t in toks if t.kind is TokenKind.INT]
    assert [t.value for t in ints] == [value]


@pytest.mark.parametrize("text,message", [
    ("089", "invalid octal literal '089'"),
    ("12abc", "invalid integer literal '12abc'"),
    ("18446744073709551616", "does not fit in 64 bits"),
])
def test_bad_integer_literals(text: str, message: str) -> None:
    with pytest.raises(TraceSyntaxError, match=message):
        tokenize(f"BEGIN {{ $x = {text}; }}")


def test_string_escapes() -> None:
    toks = tokenize(r'BEGIN { printf("a\tb\n\"q\"\\ \x41\101\0"); }')
    (s,) = [t for t in toks if t.kind is TokenKind.STRING]
    assert s.value == 'a\tb\n"q"\\ AA\0'


def test_unterminated_string_points_at_it() -> None:
    with pytest.raises(TraceSyntaxError) as ei:
        tokenize('BEGIN { $x = "abc; }')
    assert str(ei.value) == ('stdin:1:14-21: ERROR: unterminated string\n'
                             'BEGIN { $x = "abc; }\n'
                             '             ~~~~~~~')


def test_attach_points_keep_paths_and_wildcards() -> None:
    toks = tokenize("uprobe:/usr/lib/*/libc.so.6:mall* /pid == 1/ { }")
    assert toks[0].kind is TokenKind.ATTACH and toks[0].value == "uprobe:/usr/lib/*/libc.so.6:mall*"
    assert toks[1].kind is TokenKind.PRED_START


def test_predicate_ends_at_slash_outside_parens() -> None:
    got = kinds_values("kprobe:f /($x / 2) > 1/ { }")
    assert got[:3] == [("ATTACH", "kprobe:f"), ("PRED_START", "/"), ("PUNCT", "(")]
    assert ("PUNCT", "/") in got
    assert got[-3:] == [("PRED_END", "/"), ("PUNCT", "{"), ("PUNCT", "}")]


def test_several_attach_points_and_comments() -> None:
    src = "// a comment\nBEGIN, /* inline */ END\n{ /* x */ }"
    assert kinds_values(src) == [("ATTACH", "BEGIN"), ("PUNCT", ","), ("ATTACH", "END"),
                                 ("PUNCT", "{"), ("PUNCT", "}")]


def test_quoted_attach_point_segment_may_hold_spaces() -> None:
    toks = tokenize('uprobe:"/opt/my app/bin":main { }')
    assert toks[0].value == 'uprobe:"/opt/my app/bin":main'


def test_top_level_tokens() -> None:
    src = "#include <linux/sched.h>\nstruct s { int a; };\nconfig = { a = 1 }\nBEGIN { }"
    kinds = [t.kind for t in tokenize(src)]
    assert kinds[:3] == [TokenKind.PREPROC, TokenKind.CDEF, TokenKind.KEYWORD]
    assert TokenKind.ATTACH in kinds


def test_variables_maps_params() -> None:
    got = kinds_values("BEGIN { @ = $x + $1 + $#; @m[1] = 2; }")
    assert ("MAP", "@") in got and ("VAR", "x") in got and ("PARAM", 1) in got
    assert ("PARAM_COUNT", "$#") in got and ("MAP", "@m") in got


def test_maximal_munch_operators() -> None:
    got = [v for k, v in kinds_values("BEGIN { $x <<= 1; $y = $x->a >= 2 && $z++ != 0..3; }") if k == "PUNCT"]
    assert "<<=" in got and "->" in got and ">=" in got and "&&" in got and "++" in got and "!=" in got
    assert ".." in got


def test_spans_are_one_based_with_exclusive_end() -> None:
    toks = tokenize("BEGIN\n{\n  @abc = 1;\n}")
    m = [t for t in toks if t.kind is TokenKind.MAP][0]
    assert (m.span.line, m.span.col, m.span.end_col) == (3, 3, 7)


def test_bad_character_is_our_error() -> None:
    with pytest.raises(BPFError, match=r"stdin:1:12-13: ERROR: invalid character '`'"):
        tokenize("BEGIN { $x `; }")


def test_unterminated_comment() -> None:
    with pytest.raises(TraceSyntaxError, match="unterminated comment"):
        tokenize("BEGIN { /* }")
