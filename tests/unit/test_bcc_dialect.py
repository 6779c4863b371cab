"""bcc's C dialect rewriter: map macros, methods, probes, implicit reads and fallbacks.

Rewriting runs against a StaticKernel (fixed tracepoint formats, kprobes on or off), so
these tests need no root; the C they produce is compiled with pybpf.cc and the object's
maps and sections are checked.
"""

from __future__ import annotations

import logging
import re

import pytest

from pybpf.bcc.dialect import AttachRequest, ProbeKind, RewriteError, StaticKernel, compile_bcc, rewrite
from pybpf.bcc.dialect.kernel import FieldKind, FieldType
from pybpf.bcc.dialect.tokens import Kind, TokenizeError, tokenize
from pybpf.enums import MapType
from pybpf.errors import CompileError, NotSupportedError
from pybpf.spec import ObjectSpec

_HEAD = """\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
"""


def _fmt(name: str, fields: str, tp_id: int = 1) -> str:
    return f"name: {name}\nID: {tp_id}\nformat:\n{_HEAD}\n{fields}\nprint fmt: \"\"\n"


def _sys(name: str, args: list[tuple[str, int]]) -> str:
    lines = "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    for i, (decl, signed) in enumerate(args):
        lines += f"\tfield:{decl};\toffset:{16 + 8 * i};\tsize:8;\tsigned:{signed};\n"
    return _fmt(name, lines)


FORMATS = {
    "syscalls:sys_enter_clone": _sys("sys_enter_clone", [("unsigned long clone_flags", 0), ("unsigned long newsp", 0),
                                                          ("int * parent_tidptr", 0), ("int * child_tidptr", 0),
                                                          ("unsigned long tls", 0)]),
    "syscalls:sys_exit_clone": _sys("sys_exit_clone", [("long ret", 1)]),
    "syscalls:sys_enter_execve": _sys("sys_enter_execve", [("const char * filename", 0),
                                                            ("const char *const * argv", 0),
                                                            ("const char *const * envp", 0)]),
    "syscalls:sys_exit_execve": _sys("sys_exit_execve", [("long ret", 1)]),
    "syscalls:sys_enter_openat": _sys("sys_enter_openat", [("int dfd", 1), ("const char * filename", 0),
                                                            ("int flags", 1), ("umode_t mode", 0)]),
    "sched:sched_process_exec": _fmt("sched_process_exec",
                                     "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n"
                                     "\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n"
                                     "\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n"),
    "sched:sched_switch": _fmt("sched_switch",
                               "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
                               "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
                               "\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n"
                               "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n"
                               "\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n"
                               "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n"
                               "\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n"),
    "sock:inet_sock_set_state": _fmt("inet_sock_set_state",
                                     "\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n"
                                     "\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;\n"
                                     "\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;\n"),
    "tcp:tcp_probe": _fmt("tcp_probe", "\tfield:__u16 sport;\toffset:8;\tsize:2;\tsigned:0;\n"),
    "tcp:tcp_retransmit_skb": _fmt("tcp_retransmit_skb", "\tfield:const void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;\n"),
}
NO_KPROBES = StaticKernel(formats=FORMATS, has_kprobes=False, ncpus=3)
KPROBES = StaticKernel(formats=FORMATS, has_kprobes=True, ncpus=3)
HELLO = 'int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }'


def _spec(text: str, kernel: StaticKernel = NO_KPROBES, **kw: object) -> tuple[ObjectSpec, object]:
    obj, result = compile_bcc(text, kernel=kernel, **kw)  # type: ignore[arg-type]
    return ObjectSpec.from_file(obj), result


