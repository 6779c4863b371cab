"""bcc-dialect programs rewritten, compiled, loaded and attached on the running kernel.

On a kernel without kprobes, kprobe functions run on the tracepoint the rewriter picked
(RewriteResult.fallbacks); each test triggers the event and checks what the program saw.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

import pybpf
from pybpf import link
from pybpf.bcc.dialect import AttachRequest, ProbeKind, RewriteResult, compile_bcc
from pybpf.bcc.dialect.kernel import live_kernel
from pybpf.enums import ProgramType
from pybpf.errors import NotSupportedError
from pybpf.events import TracePipe
from pybpf.spec import ObjectSpec

HELLO = 'int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }'


def _text(buf: object) -> str:
    """A char array as the map codec decodes it (str, or bytes-like) up to its NUL."""
    if isinstance(buf, str):
        return buf.split("\0")[0]
    return bytes(buf).split(b"\0")[0].decode()  # type: ignore[call-overload]


def _attach(coll: pybpf.Collection, result: RewriteResult, name: str, kind: ProbeKind, target: str) -> link.Link:
    """Attach ``name`` where the rewriter put it: its fallback hook, else its own kind."""
    prog = coll.programs[name]
    fb = next((f for f in result.fallbacks if f.func_name == name), None)
    if fb is not None:
        if fb.hook_kind is ProbeKind.RAW_TRACEPOINT:
            return link.raw_tracepoint(prog, fb.event)
        return link.tracepoint(prog, fb.category, fb.event)
    if kind is ProbeKind.TRACEPOINT:
        cat, ev = target.split(":", 1)
        return link.tracepoint(prog, cat, ev)
    if kind is ProbeKind.RAW_TRACEPOINT:
        return link.raw_tracepoint(prog, target)
    raise AssertionError(f"{name}: this test attaches only tracepoints ({kind})")


@contextmanager
def _running(text: str, attach: list[AttachRequest] | None = None) -> Iterator[tuple[pybpf.Collection, RewriteResult]]:
    obj, result = compile_bcc(text, attach=attach or [])
    spec = ObjectSpec.from_file(obj)
    with pybpf.load(spec) as coll, ExitStack() as stack:
        for p in result.probes:
            stack.enter_context(_attach(coll, result, p.func_name, p.kind, p.target))
        for req in attach or []:
            stack.enter_context(_attach(coll, result, req.func_name, req.kind, req.target))
        yield coll, result


def test_hello_world_prints_on_clone(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pybpf.bcc"), TracePipe() as pipe:
        pipe.poll()
        with _running(HELLO) as (_coll, result):
            (fb,) = result.fallbacks
            assert fb.tracepoint == "syscalls:sys_enter_clone"
            seen: list[int] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pid = os.fork()  # glibc's fork is clone(2)
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
                for ev in pipe.poll(timeout=0.2):
                    if "Hello, World!" in ev.message:
                        seen.append(ev.pid)
                if os.getpid() in seen:
                    break
    assert os.getpid() in seen, "no Hello, World! line from this process's clone"
    assert any("syscalls:sys_enter_clone" in r.getMessage() for r in caplog.records)


def test_syscall_function_sees_the_exec_filename(tmp_path: Path) -> None:
    text = r"""
struct fname_t { char s[96]; };
BPF_HASH(names, u32, struct fname_t);
int syscall__execve(struct pt_regs *ctx, const char __user *filename, const char __user *const __user *argv)
{
    struct fname_t f = {};
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user_str(&f.s, sizeof(f.s), filename);
    names.update(&pid, &f);
    return 0;
}
"""
    target = tmp_path / f"pybpf-exec-{uuid.uuid4().hex[:12]}"
    true = shutil.which("true")
    assert true is not None
    target.symlink_to(true)
    req = AttachRequest("syscall__execve", ProbeKind.KPROBE, live_kernel().syscall_prefix + "execve")
    with _running(text, [req]) as (coll, _result):
        child = subprocess.Popen([str(target)])
        child.wait()
        value = coll.maps["names"].lookup(child.pid)
    assert value is not None
    assert _text(value["s"]) == str(target)


def test_kretprobe_on_a_syscall_sees_the_return_value() -> None:
    text = r"""
BPF_HASH(rets, u32, u64);
int kretprobe__sys_getppid(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 rc = PT_REGS_RC(ctx);
    rets.update(&pid, &rc);
    return 0;
}
"""
    with _running(text) as (coll, result):
        assert result.fallbacks[0].event == "sys_exit_getppid"
        expected = os.getppid()
        assert coll.maps["rets"].lookup(os.getpid()) == expected


def test_implicit_read_of_the_parent_tgid_equals_getppid() -> None:
    text = r"""
#include <linux/sched.h>
BPF_HASH(ppids, u32, u32);
int kprobe__sys_getppid(struct pt_regs *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u32 ppid = task->real_parent->tgid;
    ppids.update(&pid, &ppid);
    return 0;
}
"""
    with _running(text) as (coll, result):
        assert "BPF_CORE_READ(task, real_parent, tgid)" in result.c_source
        os.getppid()
        assert coll.maps["ppids"].lookup(os.getpid()) == os.getppid()


def test_map_methods_count_and_histogram_on_a_tracepoint_probe() -> None:
    text = r"""
