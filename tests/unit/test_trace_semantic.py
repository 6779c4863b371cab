"""Semantic analysis of bpftrace programs: one-liners type-check, and typical mistakes are
reported with bpftrace's wording, line, column and underline.

Tracepoint formats come from captured format files (no tracefs needed); kernel BTF is read
from /sys/kernel/btf/vmlinux (readable without privileges) where the kernel provides it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pybpf.errors import BPFError
from pybpf.trace import ast as A
from pybpf.trace import analyse, parse
from pybpf.trace.errors import TraceSemanticError
from pybpf.trace.semantic import ContextKind, Env, EventKind, FieldBase, TypedProgram
from pybpf.trace.types import (
    INT64, UINT64, AggKind, AggType, ArrayType, IntType, PointerType, RecordType, StackMode, StackType,
    StringType, TupleType,
)
from pybpf.tracefs import TracefsError, parse_format

from test_trace_semantic_formats import FORMATS

HAVE_BTF = Path("/sys/kernel/btf/vmlinux").exists()
needs_btf = pytest.mark.skipif(not HAVE_BTF, reason="kernel built without CONFIG_DEBUG_INFO_BTF")


def fake_format(category: str, name: str):  # type: ignore[no-untyped-def]
    try:
        return parse_format(FORMATS[f"{category}/{name}"])
    except KeyError:
        raise TracefsError(f"no tracepoint {category}:{name}") from None


def env(**kw: object) -> Env:
    from pybpf.btf import kernel_btf

    base: dict[str, object] = dict(tracepoint_format=fake_format,
                                   tracepoints=lambda: [tuple(k.split("/")) for k in FORMATS],
                                   btf=kernel_btf if HAVE_BTF else None)
    base.update(kw)
    return Env(**base)  # type: ignore[arg-type]


def check(src: str, **kw: object) -> TypedProgram:
    return analyse(parse(src), env=env(**kw))


def error(src: str, **kw: object) -> str:
    with pytest.raises(TraceSemanticError) as ei:
        check(src, **kw)
    return str(ei.value)


# ----------------------------------------------------------------------------- one-liners

ONE_LINERS = {
    "files opened": 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args.filename)); }',
    "exec tracing": "tracepoint:syscalls:sys_enter_execve { join(args.argv); }",
    "new processes": 'tracepoint:sched:sched_process_exec { printf("%d %s\\n", pid, args.filename); }',
    "syscalls by process": "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }",
    "syscalls by id": "tracepoint:raw_syscalls:sys_enter { @[args.id] = count(); }",
    "read size histogram": "tracepoint:syscalls:sys_exit_read /args.ret > 0/ { @ = hist(args.ret); }",
    "read size lhist": "tracepoint:syscalls:sys_exit_read { @ = lhist(args.ret, 0, 1000, 100); }",
    "bytes by process": "tracepoint:syscalls:sys_exit_read /args.ret > 0/ { @[comm] = sum(args.ret); }",
    "run-queue latency": (
        "tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new { @qtime[args.pid] = nsecs; }\n"
        "tracepoint:sched:sched_switch {\n"
        "  if (args.prev_state == 0) { @qtime[args.prev_pid] = nsecs; }\n"
        "  $ns = @qtime[args.next_pid];\n"
        "  if ($ns) { @usecs = hist((nsecs - $ns) / 1000); }\n"
        "  delete(@qtime[args.next_pid]);\n"
        "}\nEND { clear(@qtime); }"),
    "99 Hz profile": "profile:hz:99 /pid/ { @[kstack] = count(); }",
    "per-cpu samples": "profile:hz:49 { @[cpu] = count(); }",
    "readline": 'uretprobe:/bin/bash:readline { printf("%-6d %s\\n", pid, str(retval)); }',
    "readline ustack": "uprobe:/bin/bash:readline { @[ustack(perf, 5)] = count(); }",
    "tcp states": ('tracepoint:sock:inet_sock_set_state { printf("%s:%d -> %s:%d %d -> %d\\n", '
                   "ntop(args.saddr), args.sport, ntop(args.daddr), args.dport, args.oldstate, args.newstate); }"),
    "signals": "tracepoint:signal:signal_generate { @[args.sig, comm] = count(); }",
    "kill": 'tracepoint:syscalls:sys_enter_kill { printf("%d -> %d sig %d\\n", pid, args.pid, args.sig); }',
    "rate per second": ("tracepoint:raw_syscalls:sys_enter { @c = count(); }\n"
                        "interval:s:1 { print(@c); clear(@c); }"),
    "banner": 'BEGIN { time("%H:%M:%S "); printf("Tracing... Hit Ctrl-C to end.\\n"); }',
    "process lifetimes": "tracepoint:sched:sched_process_exit { @[comm] = stats(elapsed); }",
    "block io size": "tracepoint:block:block_rq_issue { @[args.comm] = hist(args.bytes); }",
    "read stats": ("tracepoint:syscalls:sys_exit_read /args.ret > 0/ "
                   "{ @mn = min(args.ret); @mx = max(args.ret); @av = avg(args.ret); }"),
    "loop over map": ('BEGIN { @a[1] = 2; @a[2] = 3; }\n'
                      'END { for ($kv : @a) { printf("%d %d\\n", $kv.0, $kv.1); } }'),
    "latency by pid": ("tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\n"
                       "tracepoint:syscalls:sys_exit_read /@start[tid]/ "
                       "{ @ns[comm] = hist(nsecs - @start[tid]); delete(@start[tid]); }"),
    "wildcard syscalls": "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }",
    "username and strftime": ('tracepoint:syscalls:sys_enter_kill '
                              '{ printf("%s %s %s\\n", strftime("%H:%M:%S", nsecs), username, strerror(3)); }'),
    "exit after a while": "interval:ms:500 { exit(); }",
}


@pytest.mark.parametrize("src", ONE_LINERS.values(), ids=ONE_LINERS.keys())
def test_one_liners_type_check(src: str) -> None:
    tp = check(src)
    for node in A.walk(tp.program):
        if isinstance(node, (A.Integer, A.String, A.Builtin, A.Variable, A.Map, A.Binop, A.FieldAccess)):
            assert node.node_id in tp.types, node


@needs_btf
def test_curtask_field_chain_is_typed_from_btf() -> None:
    tp = check('tracepoint:syscalls:sys_enter_execve { printf("%d %d\\n", pid, curtask->real_parent->tgid); }')
    fa = [n for n in A.walk(tp.program) if isinstance(n, A.FieldAccess)]
    outer, inner = fa[0], fa[1]
    assert tp.type_of(inner) == PointerType(tp.type_of(inner).target)  # type: ignore[union-attr]
    assert isinstance(tp.type_of(inner).target, RecordType)  # type: ignore[union-attr]
    assert tp.type_of(outer) == IntType(32, True)
    assert tp.fields[outer.node_id].base is FieldBase.KERNEL and tp.fields[outer.node_id].offset > 0


def test_tracepoint_args_come_from_the_format_file() -> None:
    tp = check('tracepoint:syscalls:sys_enter_openat { printf("%d %s\\n", args.flags, str(args.filename)); }')
    (info,) = tp.probes
    assert info.context is ContextKind.TRACEPOINT
    rec = info.args
    assert isinstance(rec, RecordType) and rec.name == "struct _tracepoint_syscalls_sys_enter_openat"
    flags = rec.field("flags")
    assert flags is not None and flags.offset == 32 and flags.type == IntType(32, True)
    fa = [n for n in A.walk(tp.program) if isinstance(n, A.FieldAccess) and n.field == "filename"][0]
    assert tp.fields[fa.node_id].base is FieldBase.CTX and isinstance(tp.type_of(fa), PointerType)


def test_data_loc_strings_and_byte_arrays() -> None:
    tp = check('tracepoint:sched:sched_process_exec { @[args.filename] = count(); }\n'
               'tracepoint:sock:inet_sock_set_state { @s[args.saddr] = count(); }')
    assert tp.maps["@"].key == StringType(64)
    fa = [n for n in A.walk(tp.program) if isinstance(n, A.FieldAccess) and n.field == "filename"][0]
    assert tp.fields[fa.node_id].data_loc
    assert tp.maps["@s"].key == ArrayType(IntType(8, False), 4)


def test_map_types_and_aggregations() -> None:
    tp = check('BEGIN { @c[comm, pid] = count(); @h = hist(5, 2); @l = lhist(5, 0, 100, 10); @x = 1; @x = -1; '
               '@s["a"] = "x"; @s["bb"] = "yyy"; }')
    assert tp.maps["@c"].key == TupleType((StringType(16), UINT64))
    assert tp.maps["@c"].value == AggType(AggKind.COUNT)
    assert tp.maps["@h"].value == AggType(AggKind.HIST, bits=2)
    assert tp.maps["@l"].value == AggType(AggKind.LHIST, lo=0, hi=100, step=10)
    assert tp.maps["@l"].value.buckets == 13  # type: ignore[union-attr]
    assert tp.maps["@x"].key is None and tp.maps["@x"].value == INT64
    assert tp.maps["@s"].key == StringType(3) and tp.maps["@s"].value == StringType(4)


def test_map_read_before_its_writer_probe() -> None:
    tp = check("BEGIN { printf(\"%d\\n\", @later); } END { @later = 1; }")
    assert tp.maps["@later"].value == INT64


def test_event_layouts() -> None:
    tp = check('BEGIN { printf("%d %s %d\\n", 1, comm, (uint8)2); print(@m); exit(); } END { @m = 1; }')
    pf, pm, ex = tp.events
    assert pf.kind is EventKind.PRINTF and pf.fmt == "%d %s %d\n"
    assert [(str(f.type), f.offset) for f in pf.fields] == [("int64", 8), ("string[16]", 16), ("unsigned int8", 32)]
    assert pf.size == 40
    assert pm.kind is EventKind.PRINT and pm.map == "@m" and pm.fields == ()
    assert ex.kind is EventKind.EXIT
    calls = [n for n in A.walk(tp.program) if isinstance(n, A.Call)]
    assert [tp.call_events[c.node_id] for c in calls] == [0, 1, 2]


def test_stacks_and_variables() -> None:
    tp = check("profile:hz:99 { $s = kstack(perf, 3); @[ustack] = count(); $t = (1, \"ab\"); $u = $t.1; }")
    assert tp.variables[(0, "s")] == StackType(True, StackMode.PERF, 3)
    assert tp.variables[(0, "u")] == StringType(3)
    assert tp.maps["@"].key == StackType(False, StackMode.BPFTRACE, 127)


def test_wildcards_expand_against_the_tracepoint_list() -> None:
    tp = check("tracepoint:sched:sched_wakeup* { @ = count(); }")
    assert [ap.func for ap in tp.probes[0].attach_points] == ["sched_wakeup", "sched_wakeup_new"]


def test_c_struct_definitions_and_casts() -> None:
    tp = check("struct pair { int a; long b; };\n"
               "uprobe:/bin/true:main { $p = (struct pair *)arg0; @[$p->b] = sum($p->a); }")
    fa = [n for n in A.walk(tp.program) if isinstance(n, A.FieldAccess)]
    assert [tp.fields[f.node_id].offset for f in fa] == [8, 0]
    assert all(tp.fields[f.node_id].base is FieldBase.USER for f in fa)


def test_positional_params() -> None:
    tp = check('BEGIN { printf("%d %s %d\\n", $1, str($2), $#); unroll($1) { } }', params=("3", "name"))
    assert tp.params == ("3", "name")


def test_unsafe_functions_with_unsafe() -> None:
    check('BEGIN { system("echo %d", 1); signal("KILL"); }', unsafe=True)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("src,expected", [
    ("BEGIN { @x = foo; }",
     "stdin:1:14-17: ERROR: Unknown identifier: 'foo'\nBEGIN { @x = foo; }\n             ~~~"),
    ('BEGIN { printf("%d\\n", 1, 2); }',
     'stdin:1:9-29: ERROR: printf: Too many arguments for format string (2 supplied, 1 expected)\n'
     'BEGIN { printf("%d\\n", 1, 2); }\n'
     '        ~~~~~~~~~~~~~~~~~~~~'),
    ('BEGIN { printf("%d\\n", "a"); }',
     'stdin:1:9-28: ERROR: printf: %d specifier expects a value of type integer (string supplied)\n'
     'BEGIN { printf("%d\\n", "a"); }\n'
     '        ~~~~~~~~~~~~~~~~~~~'),
    ("BEGIN { @x = 1; @x = \"a\"; }",
     "stdin:1:17-19: ERROR: Type mismatch for @x: trying to assign value of type 'string[2]' when map already "
     "contains a value of type 'int64'\nBEGIN { @x = 1; @x = \"a\"; }\n                ~~"),
    ("BEGIN { $x = 1 + \"a\"; }",
     "stdin:1:14-21: ERROR: Type mismatch for '+': comparing 'int64' with 'string[2]'\n"
     "BEGIN { $x = 1 + \"a\"; }\n             ~~~~~~~"),
    ("BEGIN { $x = str(1, 2, 3); }",
     "stdin:1:14-26: ERROR: str() takes up to 2 arguments (3 provided)\n"
     "BEGIN { $x = str(1, 2, 3); }\n             ~~~~~~~~~~~~"),
    ("BEGIN { $x = $y; }",
     "stdin:1:14-16: ERROR: Undefined or undeclared variable: $y\nBEGIN { $x = $y; }\n             ~~"),
    ("BEGIN { print(@y); }", "stdin:1:9-18: ERROR: Undefined map: @y\nBEGIN { print(@y); }\n        ~~~~~~~~~"),
    ("BEGIN { foo(1); }", "stdin:1:9-15: ERROR: Unknown function: foo\nBEGIN { foo(1); }\n        ~~~~~~"),
])
def test_semantic_errors_read_like_bpftrace(src: str, expected: str) -> None:
    assert error(src) == expected


@pytest.mark.parametrize("src,message", [
    ("tracepoint:syscalls:sys_enter_openat { print(retval); }",
     "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes "
     "(try to use args->ret instead)"),
    ("uprobe:/bin/bash:readline { print(retval); }", "The retval builtin can only be used with"),
    ("t:nope:nope { }", "tracepoint not found: nope:nope"),
    ("t:nope:x* { }", "tracepoint not found: nope:x*"),
    ("tracepoint:syscalls:sys_enter_openat { $x = arg0; }",
     "The arg0 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"),
    ("BEGIN { $x = args; }", "The args builtin can only be used with tracepoint/kfunc/uprobe probes (special used"),
    ("tracepoint:syscalls:sys_enter_openat { $x = args.nope; }",
     "'struct _tracepoint_syscalls_sys_enter_openat' does not contain a field named 'nope'"),
    ("BEGIN { @x = count(); @x = 1; }",
     "trying to assign value of type 'int64' when map already contains a value of type 'count'"),
    ("BEGIN { @x = count(); $y = @x + 1; }", "Type mismatch for '+': comparing 'count' with 'int64'"),
    ("BEGIN { @x[1] = 1; @x[\"a\"] = 1; }",
     "Argument mismatch for @x: trying to access with arguments: [string[2]] when map expects arguments: [int64]"),
    ("BEGIN { @x = 1; @x[1] = 1; }", "Argument mismatch for @x"),
    ("BEGIN { $x = count(); }", "count() should be directly assigned to a map"),
    ("BEGIN { printf(1); }", "printf() expects a string literal (integer provided)"),
    ('BEGIN { printf("%s\\n", 1); }', "printf: %s specifier expects a value of type string (integer supplied)"),
    ('BEGIN { printf("%d %d\\n", 1); }', "Not enough arguments for format string (1 supplied, 2 expected)"),
    ('BEGIN { printf("%q\\n", 1); }', "Invalid format string"),
    ('BEGIN { system("ls"); }', "system() is an unsafe function being used in safe mode"),
    ("BEGIN { signal(9); }", "signal() is an unsafe function being used in safe mode"),
    ("BEGIN { exit(1, 2); }", "exit() takes up to 1 argument (2 provided)"),
    ("BEGIN { @ = hist(\"a\"); }", "hist() only supports integer arguments (string provided)"),
    ("BEGIN { @ = hist(1, 9); }", "hist: bits must be between 0 and 5"),
    ("BEGIN { @ = lhist(1, 10, 5, 1); }", "lhist() max must be greater than min"),
    ("BEGIN { @ = count(1); }", "count() requires no arguments (1 provided)"),
    ("BEGIN { $x = 1; $x = \"a\"; }", "Type mismatch for $x: trying to assign value of type 'string[2]'"),
    ("BEGIN { $x = printf(\"a\"); }", "cannot be assigned"),
    ("BEGIN { unroll(101) { } }", "unroll maximum value is 100"),
    ("BEGIN { unroll(0) { } }", "unroll minimum value is 1"),
    ("BEGIN { break; }", "'break' statement is not in a loop"),
    ("BEGIN { $t = (1, 2); $x = $t.2; }", "Invalid tuple index: 2. Found 2 elements in tuple."),
    ("BEGIN { $x = (struct nosuchstruct_xyz *)0; $y = $x->a; }", "nosuchstruct_xyz"),
    ('BEGIN { $x = "a"; if ($x) { } }', "Invalid condition"),
    ('BEGIN /"a"/ { }', "Invalid type for predicate"),
    ("BEGIN { for ($kv : @nope) { } }", "Undefined map: @nope"),
    ("BEGIN { @x = 1; clear(@x[1]); }", "clear() expects a map with no keys"),
    ("BEGIN { $x = kstack(fancy); }", "unknown stack mode 'fancy'"),
    ('BEGIN { $x = pton("not-an-ip"); }', "pton() expects a valid IPv4 or IPv6 address"),
    ("BEGIN { $x = uaddr(\"x\"); }", "uaddr can only be used with uprobes and usdt probes"),
    ("kprobe:f { $x = func; } t:syscalls:sys_enter_kill { $y = func; }",
     "The func builtin can not be used with 'tracepoint' probes"),
    ("BEGIN { printf(\"%s\\n\", func); }", "The func builtin can not be used with 'BEGIN' probes"),
    ("BEGIN { @x = count(); @x++; }", "The ++ operator can not be used on expressions of type 'count'"),
    ('BEGIN { printf("%d\\n", 1 ? 1 : "a"); }',
     "Ternary operator must return the same type: have 'integer' and 'string'"),
    ("BEGIN { print(1, 2); }", "Non-map print() only takes 1 argument, 2 found"),
    ("BEGIN { $x = comm[0]; }", "The array index operator [] can only be used on arrays and pointers, found string."),
])
def test_semantic_errors(src: str, message: str) -> None:
    assert message in error(src)


def test_error_on_a_later_line_points_there() -> None:
    text = error("BEGIN {\n  @a = 1;\n}\nEND {\n  printf(\"%s\\n\", @a);\n}\n", )
    assert text.splitlines()[0].startswith("stdin:5:3-")
    assert text.splitlines()[1] == '  printf("%s\\n", @a);'
    assert text.splitlines()[2].startswith("  ~~~")


def test_errors_are_bpf_errors() -> None:
    with pytest.raises(BPFError):
        check("BEGIN { $x = nosuch; }")


# ----------------------------------------------------------------------------- robustness

_ATOMS = ["1", "-1", '"s"', "$x", "@m", "@m[1]", "@m[comm]", "pid", "comm", "kstack", "ustack", "curtask", "args",
          "arg0", "retval", "func", "probe", "$1", "$#", '(1, "a")', "$x.0", "str(arg0)", "count()", "hist(1)",
          "lhist(1, 0, 10, 1)", "ksym(1)", "ntop(1)", "(uint8)1", "(struct task_struct *)0", "curtask->pid",
          "sizeof(uint32)", "args.filename", "args.ret", "*$x", "$x[0]", "comm[1]", "kstack(perf, 2)", "len(@m)"]
_PROBES = ["BEGIN", "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_read", "kretprobe:f",
           "uprobe:/bin/sh:main", "profile:hz:9", "t:sched:sched_wakeup*"]

_exprs = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.builds("{} {} {}".format, inner, st.sampled_from(["+", "==", "&&", "<<", "-"]), inner),
        st.builds("{} ? {} : {}".format, inner, inner, inner),
        st.builds("{}({})".format, st.sampled_from(["printf", "print", "str", "count", "delete", "exit"]), inner),
    ),
    max_leaves=6,
)
_stmts = st.one_of(
    st.builds("$x = {};".format, _exprs),
    st.builds("@m = {};".format, _exprs),
    st.builds("@m[1] = {};".format, _exprs),
    st.builds('printf("%d %s\\n", {}, {});'.format, _exprs, _exprs),
    st.builds("if ({}) {{ $x = {}; }}".format, _exprs, _exprs),
    st.builds("for ($kv : @m) {{ {} }}".format, st.builds("{};".format, _exprs)),
    st.builds("{};".format, _exprs),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PROBES), st.lists(_stmts, min_size=1, max_size=4)), min_size=1, max_size=2))
def test_random_programs_only_raise_our_errors(probes: list[tuple[str, list[str]]]) -> None:
    src = "\n".join(f"{p} {{ {' '.join(body)} }}" for p, body in probes)
    try:
        tp = check(src)
    except TraceSemanticError as e:
        assert e.line >= 1 and "ERROR:" in str(e)
    else:
        assert len(tp.probes) == len(probes)


def test_uprobe_wildcards_expand_against_elf_symbols(tmp_path: Path) -> None:
    tp = check("uprobe:/fake/bin:read* { @[func] = count(); }",
               elf_symbols=lambda path: ["main", "readline", "readline_internal", "write"])
    assert [ap.func for ap in tp.probes[0].attach_points] == ["readline", "readline_internal"]
    assert tp.probes[0].attach_points[0].name == "uprobe:/fake/bin:readline"
    msg = error("uprobe:/fake/bin:nomatch* { }", elf_symbols=lambda path: ["main"])
    assert "no function of /fake/bin matches 'nomatch*'" in msg
    msg = error(f"uprobe:{tmp_path}/missing:f* {{ }}")
    assert "cannot read the symbols of" in msg