def test_module_doctests() -> None:
    import doctest

    import pybpf.bcc.dialect as dialect

    failed, tried = doctest.testmod(dialect, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failed == 0


# -- tokenizer -------------------------------------------------------------------------------


def test_tokenizer_round_trips_and_keeps_strings_and_comments_whole() -> None:
    text = '#include <x.h>\nint f() { char *s = "a.b(c) // {"; /* m.lookup( */ return s[0] -> 1; }\n'
    toks = tokenize(text)
    assert "".join(t.text for t in toks) == text
    kinds = {t.text: t.kind for t in toks}
    assert kinds['"a.b(c) // {"'] is Kind.STRING
    assert kinds["/* m.lookup( */"] is Kind.COMMENT
    assert kinds["#include <x.h>"] is Kind.PREPROC
    assert kinds["->"] is Kind.PUNCT


def test_tokenizer_rejects_an_unterminated_comment() -> None:
    with pytest.raises(TokenizeError, match="line 2"):
        tokenize("int x;\n/* never closed\n")


# -- map macros ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decl", "kind", "key", "leaf", "size", "flags"),
    [
        ("BPF_HASH(m);", MapType.HASH, "u64", "u64", 10240, 0),
        ("BPF_HASH(m, u32);", MapType.HASH, "u32", "u64", 10240, 0),
        ("BPF_HASH(m, struct k_t, u32, 64);", MapType.HASH, "struct k_t", "u32", 64, 0),
        ("BPF_ARRAY(m);", MapType.ARRAY, "int", "u64", 10240, 0),
        ("BPF_ARRAY(m, u32, 4);", MapType.ARRAY, "int", "u32", 4, 0),
        ("BPF_HISTOGRAM(m);", MapType.ARRAY, "int", "u64", 64, 0),
        ("BPF_HISTOGRAM(m, struct k_t);", MapType.HASH, "struct k_t", "u64", 64, 0),
        ("BPF_HISTOGRAM(m, int, 128);", MapType.ARRAY, "int", "u64", 128, 0),
        ("BPF_PERCPU_HASH(m, u32, u32);", MapType.PERCPU_HASH, "u32", "u32", 10240, 0),
        ("BPF_PERCPU_ARRAY(m, u64, 2);", MapType.PERCPU_ARRAY, "int", "u64", 2, 0),
        ("BPF_LRU_HASH(m, u32);", MapType.LRU_HASH, "u32", "u64", 10240, 0),
        ("BPF_LPM_TRIE(m, struct k_t);", MapType.LPM_TRIE, "struct k_t", "u64", 10240, 1),
        ("BPF_STACK_TRACE(m, 512);", MapType.STACK_TRACE, "int", "struct bpf_stacktrace", 512, 0),
        ("BPF_PERF_OUTPUT(m);", MapType.PERF_EVENT_ARRAY, "int", "u32", 3, 0),
        ("BPF_RINGBUF_OUTPUT(m, 4);", MapType.RINGBUF, None, None, 4 * 4096, 0),
        ("BPF_PROG_ARRAY(m, 8);", MapType.PROG_ARRAY, "int", "int", 8, 0),
        ("BPF_QUEUE(m, u32, 16);", MapType.QUEUE, None, "u32", 16, 0),
        ("BPF_STACK(m, u64, 16);", MapType.STACK, None, "u64", 16, 0),
        ('BPF_TABLE("lru_hash", u32, u32, m, 99);', MapType.LRU_HASH, "u32", "u32", 99, 0),
        ('BPF_F_TABLE("hash", u32, u32, m, 99, 1);', MapType.HASH, "u32", "u32", 99, 1),
    ],
)
def test_map_macro_declares_bcc_defaults(decl: str, kind: MapType, key: str | None, leaf: str | None, size: int,
                                         flags: int) -> None:
    m = rewrite(decl, kernel=NO_KPROBES).maps[0]
    assert (m.name, m.kind, m.key_type, m.leaf_type, m.size, m.flags) == ("m", kind, key, leaf, size, flags)