BPF_HASH(counts, u32, u64);
BPF_HISTOGRAM(dist);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    counts.increment(pid);
    counts.increment(pid, 10);
    dist.increment(bpf_log2l(1000));
    return 0;
}
"""
    with _running(text) as (coll, _result):
        for _ in range(5):
            os.getppid()
        assert coll.maps["counts"].lookup(os.getpid()) == 55
        assert coll.maps["dist"].lookup(10) >= 5  # 512 <= 1000 < 1024: bcc's slot 10


def test_tcp_v4_connect_falls_back_to_inet_sock_set_state() -> None:
    text = r"""
#include <net/sock.h>
struct conn_t { u32 daddr; u16 dport; };
BPF_HASH(conns, u32, struct conn_t);
int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct conn_t c = {};
    c.daddr = sk->__sk_common.skc_daddr;
    c.dport = sk->__sk_common.skc_dport;
    conns.update(&pid, &c);
    return 0;
}
"""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        # nobody listens: the connect is refused, but the socket passed SYN_SENT
        with _running(text) as (coll, result):
            assert result.fallbacks[0].tracepoint == "sock:inet_sock_set_state"
            with socket.socket() as s, pytest.raises(ConnectionRefusedError):
                s.connect(("127.0.0.1", port))
            value = coll.maps["conns"].lookup(os.getpid())
    assert value is not None
    assert socket.ntohs(value["dport"]) == port
    assert socket.inet_ntoa(int(value["daddr"]).to_bytes(4, "little")) == "127.0.0.1"


TCPCONNECT = r"""
#include <net/sock.h>
BPF_HASH(currsock, u32, struct sock *);
struct ipv4_data_t { u32 saddr; u32 daddr; u16 dport; int ret; char task[TASK_COMM_LEN]; };
BPF_PERF_OUTPUT(ipv4_events);
BPF_HASH(seen, u32, struct ipv4_data_t);
int trace_connect_entry(struct pt_regs *ctx, struct sock *sk)
{
    u32 tid = bpf_get_current_pid_tgid();
    currsock.update(&tid, &sk);
    return 0;
}
static int trace_connect_return(struct pt_regs *ctx, short ipver)
{
    int ret = PT_REGS_RC(ctx);
    u32 tid = bpf_get_current_pid_tgid();
    struct sock **skpp = currsock.lookup(&tid);
    if (skpp == 0)
        return 0;
    struct sock *skp = *skpp;
    struct ipv4_data_t data4 = {.ret = ret};
    data4.saddr = skp->__sk_common.skc_rcv_saddr;
    data4.daddr = skp->__sk_common.skc_daddr;
    data4.dport = ntohs(skp->__sk_common.skc_dport);
    bpf_get_current_comm(&data4.task, sizeof(data4.task));
    ipv4_events.perf_submit(ctx, &data4, sizeof(data4));
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    seen.update(&pid, &data4);
    currsock.delete(&tid);
    return 0;
}
int trace_connect_v4_return(struct pt_regs *ctx) { return trace_connect_return(ctx, 4); }
"""


def test_tcpconnect_entry_and_return_pair_with_a_static_helper() -> None:
    """bcc's tcpconnect shape: entry stashes sk by thread, the return (through a static helper
    that perf_submits with ctx) reads it back; both run on inet_sock_set_state, in attach order."""
    reqs = [AttachRequest("trace_connect_entry", ProbeKind.KPROBE, "tcp_v4_connect"),
            AttachRequest("trace_connect_v4_return", ProbeKind.KRETPROBE, "tcp_v4_connect")]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with _running(TCPCONNECT, reqs) as (coll, result):
            assert {f.event for f in result.fallbacks} == {"inet_sock_set_state"}
            with socket.create_connection(("127.0.0.1", port)):
                pass
            value = coll.maps["seen"].lookup(os.getpid())
    assert value is not None
    assert (value["dport"], value["ret"]) == (port, 0)
    assert _text(value["task"]) == Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert socket.inet_ntoa(int(value["daddr"]).to_bytes(4, "little")) == "127.0.0.1"
    assert socket.inet_ntoa(int(value["saddr"]).to_bytes(4, "little")) == "127.0.0.1"


def test_kprobe_with_no_fallback_lists_tracepoints() -> None:
    if live_kernel().has_kprobes:
        pytest.skip("this kernel has kprobes: nothing falls back")
    with pytest.raises(NotSupportedError) as info:
        compile_bcc("int kprobe__tcp_sendmsg(struct pt_regs *ctx) { return 0; }")
    assert "tcp_sendmsg" in str(info.value) and "tcp:" in str(info.value)


def test_loadable_function_takes_the_type_given_at_load() -> None:
    obj, result = compile_bcc("int on_switch(struct bpf_raw_tracepoint_args *ctx) { return 0; }")
    spec = ObjectSpec.from_file(obj)
    assert spec.programs["on_switch"].section == ".bcc.fn/on_switch"
    spec.programs["on_switch"].type = ProgramType.RAW_TRACEPOINT
    with pybpf.load(spec) as coll, link.raw_tracepoint(coll.programs["on_switch"], "sched_switch"):
        assert coll.programs["on_switch"].info().type is ProgramType.RAW_TRACEPOINT
