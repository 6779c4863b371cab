"""bcc's tutorial topics, written by us in bcc style, run through ``pybpf.bcc`` on this kernel
(no kprobes: syscall kprobes fall back to tracepoints). Each triggers its event and checks
what the program reported."""

from __future__ import annotations

import ctypes as ct
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from pybpf.bcc import BPF, USDT

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "bcc_scripts"
ROW = re.compile(r"^\s+(\d+) -> (\d+)\s+ : (\d+)\s+\|([* ]{40})\|$")
HEADER = "     {:<19} : count     distribution"


def fork_once() -> None:
    """One clone() from this process (glibc fork uses clone)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def poll_fields(b: BPF, want: Callable[[tuple[Any, ...]], bool], trigger: Callable[[], None],
                timeout: float = 15.0) -> tuple[Any, ...]:
    """trace_fields() until a line satisfies ``want`` (triggering the event between reads)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        trigger()
        while True:
            fields = b.trace_fields(nonblocking=True)
            if fields[0] is None:
                break
            if want(fields):
                return fields
        time.sleep(0.05)
    raise AssertionError("the expected trace line never arrived")


def hist_rows(text: str) -> dict[tuple[int, int], int]:
    rows = {}
    for line in text.splitlines()[1:]:
        m = ROW.match(line)
        assert m, f"not a bcc histogram row: {line!r}"
        rows[(int(m[1]), int(m[2]))] = int(m[3])
    return rows


VERBATIM = ("from pybpf.bcc import BPF\n"
            "BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk(\"Hello, World!\\\\n\"); return 0; }')"
            ".trace_print()\n")


@pytest.mark.parametrize("cmd", [["-c", VERBATIM], ["-m", "pybpf.bcc", str(SCRIPTS / "hello_world.py")]],
                         ids=["pybpf.bcc", "bcc-script"])