def test_pinned_and_shared_tables_are_recorded() -> None:
    r = rewrite('BPF_TABLE_PINNED("hash", u32, u64, p, 8, "/sys/fs/bpf/p");\n'
                'BPF_TABLE_SHARED("array", int, u64, s, 4);\nBPF_TABLE_PUBLIC("hash", u32, u32, q, 4);',
                kernel=NO_KPROBES)
    assert [(m.name, m.pinned, m.shared) for m in r.maps] == [("p", "/sys/fs/bpf/p", False), ("s", None, True),
                                                               ("q", None, True)]


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        ("BPF_STACK_TRACE(s);", r"BPF_STACK_TRACE takes \(name, size\)"),
        ('BPF_TABLE("nosuch", u32, u32, m, 4);', "unknown bcc table kind 'nosuch'"),
        ("BPF_RINGBUF_OUTPUT(rb, 3);", "power of two"),
        ("BPF_HASH(m, u32, u64, lots);", "integer constant"),
    ],
)
def test_bad_map_macro_names_the_line(decl: str, message: str) -> None:
    with pytest.raises(RewriteError, match=message) as info:
        rewrite("\n\n" + decl, kernel=NO_KPROBES)
    assert info.value.line == 3


def test_every_map_compiles_to_its_kernel_map() -> None:
    text = """
struct k_t { u32 a; u32 b; };
BPF_HASH(h, struct k_t, u64, 77);
BPF_ARRAY(a, u32, 5);
BPF_HISTOGRAM(hist);
BPF_PERF_OUTPUT(events);
BPF_RINGBUF_OUTPUT(rb, 2);
BPF_STACK_TRACE(stacks, 100);
BPF_QUEUE(q, u32, 16);
BPF_LPM_TRIE(trie, struct k_t, u32, 10);
BPF_PROG_ARRAY(jmp, 2);
TRACEPOINT_PROBE(sched, sched_switch) { return 0; }
"""
    spec, _ = _spec(text)
    got = {n: (m.type, m.max_entries, m.key_size, m.value_size) for n, m in spec.maps.items() if not n.startswith(".")}
    assert got["h"] == (MapType.HASH, 77, 8, 8)
    assert got["a"] == (MapType.ARRAY, 5, 4, 4)
    assert got["hist"] == (MapType.ARRAY, 64, 4, 8)
    assert got["events"][:2] == (MapType.PERF_EVENT_ARRAY, 3)
    assert got["rb"][:2] == (MapType.RINGBUF, 8192)
    assert got["stacks"] == (MapType.STACK_TRACE, 100, 4, 127 * 8)
    assert got["q"][:2] == (MapType.QUEUE, 16)
    assert got["trie"] == (MapType.LPM_TRIE, 10, 8, 4)
    assert got["jmp"][:2] == (MapType.PROG_ARRAY, 2)


# -- methods -------------------------------------------------------------------------------------


def test_methods_become_helper_calls_and_compile() -> None:
    text = """
struct val_t { u64 n; };
BPF_HASH(h, u32, struct val_t);
BPF_HISTOGRAM(dist);
BPF_PERF_OUTPUT(events);
BPF_RINGBUF_OUTPUT(rb, 1);
BPF_STACK_TRACE(stacks, 64);
BPF_QUEUE(q, u32, 4);
BPF_PROG_ARRAY(jmp, 2);
TRACEPOINT_PROBE(sched, sched_switch)
{
    u32 k = args->next_pid;
    struct val_t zero = {}, *v = h.lookup(&k);
    if (!v) v = h.lookup_or_try_init(&k, &zero);
    if (v) v->n++;
    h.update(&k, &zero); h.insert(&k, &zero); h.delete(&k);
    dist.increment(bpf_log2l(k)); dist.increment(1, 5); dist.atomic_increment(2);
    events.perf_submit(args, &k, sizeof(k));
    rb.ringbuf_output(&k, sizeof(k), 0);
    u32 *r = rb.ringbuf_reserve(sizeof(u32));
    if (r) { *r = k; rb.ringbuf_submit(r, 0); }
    int id = stacks.get_stackid(args, 0);
    q.push(&k, 0); q.peek(&k); q.pop(&k);
    jmp.call(args, 1);
    return id;
}
"""
    spec, result = _spec(text)
    assert "tracepoint__sched__sched_switch" in spec.programs
    src = result.c_source  # type: ignore[attr-defined]
    assert "__bcc_map_lookup_or_try_init(h, &k, &zero)" in src
    assert "__bcc_map_increment(dist, 1, 5)" in src
    assert "__bcc_map_increment(dist, 2, 1)" in src  # the default amount
    assert "__bcc_map_perf_submit(events, args, &k, sizeof(k))" in src


