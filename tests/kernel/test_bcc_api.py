"""The bcc Python API beyond the tutorial: tables, ring buffers, stacks, errors, the compile
cache, feature answers, symbols and cleanup."""

from __future__ import annotations

import ctypes as ct
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pybpf import features
from pybpf.bcc import BPF, TableError
from pybpf.bcc.dialect import RewriteError
from pybpf.errors import CompileError, NotSupportedError

TABLES = """
struct pair { u32 a; u64 b; };
BPF_HASH(h, u32, struct pair);
BPF_ARRAY(arr, u64, 4);
BPF_PERCPU_ARRAY(pc, u64, 2);
BPF_STACK_TRACE(stacks, 128);
BPF_HASH(stackids, int, u64);
BPF_RINGBUF_OUTPUT(rb, 8);
struct ev { u32 pid; char comm[16]; };
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u32 k = 1, z = 0;
    struct pair p = {.a = 7, .b = 8};
    h.update(&k, &p);
    u64 *slot = arr.lookup(&z);
    if (slot) __sync_fetch_and_add(slot, 1);
    u64 *c = pc.lookup(&z);
    if (c) (*c)++;
    int id = stacks.get_stackid(args, BPF_F_USER_STACK);
    if (id >= 0) stackids.increment(id);
    struct ev *e = rb.ringbuf_reserve(sizeof(struct ev));
    if (e) {
        e->pid = bpf_get_current_pid_tgid() >> 32;
        bpf_get_current_comm(&e->comm, sizeof(e->comm));
        rb.ringbuf_submit(e, 0);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def tables() -> Any:
    with BPF(text=TABLES) as b:
        for _ in range(3):
            os.getppid()
        yield b


def test_hash_table_of_structs(tables: BPF) -> None:
    h = tables["h"]
    assert type(h).__name__ == "HashTable" and h.Key is ct.c_uint32 and h.Leaf.__name__ == "pair"
    v = h[ct.c_uint32(1)]
    assert (v.a, v.b) == (7, 8) and 1 in h and len(h) == 1
    h[2] = h.Leaf(a=1, b=2)
    assert sorted(k.value for k in h.keys()) == [1, 2]
    assert sorted((k.value, v.a) for k, v in h.items_lookup_batch()) == [(1, 7), (2, 1)]
    h.zero()
    assert h[2].b == 0
    del h[2]
    assert 2 not in h and h.get(2) is None
    with pytest.raises(KeyError):
        h[99]
    h.clear()
    assert len(h) == 0


def test_array_and_per_cpu(tables: BPF) -> None:
    arr, pc = tables["arr"], tables["pc"]
    assert len(arr) == 4 and arr[0].value >= 3 and [k.value for k in arr] == [0, 1, 2, 3]
    arr.increment(3, 5)
    assert arr[3].value == 5
    del arr[3]
    assert arr[3].value == 0
    with pytest.raises(IndexError):
        arr[4]
    per_cpu = pc[0]
    assert len(per_cpu) == os.cpu_count() or len(per_cpu) >= 1
    assert pc.sum(0).value == sum(v.value for v in per_cpu) >= 3
    pc[1] = [ct.c_uint64(i) for i in range(len(per_cpu))]
    assert pc.max(1).value == len(per_cpu) - 1


def test_stack_trace_walk(tables: BPF) -> None:
    ids = [k.value for k in tables["stackids"].keys()]
    assert ids
    frames = list(tables["stacks"].walk(ids[0]))
    assert frames and all(isinstance(a, int) and a > 0 for a in frames)


def test_ring_buffer(tables: BPF) -> None:
    seen: list[Any] = []
    tables["rb"].open_ring_buffer(lambda ctx, data, size: seen.append((ctx, tables["rb"].event(data), size)))
    tables.ring_buffer_consume()
    os.getppid()
    tables.ring_buffer_poll(timeout=1000)
    mine = [e for _, e, _ in seen if e.pid == os.getpid()]
    assert mine and mine[-1].comm == Path("/proc/self/comm").read_text().strip().encode()
    assert seen[0][0] is None and seen[0][2] == 20


def test_unknown_table_and_method(tables: BPF) -> None:
    with pytest.raises(KeyError, match="no table 'nope'.*declares: h, arr"):
        tables["nope"]
    with pytest.raises(TableError, match="has no method 'lookup_all'"):
        tables["h"].lookup_all()


def test_c_syntax_error_points_at_the_users_line() -> None:
    with pytest.raises(CompileError, match=r"<bcc>:3:\d+: error: expected ';'") as info:
        BPF(text="BPF_HASH(c);\nint f(void *ctx) {\n    u64 x = 1\n    return 0;\n}\n")
    assert "u64 x = 1" in str(info.value)


def test_unknown_map_method() -> None:
    with pytest.raises(RewriteError, match=r"line 4: unknown map method counts.frobnicate\(\)"):
        BPF(text="BPF_HASH(counts, u32, u64);\nint f(void *ctx) {\n    u32 k = 0;\n    counts.frobnicate(&k);\n"
                 "    return 0;\n}\n")


def test_kprobe_with_no_fallback_lists_tracepoints() -> None:
    with pytest.raises(NotSupportedError, match="tcp_sendmsg.*tcp:tcp_"):
        BPF(text="int kprobe__tcp_sendmsg(struct pt_regs *ctx) { return 0; }")
    with BPF(text="int f(struct pt_regs *ctx) { return 0; }") as b:
        with pytest.raises(NotSupportedError, match="tcp_sendmsg"):
            b.attach_kprobe(event="tcp_sendmsg", fn_name="f")
        with pytest.raises(Exception, match="no loaded function 'g'"):
            b.load_func("g", BPF.KPROBE)


def test_support_kfunc_and_lsm_tell_the_truth() -> None:
    assert BPF.support_kfunc() is features.feature("fentry").supported
    assert BPF.support_lsm() is features.feature("lsm").supported
    if not BPF.support_kfunc():
        with pytest.raises(NotSupportedError):
            BPF(text="KFUNC_PROBE(vfs_read) { return 0; }")


def test_compile_cache_skips_the_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pybpf.cc.driver as driver

    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "cache"))
    runs: list[list[str]] = []
    real = driver._run_compiler

    def counting(cmd: list[str]) -> Any:
        runs.append(cmd)
        return real(cmd)

    monkeypatch.setattr(driver, "_run_compiler", counting)
    text = "BPF_HASH(n, u32, u64);\nTRACEPOINT_PROBE(syscalls, sys_enter_getppid) { u32 k = 0; n.increment(k); return 0; }"
    with BPF(text=text) as b:
        cold = len(runs)
        os.getppid()
        assert b["n"][0].value >= 1
    assert cold >= 1
    t0 = time.perf_counter()
    with BPF(text=text) as b:
        assert len(runs) == cold  # same text, flags and kernel: no compiler run
        os.getppid()
        assert b["n"][0].value >= 1
    assert time.perf_counter() - t0 < 5
    with BPF(text=text, cflags=["-DX=1"]):
        assert len(runs) == cold + 1  # other flags: compiled again


def test_symbols_and_syscall_names() -> None:
    fn = BPF(text="int x(void *c) { return 0; }")
    try:
        name = fn.get_syscall_fnname("clone")
        assert name in (b"__x64_sys_clone", b"__arm64_sys_clone", b"sys_clone")
        addr = BPF.ksymname(name)
        assert addr > 0 and BPF.ksym(addr) == name
        assert BPF.ksym(addr + 1, show_offset=True) == name + b"+0x1"
        assert BPF.ksymname("no_such_symbol_pybpf") == -1
        assert BPF.tracepoint_exists("sched", "sched_switch") and not BPF.tracepoint_exists("sched", "nope")
    finally:
        fn.cleanup()


def test_cleanup_detaches_and_is_idempotent() -> None:
    text = "BPF_ARRAY(n, u64, 1);\nTRACEPOINT_PROBE(syscalls, sys_enter_getppid) { int k = 0; n.increment(k); return 0; }"
    b = BPF(text=text)
    table = b["n"]
    os.getppid()
    before = table[0].value
    assert before >= 1 and b.num_open_tracepoints() == 1
    b.cleanup()
    b.cleanup()
    assert b.num_open_tracepoints() == 0


def test_explicit_attach_methods_on_plain_functions() -> None:
    prog = """