def test_hello_world_verbatim_prints_a_line_per_clone(cmd: list[str]) -> None:
    proc = subprocess.Popen([sys.executable, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    try:
        deadline = time.time() + 30
        out = ""
        while time.time() < deadline and out.count("Hello, World!") < 3:
            fork_once()
            if select.select([fd], [], [], 0.1)[0]:
                out += os.read(fd, 65536).decode()
            assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
        rest, raw_err = proc.communicate(timeout=10)
        err = raw_err.decode()
    lines = [line for line in out.splitlines() if "Hello, World!" in line]
    assert len(lines) >= 3, (out, err)
    assert re.search(r"-\d+\s+\[\d+\] .* \d+\.\d+: bpf_trace_printk: Hello, World!$", lines[0]), lines[0]
    # the fallback is logged (this kernel has no kprobes)
    assert "sys_enter_clone" in err


def test_hello_fields_script_through_python_m() -> None:
    done = subprocess.run([sys.executable, "-m", "pybpf.bcc", str(SCRIPTS / "hello_fields.py"), "3"],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["TIME(s)", "COMM", "PID", "MESSAGE"]
    assert len(lines) >= 4 and all(line.endswith("Hello, World!") for line in lines[1:])


def test_sync_timing_and_count() -> None:
    prog = """
BPF_HASH(last);
BPF_HASH(count);
int do_trace(struct pt_regs *ctx) {
    u64 ts, *tsp, delta, key = 0, one = 1;
    tsp = last.lookup(&key);
    if (tsp != NULL) {
        delta = bpf_ktime_get_ns() - *tsp;
        if (delta < 1000000000) {
            bpf_trace_printk("%d\\n", delta / 1000000);
        }
        last.delete(&key);
    }
    ts = bpf_ktime_get_ns();
    last.update(&key, &ts);
    count.increment(one);
    return 0;
}
"""
    with BPF(text=prog) as b:
        b.attach_kprobe(event=b.get_syscall_fnname("sync"), fn_name="do_trace")
        assert b.num_open_kprobes() == 1
        os.sync()
        time.sleep(0.2)
        os.sync()
        fields = poll_fields(b, lambda f: f[1] == os.getpid() and f[5].isdigit(), lambda: None)
        assert 150 <= int(fields[5]) < 1000, fields
        os.sync()
        assert b["count"][ct.c_ulonglong(1)].value >= 3
        assert b["count"][1].value >= 3
        b.detach_kprobe(event=b.get_syscall_fnname("sync"))
        assert b.num_open_kprobes() == 0


def test_hello_perf_output() -> None:
    prog = """
#include <linux/sched.h>
struct data_t { u32 pid; u64 ts; char comm[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(events);
int hello(struct pt_regs *ctx) {
    struct data_t data = {};
    data.pid = bpf_get_current_pid_tgid() >> 32;
    data.ts = bpf_ktime_get_ns();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));
    events.perf_submit(ctx, &data, sizeof(data));
    return 0;
}
"""
    with BPF(text=prog) as b:
        b.attach_kprobe(event=b.get_syscall_fnname("clone"), fn_name="hello")
        seen: list[Any] = []

        def on_event(cpu: int, data: Any, size: int) -> None:
            seen.append(b["events"].event(data))

        b["events"].open_perf_buffer(on_event)
        before = time.monotonic_ns()
        deadline = time.time() + 10
        while time.time() < deadline and not any(e.pid == os.getpid() for e in seen):
            fork_once()
            b.perf_buffer_poll(timeout=200)
        mine = [e for e in seen if e.pid == os.getpid()]
        assert mine, seen
        assert mine[0].comm == Path("/proc/self/comm").read_text().strip().encode()
        assert mine[0].ts >= before


def test_block_io_size_histogram(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = """
BPF_HISTOGRAM(dist);
TRACEPOINT_PROBE(block, block_rq_issue) {
    dist.increment(bpf_log2l(args->bytes / 1024));
    return 0;
}
"""
    with BPF(text=prog) as b:
        assert b.num_open_tracepoints() == 1
        path = Path("/var/tmp") / f"pybpf-bcc-bio-{os.getpid()}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            os.write(fd, os.urandom(1 << 20))
            os.fsync(fd)
            os.close(fd)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
            buf = __import__("mmap").mmap(-1, 1 << 16)
            os.readv(fd, [buf])
            os.close(fd)
        finally:
            path.unlink(missing_ok=True)
        time.sleep(0.2)
        b["dist"].print_log2_hist("kbytes")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == HEADER.format("kbytes")
    rows = hist_rows(out)
    assert sum(rows.values()) >= 1
    assert list(rows)[0] == (0, 1)


READ_LAT = """
BPF_HASH(start, u32);
BPF_HISTOGRAM(dist);
BPF_HASH(rets, u32, u64);
int do_entry(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid();
    u64 ts = bpf_ktime_get_ns();
    start.update(&pid, &ts);
    return 0;
}
int do_return(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid();
    u64 *tsp = start.lookup(&pid);
    if (tsp == 0)
        return 0;
    u64 delta = bpf_ktime_get_ns() - *tsp;
    dist.increment(bpf_log2l(delta / 1000));
    u32 rc = PT_REGS_RC(ctx);
    rets.increment(rc);
    start.delete(&pid);
    return 0;
}
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from progs_uprobe import ensure_sdt_header

    why = ensure_sdt_header()
    if why:
        pytest.fail(why)
    out = tmp_path_factory.mktemp("bcc") / "usdt_target"
    subprocess.run(["gcc", "-O1", "-o", str(out), str(SCRIPTS / "usdt_target.c")], check=True)
    return out


def run_target(target: Path, n: int) -> str:
    done = subprocess.run([str(target), str(n)], input="go\n", capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_read_latency_uprobe_uretprobe(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with BPF(text=READ_LAT) as b:
        b.attach_uprobe(name=str(target), sym="slow_read", fn_name="do_entry")
        b.attach_uretprobe(name=str(target), sym="slow_read", fn_name="do_return")
        assert b.num_open_uprobes() == 2
        assert run_target(target, 5) == "done 5\n"
        assert {k.value: v.value for k, v in b["rets"].items()} == {10: 5}
        b["dist"].print_log2_hist("usecs")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == HEADER.format("usecs")
    rows = hist_rows(out)
    # 10 ms sleeps: 10000..(timer slack) us -> the 8192 -> 16383 bucket
    assert rows[(8192, 16383)] == 5 and sum(rows.values()) == 5
    assert out.splitlines()[-1] == "      8192 -> 16383      : 5        |****************************************|"


def test_usdt_probe_on_a_test_binary(target: Path) -> None:
    prog = """
BPF_HASH(ticks, u64, u64);
int do_tick(struct pt_regs *ctx) {
    u64 n = 0;
    bpf_usdt_readarg(1, ctx, &n);
    ticks.increment(n);
    return 0;
}
"""
    u = USDT(path=str(target))
    u.enable_probe(probe="tick", fn_name="do_tick")
    with BPF(text=prog, usdt_contexts=[u]) as b:
        assert b.num_open_uprobes() == 1
        run_target(target, 4)
        assert sorted((k.value, v.value) for k, v in b["ticks"].items()) == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_urandom_read_tracepoint() -> None:
    exists = BPF.tracepoint_exists("random", "urandom_read")
    tp = ("random", "urandom_read", "got_bits") if exists else ("syscalls", "sys_enter_getrandom", "len")
    prog = f"""
TRACEPOINT_PROBE({tp[0]}, {tp[1]}) {{
    bpf_trace_printk("%d\\n", args->{tp[2]});
    return 0;
}}
"""
    with BPF(text=prog) as b:
        fields = poll_fields(b, lambda f: f[1] == os.getpid() and f[5] == b"37", lambda: os.getrandom(37))
        assert fields[4] > 0


def test_strlen_count_uprobe_on_libc(tmp_path: Path) -> None:
    prog = """
#include <uapi/linux/ptrace.h>
struct key_t { char c[80]; };
BPF_HASH(counts, struct key_t);
int count(struct pt_regs *ctx) {
    if (!PT_REGS_PARM1(ctx))
        return 0;
    struct key_t key = {};
    u64 zero = 0, *val;
    bpf_probe_read_user(&key.c, sizeof(key.c), (void *)PT_REGS_PARM1(ctx));
    val = counts.lookup_or_try_init(&key, &zero);
    if (val) {
        (*val)++;
    }
    return 0;
}
"""
    src = tmp_path / "callstrlen.c"
    src.write_text('#include <stdio.h>\n#include <string.h>\n'
                   'int main(int c, char **v) { size_t t = 0; char l[8]; if (!fgets(l, 8, stdin)) return 1;\n'
                   ' for (int i = 0; i < 7; i++) t += strlen(v[1]); printf("%zu\\n", t); return 0; }\n')
    exe = tmp_path / "callstrlen"
    subprocess.run(["gcc", "-O0", "-fno-builtin", "-o", str(exe), str(src)], check=True)
    proc = subprocess.Popen([str(exe), "pybpf-strlen-marker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        with BPF(text=prog) as b:
            # only the test process: the rest of the system calls strlen a lot (the map would fill up)
            b.attach_uprobe(name="c", sym="strlen", fn_name="count", pid=proc.pid)
            out, _ = proc.communicate("go\n", timeout=30)
            assert out == str(7 * len("pybpf-strlen-marker")) + "\n"
            counts = {k.c: v.value for k, v in b["counts"].items()}
    finally:
        proc.kill()
        proc.wait()
    assert counts.get(b"pybpf-strlen-marker") == 7, sorted(counts.items(), key=lambda kv: -kv[1])[:5]


def test_task_switch_counting() -> None:
    prog = """
struct key_t { u32 prev_pid; u32 curr_pid; };
BPF_HASH(stats, struct key_t, u64, 1024);
TRACEPOINT_PROBE(sched, sched_switch) {
    struct key_t key = {};
    u64 zero = 0, *val;
    key.curr_pid = args->next_pid;
    key.prev_pid = args->prev_pid;
    val = stats.lookup_or_try_init(&key, &zero);
    if (val) {
        (*val)++;
    }
    return 0;
}
"""
    with BPF(text=prog) as b:
        for _ in range(20):
            time.sleep(0.01)
        items = b["stats"].items()
    assert items and sum(v.value for _, v in items) >= 20
    assert any(k.prev_pid == os.getpid() or k.curr_pid == os.getpid() for k, _ in items)
    assert type(items[0][0]).__name__ == "key_t" and [f[0] for f in items[0][0]._fields_] == ["prev_pid", "curr_pid"]


def test_xdp_packet_counter_in_a_namespace() -> None:
    import socket

    from progs_net import veth_between

    prog = """
BPF_ARRAY(pkts, u64, 1);
int xdp_count(struct xdp_md *ctx) {
    int k = 0;
    u64 *v = pkts.lookup(&k);
    if (v)
        __sync_fetch_and_add(v, 1);
    return XDP_PASS;
}
"""
    with veth_between() as (a, ns_b, va, vb), BPF(text=prog) as b:
        fn = b.load_func("xdp_count", BPF.XDP)
        ns_b.call(BPF.attach_xdp, vb, fn, 0)
        try:
            def send() -> None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    for _ in range(10):
                        s.sendto(b"x", ("192.0.2.2", 40999))

            a.call(send)
            deadline = time.time() + 5
            while b["pkts"][0].value < 10 and time.time() < deadline:
                time.sleep(0.05)
            assert b["pkts"][0].value >= 10
            assert len(b["pkts"]) == 1
        finally:
            BPF.remove_xdp(vb)
        with pytest.raises(Exception, match="no XDP program was attached"):
            BPF.remove_xdp(vb)