def test_methods_inside_defines_are_rewritten_and_keep_their_lines() -> None:
    text = ("BPF_HASH(counts, u32);\n#define INC(k) counts.increment(k)\n"
            "#define PUT(k) do { \\\n    counts.update(&k, \\\n      &k); } while (0)\n"
            "TRACEPOINT_PROBE(sched, sched_switch) {\n  u32 p = args->next_pid; u64 v = p; INC(p);\n"
            "  return 0;\n}\n")
    spec, result = _spec(text)
    src = result.c_source  # type: ignore[attr-defined]
    assert "#define INC(k) __bcc_map_increment(counts, k, 1)" in src
    assert "__bcc_map_update(counts, &k, \\\n      &k)" in src
    out = src.splitlines()
    line = next(i for i, s in enumerate(out, start=1) if "INC(p);" in s)
    assert result.user_line(line) == 7  # type: ignore[attr-defined]


def test_unknown_map_method_is_an_error_on_its_line() -> None:
    with pytest.raises(RewriteError, match=r"unknown map method h\.frobnicate\(\)") as info:
        rewrite("BPF_HASH(h);\nTRACEPOINT_PROBE(sched, sched_switch) {\n  u64 k = 0;\n  h.frobnicate(&k);\n"
                "  return 0;\n}", kernel=NO_KPROBES)
    assert info.value.line == 4
    assert "h.frobnicate(&k);" in str(info.value)


def test_wrong_method_arity_is_an_error() -> None:
    with pytest.raises(RewriteError, match=r"h\.update\(\) takes 2 argument\(s\), got 1"):
        rewrite("BPF_HASH(h);\nTRACEPOINT_PROBE(sched, sched_switch) { u64 k; h.update(&k); return 0; }",
                kernel=NO_KPROBES)


def test_methods_in_strings_comments_and_other_structs_are_left_alone() -> None:
    text = ('BPF_HASH(h);\nstruct s { int h; };\nTRACEPOINT_PROBE(sched, sched_switch) {\n'
            '  struct s x = {}; /* h.lookup(0) */ bpf_trace_printk("h.lookup(0)\\n"); return x.h;\n}')
    src = rewrite(text, kernel=NO_KPROBES).c_source
    assert "/* h.lookup(0) */" in src and '"h.lookup(0)\\n"' in src and "return x.h;" in src


def test_trace_printk_with_a_literal_uses_sizeof_and_others_are_kept() -> None:
    src = rewrite('TRACEPOINT_PROBE(sched, sched_switch) { char f[] = "x"; bpf_trace_printk("a %d\\n", 1); '
                  "bpf_trace_printk(f, sizeof(f)); return 0; }", kernel=NO_KPROBES).c_source
    assert 'bpf_printk("a %d\\n", 1)' in src and "bpf_trace_printk(f, sizeof(f))" in src


# -- probes --------------------------------------------------------------------------------------


def test_tracepoint_probe_args_struct_from_the_format_file() -> None:
    text = ("TRACEPOINT_PROBE(sched, sched_process_exec) {\n  char f[32];\n  TP_DATA_LOC_READ_CONST(f, filename, 32);\n"
            "  return args->pid + args->old_pid;\n}\n"
            "TRACEPOINT_PROBE(syscalls, sys_enter_openat) { return args->mode + args->dfd; }\n")
    spec, result = _spec(text)
    assert spec.programs["tracepoint__sched__sched_process_exec"].section == "tracepoint/sched/sched_process_exec"
    src = result.c_source  # type: ignore[attr-defined]
    assert "int data_loc_filename;" in src
    # syscall records widen every argument to 8 bytes: umode_t mode is 8 bytes here
    assert re.search(r"u64 mode;", src)
    probes = {p.func_name: (p.kind, p.target) for p in result.probes}  # type: ignore[attr-defined]
    assert probes["tracepoint__syscalls__sys_enter_openat"] == (ProbeKind.TRACEPOINT, "syscalls:sys_enter_openat")