BPF_ARRAY(hits, u64, 4);
BPF_HASH(rets, u64, u64);
int on_tp(void *ctx) { int k = 0; hits.increment(k); return 0; }
int on_raw(void *ctx) { int k = 1; hits.increment(k); return 0; }
int on_sample(struct bpf_perf_event_data *ctx) { int k = 2; hits.increment(k); return 0; }
int on_ret(struct pt_regs *ctx) {
    u64 rc = PT_REGS_RC(ctx);
    rets.increment(rc);
    return 0;
}
"""
    with BPF(text=prog) as b:
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="on_tp")
        b.attach_raw_tracepoint(tp="sys_enter", fn_name="on_raw")
        b.attach_perf_event(ev_type=BPF.PERF_TYPE_SOFTWARE, ev_config=0, fn_name="on_sample", sample_freq=999)
        b.attach_kretprobe(event=b.get_syscall_fnname("getppid"), fn_name="on_ret")
        assert (b.num_open_tracepoints(), b.num_open_kprobes()) == (1, 1)
        for _ in range(5):
            os.getppid()
        deadline = time.time() + 5
        while b["hits"][2].value == 0 and time.time() < deadline:
            sum(range(100000))
        hits = [b["hits"][i].value for i in range(3)]
        assert hits[0] >= 5 and hits[1] >= 5 and hits[2] >= 1, hits
        # the kretprobe fell back to sys_exit_getppid and PT_REGS_RC is the syscall's return value
        assert b["rets"][ct.c_uint64(os.getppid())].value >= 5
        b.detach_tracepoint(tp="syscalls:sys_enter_getppid")
        before = b["hits"][0].value
        os.getppid()
        assert b["hits"][0].value == before and b.num_open_tracepoints() == 0
        with pytest.raises(Exception, match="nothing is attached"):
            b.detach_tracepoint(tp="syscalls:sys_enter_getppid")
        assert "on_tp" in repr(b)


def test_two_perf_buffers_polled_together() -> None:
    prog = """
