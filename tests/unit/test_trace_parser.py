"""The bpftrace-language parser: every construct as an AST, and bpftrace-style syntax errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pybpf.trace import ast as A
from pybpf.trace import parse
from pybpf.trace.ast import BinaryOp as B, ProbeType as P, UnaryOp as U
from pybpf.trace.errors import TraceError, TraceSyntaxError


def stmts(body: str) -> tuple[A.Stmt, ...]:
    return parse(f"BEGIN {{ {body} }}").probes[0].block.stmts


def expr(text: str) -> A.Expr:
    (s,) = stmts(f"$r = {text};")
    assert isinstance(s, A.VarAssign)
    return s.value


I, S, V, Bi = A.Integer, A.String, A.Variable, A.Builtin


def test_whole_program_shape() -> None:
    prog = parse('#include <linux/fs.h>\n#include "x.h"\nBEGIN { printf("hi\\n"); }\nEND { exit(); }')
    assert prog.includes == (A.Include("linux/fs.h", True), A.Include("x.h", False))
    assert [p.attach_points[0].provider for p in prog.probes] == [P.BEGIN, P.END]
    assert prog.probes[0].block == A.Block((A.ExprStmt(A.Call("printf", (S("hi\n"),))),))


@pytest.mark.parametrize("text,tree", [
    ("1 + 2 * 3", A.Binop(B.ADD, I(1), A.Binop(B.MUL, I(2), I(3)))),
    ("(1 + 2) * 3", A.Binop(B.MUL, A.Binop(B.ADD, I(1), I(2)), I(3))),
    ("1 - 2 - 3", A.Binop(B.SUB, A.Binop(B.SUB, I(1), I(2)), I(3))),
    ("1 << 2 + 3", A.Binop(B.SHL, I(1), A.Binop(B.ADD, I(2), I(3)))),
    ("1 < 2 == 3 > 4", A.Binop(B.EQ, A.Binop(B.LT, I(1), I(2)), A.Binop(B.GT, I(3), I(4)))),
    ("1 | 2 ^ 3 & 4", A.Binop(B.BOR, I(1), A.Binop(B.BXOR, I(2), A.Binop(B.BAND, I(3), I(4))))),
    ("1 || 2 && 3", A.Binop(B.LOR, I(1), A.Binop(B.LAND, I(2), I(3)))),
    ("1 ? 2 : 3 ? 4 : 5", A.Ternary(I(1), I(2), A.Ternary(I(3), I(4), I(5)))),
    ("-$x", A.Unop(U.NEG, V("x"))),
    ("!~$x", A.Unop(U.NOT, A.Unop(U.BNOT, V("x")))),
    ("*$p", A.Unop(U.DEREF, V("p"))),
    ("&$p->f", A.Unop(U.ADDR, A.FieldAccess(V("p"), "f", True))),
    ("$x++", A.Unop(U.POST_INC, V("x"))),
    ("--$x", A.Unop(U.PRE_DEC, V("x"))),
    ("(uint8)$x", A.Cast(A.TypeName("uint8"), V("x"))),
    ("(struct task_struct *)curtask", A.Cast(A.TypeName("struct task_struct", 1), Bi("curtask"))),
    ("(sk_buff **)arg0", A.Cast(A.TypeName("sk_buff", 2), Bi("arg0"))),
    ("(int8[4])$x", A.Cast(A.TypeName("int8", 0, 4), V("x"))),
    ("(uint64)$x * 2", A.Binop(B.MUL, A.Cast(A.TypeName("uint64"), V("x")), I(2))),
    ("(1, \"a\", $x)", A.Tuple((I(1), S("a"), V("x")))),
    ("$t.0", A.FieldAccess(V("t"), "0")),
    ("args.filename", A.FieldAccess(Bi("args"), "filename")),
    ("args->filename", A.FieldAccess(Bi("args"), "filename", True)),
    ("curtask->parent->pid", A.FieldAccess(A.FieldAccess(Bi("curtask"), "parent", True), "pid", True)),
    ("$a[1][2]", A.ArrayAccess(A.ArrayAccess(V("a"), I(1)), I(2))),
    ("@m[1, \"x\"]", A.Map("@m", (I(1), S("x")))),
    ("@", A.Map("@")),
    ("$1 + $#", A.Binop(B.ADD, A.PositionalParam(1), A.ParamCount())),
    ("sizeof(struct task_struct)", A.Sizeof(A.TypeName("struct task_struct"))),
    ("sizeof(uint32)", A.Sizeof(A.TypeName("uint32"))),
    ("sizeof($x)", A.Sizeof(V("x"))),
    ("offsetof(struct s, a.b)", A.Offsetof(A.TypeName("struct s"), ("a", "b"))),
    ("kstack(perf, 3)", A.Call("kstack", (A.Identifier("perf"), I(3)))),
    ("arg12 + sarg0 + retval", A.Binop(B.ADD, A.Binop(B.ADD, Bi("arg12"), Bi("sarg0")), Bi("retval"))),
    ("str(args.filename, 16)", A.Call("str", (A.FieldAccess(Bi("args"), "filename"), I(16)))),
    ("E_VALUE", A.Identifier("E_VALUE")),
])
def test_expressions(text: str, tree: A.Expr) -> None:
    assert expr(text) == tree


def test_assignments_and_compound_ops() -> None:
    got = stmts("$x = 1; $x += 2; @m[pid] = count(); @s <<= 1; @c++; --@d;")
    assert got == (
        A.VarAssign(V("x"), I(1)),
        A.VarAssign(V("x"), I(2), B.ADD),
        A.MapAssign(A.Map("@m", (Bi("pid"),)), A.Call("count")),
        A.MapAssign(A.Map("@s"), I(1), B.SHL),
        A.ExprStmt(A.Unop(U.POST_INC, A.Map("@c"))),
        A.ExprStmt(A.Unop(U.PRE_DEC, A.Map("@d"))),
    )


def test_control_flow() -> None:
    got = stmts("if ($x) { return; } else if ($y) { break; } else { continue } "
                "unroll(3) { $i++ } while ($i < 5) { $i++; } "
                "for ($kv : @m) { print($kv.0); } for ($i : 0..10) { } return 1")
    one = A.Block((A.ExprStmt(A.Unop(U.POST_INC, V("i"))),))
    assert got == (
        A.If(V("x"), A.Block((A.Return(),)),
             A.Block((A.If(V("y"), A.Block((A.Break(),)), A.Block((A.Continue(),))),))),
        A.Unroll(I(3), one),
        A.While(A.Binop(B.LT, V("i"), I(5)), one),
        A.ForMap(V("kv"), A.Map("@m"), A.Block((A.ExprStmt(A.Call("print", (A.FieldAccess(V("kv"), "0"),))),))),
        A.ForRange(V("i"), I(0), I(10), A.Block()),
        A.Return(I(1)),
    )


def test_probes_predicates_and_shared_blocks() -> None:
    prog = parse("kprobe:vfs_read, kretprobe:vfs_read /pid == 42 && comm != \"sh\"/ { @[probe] = count(); }")
    (probe,) = prog.probes
    assert [ap.name for ap in probe.attach_points] == ["kprobe:vfs_read", "kretprobe:vfs_read"]
    assert probe.predicate == A.Binop(B.LAND, A.Binop(B.EQ, Bi("pid"), I(42)),
                                      A.Binop(B.NE, Bi("comm"), S("sh")))


@pytest.mark.parametrize("raw,fields", [
    ("BEGIN", {"provider": P.BEGIN}),
    ("t:syscalls:sys_enter_*", {"provider": P.TRACEPOINT, "target": "syscalls", "func": "sys_enter_*"}),
    ("tracepoint:sched:sched_switch", {"provider": P.TRACEPOINT, "target": "sched", "func": "sched_switch"}),
    ("rt:sys_enter", {"provider": P.RAWTRACEPOINT, "func": "sys_enter"}),
    ("kprobe:vfs_read+0x10", {"provider": P.KPROBE, "func": "vfs_read", "offset": 16}),
    ("kfunc:vfs_read", {"provider": P.FENTRY, "func": "vfs_read"}),
    ("kretfunc:mod:f", {"provider": P.FEXIT, "target": "mod", "func": "f"}),
    ("u:/bin/bash:readline", {"provider": P.UPROBE, "target": "/bin/bash", "func": "readline"}),
    ("uretprobe:/bin/bash:0x4d2", {"provider": P.URETPROBE, "target": "/bin/bash", "address": 1234}),
    ("usdt:/usr/bin/python3:python:function__entry",
     {"provider": P.USDT, "target": "/usr/bin/python3", "namespace": "python", "func": "function__entry"}),
    ("profile:hz:99", {"provider": P.PROFILE, "unit": "hz", "freq": 99}),
    ("interval:ms:100", {"provider": P.INTERVAL, "unit": "ms", "freq": 100}),
    ("software:page-faults:100", {"provider": P.SOFTWARE, "func": "page-faults", "freq": 100}),
    ("hardware:cache-misses:1000000", {"provider": P.HARDWARE, "func": "cache-misses", "freq": 1000000}),
    ("iter:task", {"provider": P.ITER, "func": "task"}),
    ("watchpoint:0x10000:8:rw", {"provider": P.WATCHPOINT, "address": 0x10000, "length": 8, "mode": "rw"}),
])
def test_attach_points(raw: str, fields: dict[str, object]) -> None:
    (ap,) = parse(f"{raw} {{ }}").probes[0].attach_points
    for k, v in fields.items():
        assert getattr(ap, k) == v, k
    assert ap.raw == raw


def test_wildcard_flag_and_canonical_name() -> None:
    (ap,) = parse("t:syscalls:sys_enter_* { }").probes[0].attach_points
    assert ap.wildcard and ap.name == "tracepoint:syscalls:sys_enter_*"


def test_c_definitions_and_config() -> None:
    prog = parse("struct foo { int a; unsigned long b[4]; struct foo *next; };\n"
                 "enum color { RED, GREEN = 5, BLUE };\n"
                 "config = { max_map_keys = 100; stack_mode = perf }\n"
                 "BEGIN { }")
    foo, color = prog.definitions
    assert foo.kind == "struct" and foo.name == "foo"
    assert [(f.name, f.type) for f in foo.fields] == [
        ("a", A.TypeName("int")), ("b", A.TypeName("uint64", 0, 4)), ("next", A.TypeName("struct foo", 1))]
    assert color.enumerators == (("RED", 0), ("GREEN", 5), ("BLUE", 6))
    assert prog.config == A.Config((A.ConfigItem("max_map_keys", I(100)),
                                    A.ConfigItem("stack_mode", A.Identifier("perf"))))


def test_node_ids_are_unique_and_spans_cover_source() -> None:
    prog = parse("BEGIN { @x[pid] = count(); printf(\"%d\\n\", 1 + 2); }")
    nodes = list(A.walk(prog))
    ids = [n.node_id for n in nodes]
    assert len(ids) == len(set(ids))
    call = [n for n in nodes if isinstance(n, A.Call) and n.name == "printf"][0]
    assert (call.span.line, call.span.col, call.span.end_col) == (1, 28, 49)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("src,expected", [
    ('BEGIN { printf("hi" }',
     'stdin:1:21-22: ERROR: syntax error, unexpected }, expecting ) or ","\n'
     'BEGIN { printf("hi" }\n'
     '                    ~'),
    ("BEGIN { @x = 1 @y = 2 }",
     "stdin:1:16-18: ERROR: syntax error, unexpected map, expecting }\n"
     "BEGIN { @x = 1 @y = 2 }\n"
     "               ~~"),
    ("BEGIN { $x = ; }",
     "stdin:1:14-15: ERROR: syntax error, unexpected ;\n"
     "BEGIN { $x = ; }\n"
     "             ~"),
    ("BEGIN { if $x { } }",
     "stdin:1:12-14: ERROR: syntax error, unexpected variable, expecting (\n"
     "BEGIN { if $x { } }\n"
     "           ~~"),
    ("BEGIN\n{\n  $x = 1;\n", "stdin:4:1-2: ERROR: syntax error, unexpected end of file, expecting }\n\n~"),
    ("profile:99 { }",
     "stdin:1:1-11: ERROR: profile probe type requires 2 arguments\n"
     "profile:99 { }\n"
     "~~~~~~~~~~"),
    ("foo:bar { }", "stdin:1:1-8: ERROR: Invalid probe type: foo\nfoo:bar { }\n~~~~~~~"),
])
def test_syntax_errors_read_like_bpftrace(src: str, expected: str) -> None:
    with pytest.raises(TraceSyntaxError) as ei:
        parse(src)
    assert str(ei.value) == expected


def test_missing_brace_on_later_line_reports_that_line() -> None:
    with pytest.raises(TraceSyntaxError) as ei:
        parse("BEGIN {\n  @x = 1;\n  if (1) { @y = 2;\n}\n", filename="script.bt")
    assert ei.value.line == 5 and str(ei.value).startswith("script.bt:5:")


@pytest.mark.parametrize("src,message", [
    ("BEGIN { }\n#define X 1", "only #include directives are supported"),
    ("", "no probes"),
    ("BEGIN { @x[] = 1; }", "unexpected ], expecting expression"),
    ("BEGIN { for ($k : @m[1]) { } }", "for loops iterate over a whole map"),
    ("kprobe:f+x { }", "probe offset must be an integer"),
    ("interval:days:1 { }", "days is not an accepted unit for interval probes"),
    ("t:syscalls { }", "tracepoint probe type requires 2 arguments"),
    ("uretprobe:/bin/sh:main+4 { }", "uretprobe probes do not take an offset"),
    ("BEGIN /1/ /2/ { }", "unexpected /, expecting {"),
])
def test_more_syntax_errors(src: str, message: str) -> None:
    with pytest.raises(TraceSyntaxError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse(src)


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(TraceSyntaxError, match="nests deeper"):
        parse("BEGIN { $x = " + "(" * 500 + "1" + ")" * 500 + "; }")


TOKENS = ["BEGIN", "END", "kprobe:f", "t:a:b", "{", "}", "(", ")", "[", "]", "/", ",", ";", ":", "..",
          "@m", "@", "$x", "$1", "$#", "1", "0x10", '"s"', "if", "else", "while", "for", "unroll", "return",
          "+", "-", "*", "&", "->", ".", "=", "+=", "==", "?", "!", "++", "pid", "printf", "count",
          "struct", "sizeof", "config", "#include <a>", "\n", " ", "//c\n", "/*c*/", "'", "`", "\"", "$"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
def test_token_soup_only_raises_our_errors(tokens: list[str]) -> None:
    try:
        parse(" ".join(tokens))
    except TraceError as e:
        assert "ERROR:" in str(e)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_random_text_only_raises_our_errors(text: str) -> None:
    try:
        parse(text)
    except TraceError:
        pass


def test_script_shebang_line_is_skipped() -> None:
    prog = parse("#!/usr/bin/env bpftrace\n// comment\nBEGIN { exit(); }\n", filename="x.bt")
    assert prog.probes[0].attach_points[0].provider is P.BEGIN
    assert prog.probes[0].span.line == 3