def test_unknown_tracepoint_lists_the_category() -> None:
    with pytest.raises(RewriteError, match=r"no tracepoint sched:sched_nope.*sched:sched_switch"):
        rewrite("TRACEPOINT_PROBE(sched, sched_nope) { return 0; }", kernel=NO_KPROBES)


def test_prefixes_and_macros_name_sections() -> None:
    text = """
int tracepoint__sched__sched_switch(struct tracepoint__sched__sched_switch *args) { return args->next_pid; }
RAW_TRACEPOINT_PROBE(sched_wakeup) { return 0; }
int raw_tracepoint__sched_waking(struct bpf_raw_tracepoint_args *ctx) { return 0; }
KFUNC_PROBE(do_unlinkat, int dfd, struct filename *name) { return 0; }
KRETFUNC_PROBE(do_unlinkat, int dfd, struct filename *name, long ret) { return 0; }
LSM_PROBE(bpf, int cmd) { return 0; }
static int helper(int x) { return x; }
int not_a_probe(struct pt_regs *ctx) { return helper(1); }
"""
    spec, result = _spec(text)
    sections = {n: p.section for n, p in spec.programs.items()}
    assert sections == {
        "tracepoint__sched__sched_switch": "tracepoint/sched/sched_switch",
        "raw_tracepoint__sched_wakeup": "raw_tracepoint/sched_wakeup",
        "raw_tracepoint__sched_waking": "raw_tracepoint/sched_waking",
        "kfunc__vmlinux__do_unlinkat": "fentry/do_unlinkat",
        "kretfunc__vmlinux__do_unlinkat": "fexit/do_unlinkat",
        "lsm__bpf": "lsm/bpf",
        "not_a_probe": ".bcc.fn/not_a_probe",
    }
    auto = {p.func_name for p in result.probes}  # type: ignore[attr-defined]
    assert "not_a_probe" not in auto and "kfunc__vmlinux__do_unlinkat" in auto


# -- kprobes: fallbacks and kprobe kernels --------------------------------------------------------