struct a_t { u32 pid; };
struct b_t { u64 marker; u32 pid; };
BPF_PERF_OUTPUT(ea);
BPF_PERF_OUTPUT(eb);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    struct a_t a = {.pid = bpf_get_current_pid_tgid() >> 32};
    ea.perf_submit(args, &a, sizeof(a));
    return 0;
}
TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
    struct b_t x = {.marker = 0xfeed, .pid = bpf_get_current_pid_tgid() >> 32};
    eb.perf_submit(args, &x, sizeof(x));
    return 0;
}
"""
    with BPF(text=prog) as b:
        got: list[tuple[str, Any]] = []
        b["ea"].open_perf_buffer(lambda cpu, data, size: got.append(("a", b["ea"].event(data))))
        b["eb"].open_perf_buffer(lambda cpu, data, size: got.append(("b", b["eb"].event(data))))
        os.getppid()
        os.getpgid(0)
        deadline = time.time() + 5
        while {k for k, e in got if e.pid == os.getpid()} != {"a", "b"} and time.time() < deadline:
            b.perf_buffer_poll(timeout=100)
        mine = {k: e for k, e in got if e.pid == os.getpid()}
        assert set(mine) == {"a", "b"} and mine["b"].marker == 0xFEED


def test_trace_print_with_fmt() -> None:
    import subprocess
    import sys

    code = ("from pybpf.bcc import BPF\n"
            "b = BPF(text='TRACEPOINT_PROBE(syscalls, sys_enter_getppid) "
            "{ bpf_trace_printk(\"tick\\\\n\"); return 0; }')\n"
            "print('ready', flush=True)\n"
            "b.trace_print(fmt='pid={1} msg={5}')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        child = subprocess.Popen([sys.executable, "-c", "import os, time\nfor _ in range(50):\n"
                                  "    os.getppid(); time.sleep(0.02)"])
        # trace_pipe is shared with everything else on the machine: take our line
        line = ""
        for _ in range(500):
            line = proc.stdout.readline()
            if line.endswith(" msg=tick\n") or not line:
                break
        child.wait()
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert line.startswith("pid=") and line.endswith(" msg=tick\n"), line
    assert int(line.split()[0][4:]) > 0


def test_usdt_by_pid(tmp_path: Path) -> None:
    import subprocess

    from progs_uprobe import ensure_sdt_header

    assert ensure_sdt_header() is None
    exe = tmp_path / "usdt_target"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(Path(__file__).parent / "bcc_scripts" / "usdt_target.c")],
                   check=True)
    proc = subprocess.Popen([str(exe), "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        from pybpf.bcc import USDT

        u = USDT(pid=proc.pid)
        u.enable_probe(probe="pybpfbcc:tick", fn_name="on_tick")
        with pytest.raises(Exception, match="no USDT probe 'nope'"):
            u.enable_probe(probe="nope", fn_name="on_tick")
        prog = ("BPF_HASH(seen, u64, u64);\nint on_tick(struct pt_regs *ctx) { u64 n = 0; "
                "bpf_usdt_readarg(1, ctx, &n); seen.increment(n); return 0; }")
        with BPF(text=prog, usdt_contexts=[u]) as b:
            out, _ = proc.communicate("go\n", timeout=30)
            assert out == "done 2\n"
            assert sorted(k.value for k in b["seen"].keys()) == [1, 2]
    finally:
        proc.kill()
        proc.wait()


def test_lpm_trie_queue_and_src_file(tmp_path: Path) -> None:
    src = tmp_path / "prog.c"
    src.write_text("""
struct key_v4 { u32 prefixlen; u32 addr; };
BPF_LPM_TRIE(routes, struct key_v4, u32, 16);
BPF_QUEUE(q, u32, 8);
int unused(void *ctx) { return 0; }
""")
    with BPF(src_file=str(src)) as b:
        routes = b["routes"]
        assert type(routes).__name__ == "LpmTrie"
        routes[routes.Key(24, int.from_bytes(bytes([10, 1, 2, 0]), "little"))] = routes.Leaf(7)
        routes[routes.Key(16, int.from_bytes(bytes([10, 1, 0, 0]), "little"))] = routes.Leaf(3)
        probe = routes.Key(32, int.from_bytes(bytes([10, 1, 2, 9]), "little"))
        assert routes[probe].value == 7  # longest prefix wins
        assert routes[routes.Key(32, int.from_bytes(bytes([10, 1, 9, 9]), "little"))].value == 3
        q = b["q"]
        for v in (5, 6, 7):
            q.push(q.Leaf(v))
        assert q.peek().value == 5
        assert [v.value for v in q.values()] == [5, 6, 7]
        with pytest.raises(KeyError):
            q.pop()
    with pytest.raises(Exception, match="not found"):
        BPF(src_file=str(tmp_path / "missing.c"))


def test_attach_func_on_a_cgroup() -> None:
    import socket

    from progs_net import child_cgroup

    from pybpf.enums import AttachType

    prog = """
BPF_ARRAY(egress, u64, 1);
int count_egress(struct __sk_buff *skb) { int k = 0; egress.increment(k); return 1; }
"""
    with child_cgroup() as cg, BPF(text=prog) as b:
        fn = b.load_func("count_egress", BPF.CGROUP_SKB)
        fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
        try:
            BPF.attach_func(fn, fd, AttachType.CGROUP_INET_EGRESS)
            pid = os.fork()
            if pid == 0:  # a child in the cgroup sends 3 datagrams
                try:
                    (cg / "cgroup.procs").write_text(str(os.getpid()))
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        for _ in range(3):
                            s.sendto(b"x", ("127.0.0.1", 9))
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            assert b["egress"][0].value >= 3
            BPF.detach_func(fn, fd, AttachType.CGROUP_INET_EGRESS)
        finally:
            os.close(fd)


def test_prog_array_tail_call() -> None:
    prog = """
BPF_PROG_ARRAY(jmp, 4);
BPF_ARRAY(hits, u64, 2);
int target(void *ctx) { int k = 1; hits.increment(k); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { int k = 0; hits.increment(k); jmp.call(args, 2); return 0; }
"""
    with BPF(text=prog) as b:
        fn = b.load_func("target", BPF.TRACEPOINT)
        b["jmp"][ct.c_int(2)] = ct.c_int(fn.fd)
        before = b["hits"][1].value
        os.getppid()
        assert b["hits"][1].value >= before + 1
        del b["jmp"][2]
        after = b["hits"][1].value
        os.getppid()
        os.getppid()
        assert b["hits"][1].value == after  # no target: the tail call falls through
        with pytest.raises(TableError):
            b["jmp"][2]