def test_hello_world_falls_back_to_the_syscall_tracepoint(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pybpf.bcc"):
        spec, result = _spec(HELLO)
    prog = spec.programs["kprobe__sys_clone"]
    assert prog.section == "tracepoint/syscalls/sys_enter_clone"
    (probe,) = result.probes  # type: ignore[attr-defined]
    assert probe.kind is ProbeKind.KPROBE and probe.target == "sys_clone"
    assert probe.fallback is not None and probe.fallback.tracepoint == "syscalls:sys_enter_clone"
    assert any("syscalls:sys_enter_clone" in r.getMessage() for r in caplog.records)


def test_syscall_function_binds_arguments_and_kretprobe_gets_rc() -> None:
    text = """
int syscall__execve(struct pt_regs *ctx, const char __user *filename, const char __user *const __user *argv)
{
    char buf[32];
    bpf_probe_read_user_str(buf, sizeof(buf), filename);
    return PT_REGS_PARM1(ctx) == (unsigned long)filename;
}
int on_ret(struct pt_regs *ctx) { return PT_REGS_RC(ctx); }
"""
    spec, result = _spec(text, attach=[AttachRequest("on_ret", ProbeKind.KRETPROBE, "__x64_sys_execve")])
    assert spec.programs["syscall__execve"].section == "tracepoint/syscalls/sys_enter_execve"
    assert spec.programs["on_ret"].section == "tracepoint/syscalls/sys_exit_execve"
    src = result.c_source  # type: ignore[attr-defined]
    assert "__bcc_set_parm(&__bcc_regs, 1, args->filename);" in src
    assert "__bcc_set_rc(&__bcc_regs, args->ret);" in src
    fbs = {f.func_name: f for f in result.fallbacks}  # type: ignore[attr-defined]
    assert fbs["on_ret"].requested is ProbeKind.KRETPROBE and fbs["syscall__execve"].exact
    assert not result.probes  # type: ignore[attr-defined]  # neither is auto-attached by bcc


def test_table_fallback_tcp_v4_connect_uses_inet_sock_set_state() -> None:
    text = ("int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)\n{\n"
            "    return sk->__sk_common.skc_dport;\n}\n")
    spec, result = _spec(text)
    assert spec.programs["kprobe__tcp_v4_connect"].section == "raw_tracepoint/inet_sock_set_state"
    (fb,) = result.fallbacks  # type: ignore[attr-defined]
    assert fb.hook_kind is ProbeKind.RAW_TRACEPOINT and not fb.exact and "SYN_SENT" in fb.note
    assert "BPF_CORE_READ(sk, __sk_common.skc_dport)" in result.c_source  # type: ignore[attr-defined]


def test_kprobe_with_no_fallback_lists_the_subsystem_tracepoints() -> None:
    with pytest.raises(NotSupportedError) as info:
        rewrite("int kprobe__tcp_sendmsg(struct pt_regs *ctx) { return 0; }", kernel=NO_KPROBES)
    text = str(info.value)
    assert "tcp_sendmsg" in text and "tcp:tcp_probe" in text and "tcp:tcp_retransmit_skb" in text


def test_kretprobe_without_a_return_value_is_refused() -> None:
    with pytest.raises(NotSupportedError, match="kretprobe on wake_up_new_task"):
        rewrite("int kretprobe__wake_up_new_task(struct pt_regs *ctx) { return 0; }",
                kernel=StaticKernel(formats={**FORMATS, "sched:sched_wakeup_new": FORMATS["sched:sched_switch"]}))


def test_kprobe_kernel_keeps_kprobes_and_binds_arguments_from_registers() -> None:
    text = ("int kprobe__sys_clone(void *ctx) { return 0; }\n"
            "int kprobe__do_unlinkat(struct pt_regs *ctx, int dfd, struct filename *name) { return dfd; }\n"
            "int syscall__execve(struct pt_regs *ctx, const char __user *filename) { return 0; }\n")
    spec, result = _spec(text, kernel=KPROBES)
    sections = {n: p.section for n, p in spec.programs.items()}
    assert sections == {"kprobe__sys_clone": "kprobe/sys_clone", "kprobe__do_unlinkat": "kprobe/do_unlinkat",
                        "syscall__execve": "kprobe/__x64_sys_execve"}
    src = result.c_source  # type: ignore[attr-defined]
    assert "(int)PT_REGS_PARM1(ctx)" in src
    assert "PT_REGS_PARM1_CORE_SYSCALL(PT_REGS_SYSCALL_REGS(ctx))" in src
    assert not result.fallbacks  # type: ignore[attr-defined]


def test_perf_submit_in_an_adapter_gets_the_real_context() -> None:
    text = ("BPF_PERF_OUTPUT(events);\nint kprobe__sys_clone(struct pt_regs *ctx) {\n"
            "  u32 x = 1; events.perf_submit(ctx, &x, sizeof(x));\n"
            "  bpf_get_stackid(ctx, &events, 0); return 0; }\n")
    spec, result = _spec(text)
    src = result.c_source  # type: ignore[attr-defined]
    assert "__bcc_map_perf_submit(events, __bcc_ctx, &x, sizeof(x))" in src
    assert "bpf_get_stackid(__bcc_ctx, &events, 0)" in src


def test_static_helpers_taking_ctx_get_the_real_context() -> None:
    text = ("BPF_PERF_OUTPUT(events);\n"
            "static int submit(struct pt_regs *ctx, int v) { events.perf_submit(ctx, &v, sizeof(v)); return 0; }\n"
            "int kretprobe__sys_clone(struct pt_regs *ctx) { return submit(ctx, PT_REGS_RC(ctx)); }\n"
            "TRACEPOINT_PROBE(sched, sched_switch) { return submit((struct pt_regs *)args, 1); }\n")
    kernel = StaticKernel(formats=FORMATS)
    spec, result = _spec(text, kernel=kernel)
    src = result.c_source  # type: ignore[attr-defined]
    assert "static int submit(void *__bcc_ctx, struct pt_regs *ctx, int v)" in src
    assert "__bcc_map_perf_submit(events, __bcc_ctx, &v, sizeof(v))" in src
    assert "return submit(__bcc_ctx, ctx, PT_REGS_RC(ctx));" in src
    assert "return submit((struct pt_regs *)args, (struct pt_regs *)args, 1);" in src
    assert spec.programs["kretprobe__sys_clone"].section == "tracepoint/syscalls/sys_exit_clone"


def test_usdt_readarg_compiles_with_usdt_contexts() -> None:
    text = ("int do_trace(struct pt_regs *ctx) {\n  long v = 0; char buf[16];\n"
            "  bpf_usdt_readarg(1, ctx, &v);\n  bpf_usdt_readarg_p(2, ctx, &buf, sizeof(buf));\n"
            "  return v + buf[0];\n}\n")
    spec, _ = _spec(text, usdt=True)
    assert spec.programs["do_trace"].section == ".bcc.fn/do_trace"
    assert "__pybpf_usdt_specs" in spec.maps
    with pytest.raises(CompileError):
        compile_bcc(text, kernel=NO_KPROBES)  # without usdt contexts bpf_usdt_readarg does not exist


# -- implicit reads --------------------------------------------------------------------------------


def test_implicit_reads_become_core_reads() -> None:
    text = """
int kprobe__finish_task_switch(struct pt_regs *ctx, struct task_struct *prev)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct task_struct *parent = task->real_parent;
    u32 a = task->real_parent->tgid;
    u32 b = parent->pid + prev->pid;
    char comm[16];
    bpf_probe_read_kernel(&comm, sizeof(comm), &task->comm);
    bpf_probe_read_kernel(&comm, sizeof(task->comm), prev->comm);
    bpf_probe_read_kernel(&comm, sizeof(comm), task->real_parent->comm);
    bpf_probe_read_kernel(&comm, sizeof(comm), &task->real_parent->comm);
    const char *s = "task->pid";
    return a + b + sizeof(task->pid);
}
"""
    kernel = StaticKernel(formats=FORMATS, fields={
        "task_struct.real_parent": FieldType(FieldKind.POINTER, "task_struct"),
        "task_struct.comm": FieldType(FieldKind.ARRAY), "task_struct.pid": FieldType(FieldKind.SCALAR)})
    spec, result = _spec(text, kernel=kernel)
    src = result.c_source  # type: ignore[attr-defined]
    assert "struct task_struct *parent = BPF_CORE_READ(task, real_parent);" in src
    assert "u32 a = BPF_CORE_READ(task, real_parent, tgid);" in src
    assert "u32 b = BPF_CORE_READ(parent, pid) + BPF_CORE_READ(prev, pid);" in src
    assert "bpf_probe_read_kernel(&comm, sizeof(comm), &task->comm);" in src
    assert "bpf_probe_read_kernel(&comm, sizeof(task->comm), prev->comm);" in src
    # an array member, or an address: only the pointers on the way are read
    assert "bpf_probe_read_kernel(&comm, sizeof(comm), (BPF_CORE_READ(task, real_parent))->comm);" in src
    assert "bpf_probe_read_kernel(&comm, sizeof(comm), &(BPF_CORE_READ(task, real_parent))->comm);" in src
    assert '"task->pid"' in src and "sizeof(task->pid)" in src
    assert spec.programs["kprobe__finish_task_switch"].section == "raw_tracepoint/sched_switch"


def test_user_structs_and_network_programs_are_not_read_through() -> None:
    text = ("struct val_t { u64 n; };\nBPF_HASH(h, u32, struct val_t);\n"
            "int kprobe__sys_clone(struct pt_regs *ctx) {\n"
            "  u32 k = 0; struct val_t *v = h.lookup(&k); if (v) return v->n; return 0; }\n"
            "int xdp_prog(struct xdp_md *ctx) {\n"
            "  void *data = (void *)(long)ctx->data; struct ethhdr *eth = data;\n"
            "  if ((void *)(eth + 1) > (void *)(long)ctx->data_end) return 1; return eth->h_proto; }\n")
    src = rewrite(text, kernel=NO_KPROBES).c_source
    assert "return v->n;" in src and "return eth->h_proto;" in src and "BPF_CORE_READ" not in src


def test_kernel_btf_types_member_chains() -> None:
    from pybpf.bcc.dialect.kernel import live_kernel

    k = live_kernel()
    assert k.field_type("task_struct", ("real_parent",)) == FieldType(FieldKind.POINTER, "task_struct")
    assert k.field_type("task_struct", ("comm",)) == FieldType(FieldKind.ARRAY)
    assert k.field_type("sock", ("__sk_common", "skc_daddr")) == FieldType(FieldKind.SCALAR)  # inside an anonymous union
    assert k.field_type("sock", ("no_such_member",)) is None


def test_writes_and_address_of_are_not_reads() -> None:
    text = ("int kprobe__sys_clone(struct pt_regs *ctx, struct task_struct *t) {\n"
            "  void *p = &t->pid; t->pid = 1; t->pid++; return 0; }\n")
    src = rewrite(text, kernel=NO_KPROBES).c_source
    assert "&t->pid;" in src and "t->pid = 1;" in src and "t->pid++;" in src


# -- includes, license, lines --------------------------------------------------------------------


def test_kernel_includes_are_served_or_dropped() -> None:
    text = ("#include <uapi/linux/ptrace.h>\n#include <linux/sched.h>\n#include <net/sock.h>\n"
            "#include <linux/no_such_header.h>\n"
            "TRACEPOINT_PROBE(sched, sched_switch) { return TASK_COMM_LEN + AF_INET + ETH_P_IP + IPPROTO_TCP; }\n")
    spec, result = _spec(text)
    src = result.c_source  # type: ignore[attr-defined]
    assert "#include <linux/sched.h>" in src
    assert "#include <linux/no_such_header.h>" not in src
    assert "tracepoint__sched__sched_switch" in spec.programs


def test_license_is_gpl_unless_the_program_sets_one() -> None:
    spec, _ = _spec(HELLO)
    assert spec.license == "GPL"
    own = rewrite(HELLO + '\nchar _license[] SEC("license") = "Dual BSD/GPL";', kernel=NO_KPROBES).c_source
    assert own.count('SEC("license")') == 1


def test_line_map_points_back_at_the_users_lines() -> None:
    text = "BPF_HASH(h,\n  u32,\n  u64);\n// four\nTRACEPOINT_PROBE(sched, sched_switch) { return 0; }\n"
    r = rewrite(text, kernel=NO_KPROBES)
    out = r.c_source.splitlines()
    line = next(i for i, s in enumerate(out, start=1) if "tracepoint__sched__sched_switch(" in s and "SEC(" in s)
    assert r.user_line(line) == 5
    assert r.user_line(1) == 0


def test_c_syntax_error_points_at_the_users_line() -> None:
    text = "BPF_HASH(h,\n  u32);\nTRACEPOINT_PROBE(sched, sched_switch)\n{\n    int x = ;\n    return 0;\n}\n"
    with pytest.raises(CompileError) as info:
        compile_bcc(text, kernel=NO_KPROBES, name="prog.c")
    errors = [m for m in info.value.messages if getattr(m, "is_error", False)]
    assert errors and (errors[0].file, errors[0].line) == ("prog.c", 5)  # type: ignore[attr-defined]
    assert "prog.c:5:" in str(info.value) and "int x = ;" in str(info.value)
