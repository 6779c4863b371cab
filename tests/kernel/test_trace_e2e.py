"""``pybpf trace`` end to end: each probe type and builtin triggered by a real event, with the
exact output asserted, and well-known one-liners compared with Debian's bpftrace 0.17 where the
output is deterministic.

Every traced process is a copy of a system binary under a unique name (``trcat``, ``trdd``...)
so predicates on ``comm`` select only the test's own events.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from progs_trace import bpftrace, build_target, copy_binary, have_bpftrace, run_quiet, trace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("trace")
    data = tmp / "data.txt"
    data.write_bytes(b"x" * 5000)
    return {
        "cat": copy_binary("cat", tmp, "trcat"),
        "dd": copy_binary("dd", tmp, "trdd"),
        "target": build_target(tmp),
        "data": data,
        "tmp": tmp,
    }


def cat(bins: dict[str, Path], *files: str):  # type: ignore[no-untyped-def]
    return lambda: run_quiet(str(bins["cat"]), *files)


needs_bpftrace = pytest.mark.skipif(not have_bpftrace(), reason="Debian's bpftrace is not installed")


def same_as_bpftrace(program: str, trigger) -> str:  # type: ignore[no-untyped-def]
    # both end through exit() (bpftrace 0.17 sometimes hangs on SIGINT while tracing raw_syscalls)
    program += " interval:s:2 { exit(); }"
    ours = trace(program, trigger, interrupt=False)
    theirs = bpftrace(program, trigger, interrupt=False)
    assert ours.stderr == "", ours.stderr
    why = f"pybpf:\n{ours.stdout}\nbpftrace:\n{theirs.stdout}"
    # the same lines, and map entries in the same order of values (bpftrace leaves entries with
    # equal values in hash order; pybpf sorts those by key)
    assert sorted(ours.lines) == sorted(theirs.lines), why
    values = re.compile(r"^@.*\]: (\d+)$", re.M)
    assert values.findall(ours.stdout) == values.findall(theirs.stdout), why
    return ours.stdout


# --------------------------------------------------------------------------- one-liners


def test_files_opened_by_process(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:syscalls:sys_enter_openat /comm == "trcat"/ '
                '{ printf("%s %s\\n", comm, str(args->filename)); }', cat(bins, "/etc/hostname"))
    assert run.lines[0] == "Attaching 1 probe..."
    assert "trcat /etc/hostname" in run.lines
    assert "trcat /etc/ld.so.cache" in run.lines
    assert all(line.startswith("trcat ") for line in run.lines[1:] if line)


def test_exec_tracing_with_arguments(bins: dict[str, Path]) -> None:
    path = str(bins["cat"])
    run = trace(f'tracepoint:syscalls:sys_enter_execve /str(args->filename) == "{path}"/ '
                '{ printf("exec %s\\n", str(args->filename)); join(args->argv); join(args->argv, ","); }',
                cat(bins, "/dev/null", "two words"))
    assert run.lines[1:4] == [f"exec {path}", f"{path} /dev/null two words", f"{path},/dev/null,two words"]


@needs_bpftrace
def test_syscall_counts_by_process(bins: dict[str, Path]) -> None:
    out = same_as_bpftrace('tracepoint:raw_syscalls:sys_enter /comm == "trcat"/ { @[comm] = count(); }',
                           cat(bins, "/dev/null"))
    assert re.search(r"^@\[trcat\]: \d+$", out, re.M)


@needs_bpftrace
def test_bytes_by_process_from_sys_exit_read(bins: dict[str, Path]) -> None:
    out = same_as_bpftrace('tracepoint:syscalls:sys_exit_read /comm == "trcat" && args->ret > 0/ '
                           '{ @bytes[comm] = sum(args->ret); }', cat(bins, str(bins["data"])))
    total = int(re.search(r"@bytes\[trcat\]: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert total >= 5000


@needs_bpftrace
def test_read_size_histogram(bins: dict[str, Path]) -> None:
    out = same_as_bpftrace('tracepoint:syscalls:sys_exit_read /comm == "trcat"/ { @ = hist(args->ret); }',
                           cat(bins, str(bins["data"])))
    assert "[4K, 8K)" in out


@needs_bpftrace
def test_read_size_linear_histogram(bins: dict[str, Path]) -> None:
    same_as_bpftrace('tracepoint:syscalls:sys_exit_read /comm == "trcat"/ { @ = lhist(args->ret, 0, 6000, 1000); }',
                     cat(bins, str(bins["data"])))


@needs_bpftrace
def test_read_request_statistics(bins: dict[str, Path]) -> None:
    same_as_bpftrace('tracepoint:syscalls:sys_enter_read /comm == "trcat"/ { @s = stats(args->count); '
                     '@a = avg(args->count); @lo = min(args->count); @hi = max(args->count); @n = count(); }',
                     cat(bins, str(bins["data"])))


def test_run_queue_latency_from_sched_tracepoints(bins: dict[str, Path]) -> None:
    prog = ("tracepoint:sched:sched_wakeup { @qtime[args->pid] = nsecs; } "
            "tracepoint:sched:sched_switch { $ns = @qtime[args->next_pid]; "
            "if ($ns > 0) { @usecs = hist((nsecs - $ns) / 1000); } delete(@qtime[args->next_pid]); }")
    run = trace(prog, lambda: [run_quiet("sleep", "0.01") for _ in range(5)])
    assert run.stderr == ""
    assert "@usecs: " in run.stdout
    assert re.search(r"^\[\d+[KM]?, \d+[KM]?\)\s+\d+ \|@+ *\|$", run.stdout, re.M)


def test_profile_99hz_with_kernel_stacks(bins: dict[str, Path]) -> None:
    run = trace('profile:hz:99 /comm == "trdd"/ { @[kstack] = count(); }',
                lambda: run_quiet(str(bins["dd"]), "if=/dev/zero", "of=/dev/null", "bs=1M", "count=3000"))
    assert run.stderr == ""
    # at least one sample landed in the kernel: a frame "    symbol+offset" inside "@[...]"
    assert re.search(r"^@\[\n(    \w+\+\d+\n)+\]: \d+$", run.stdout, re.M), run.stdout


def test_readline_style_uretprobe(bins: dict[str, Path]) -> None:
    target = str(bins["target"])
    run = trace(f'uretprobe:{target}:readline_like {{ printf("%s read: %s\\n", comm, str(retval)); }}',
                lambda: run_quiet(target, "2"))
    assert run.lines[1:3] == ["trtarget read: echo typed-line"] * 2


def test_uprobe_arguments_and_uretprobe_retval(bins: dict[str, Path]) -> None:
    target = str(bins["target"])
    run = trace(f'uprobe:{target}:work {{ printf("work(%d, %d)\\n", arg0, arg1); }} '
                f'uretprobe:{target}:work {{ printf("= %d\\n", retval); }}', lambda: run_quiet(target, "2"))
    assert run.lines[0] == "Attaching 2 probes..."
    assert run.lines[1:5] == ["work(6, 7)", "= 43", "work(6, 8)", "= 49"]


def test_uprobe_string_argument_and_func(bins: dict[str, Path]) -> None:
    target = str(bins["target"])
    run = trace(f'uprobe:{target}:greet {{ printf("%s|%s\\n", str(arg0), func); @[str(arg0, 5)] = count(); }}',
                lambda: run_quiet(target))
    # the process has exited when the event is printed: like bpftrace 0.17, func is then its address
    nm = subprocess.run(["nm", target], capture_output=True, text=True, check=True).stdout
    greet = int(re.search(r"^([0-9a-f]+) T greet$", nm, re.M).group(1), 16)  # type: ignore[union-attr]
    assert run.lines[1] in ("hello-uprobe|greet", f"hello-uprobe|{greet:#x}")
    assert "@[hello]: 1" in run.lines


def test_tcp_state_changes_from_the_sock_tracepoint() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def connect() -> None:
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = server.accept()
        c.close()
        s.close()

    prog = (f"tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->dport == {port}/ "
            '{ printf("%s:%d %d -> %d\\n", ntop(args->daddr), args->dport, args->oldstate, args->newstate); }')
    run = trace(prog, connect)
    server.close()
    assert run.stderr == ""
    # TCP_CLOSE(7) -> TCP_SYN_SENT(2) -> TCP_ESTABLISHED(1) on the client side
    assert run.lines[1:3] == [f"127.0.0.1:{port} 7 -> 2", f"127.0.0.1:{port} 2 -> 1"]


# --------------------------------------------------------------------------- probe types


def test_interval_probe_and_exit() -> None:
    run = trace('interval:ms:100 { @n++; if (@n == 3) { printf("tick %d\\n", @n); exit(); } }',
                interrupt=False)
    assert run.returncode == 0
    assert run.stdout == "Attaching 1 probe...\ntick 3\n\n\n@n: 3\n"


def test_rawtracepoint(bins: dict[str, Path]) -> None:
    run = trace('rawtracepoint:sched_process_exec /comm == "trcat"/ { printf("exec %s\\n", comm); }',
                cat(bins, "/dev/null"))
    assert run.lines[1] == "exec trcat"


def test_software_page_faults(bins: dict[str, Path]) -> None:
    run = trace('software:page-faults:1 /comm == "trcat"/ { @faults = count(); }', cat(bins, "/dev/null"))
    assert int(re.search(r"@faults: (\d+)", run.stdout).group(1)) > 10  # type: ignore[union-attr]


def test_begin_and_end() -> None:
    run = trace('BEGIN { printf("hello\\n"); @b = 1; } END { printf("bye %d\\n", @b); }')
    assert run.stderr == ""
    assert run.stdout == "Attaching 2 probes...\nhello\nbye 1\n\n\n@b: 1\n"


def test_begin_exit_prints_nothing_else() -> None:
    run = trace('BEGIN { printf("once\\n"); exit(); }', interrupt=False)
    assert run.stdout == "Attaching 1 probe...\nonce\n\n\n"  # what bpftrace 0.17 prints


# --------------------------------------------------------------------------- builtins & language


def test_process_builtins(bins: dict[str, Path]) -> None:
    started: dict[str, int] = {}

    def go() -> None:
        p = subprocess.Popen([str(bins["cat"]), "/dev/null"])
        started["pid"] = p.pid
        p.wait()

    run = trace('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ '
                '{ printf("%d %d %d %d %d %s %d %d\\n", pid, tid, uid, gid, ppid, comm, cpu < ncpus, '
                'elapsed > 0); }', go)
    assert run.stderr == ""
    pid = started["pid"]
    assert run.lines[1] == f"{pid} {pid} {os.getuid()} {os.getgid()} {os.getpid()} trcat 1 1"


def test_time_and_randomness_builtins(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ '
                '{ printf("%d %d %d %d\\n", nsecs > 0, cgroup > 0, curtask > 0, rand >= 0); '
                'printf("%s %s\\n", probe, username); }', cat(bins, "/dev/null"))
    assert run.lines[1:3] == ["1 1 1 1", "tracepoint:syscalls:sys_enter_exit_group root"]


def test_control_flow_and_variables(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ { $i = 0; while ($i < 3) { $i++; } '
            'unroll(2) { $i = $i + 10; } for ($j : 0..4) { $i += $j; } '
            '$s = $i > 5 ? "big" : "small"; if ($s == "big") { printf("%d %s %s\\n", $i, $s, comm); } '
            'else { printf("no\\n"); } }')
    run = trace(prog, cat(bins, "/dev/null"))
    assert run.stderr == ""
    assert run.lines[1] == "29 big trcat"


def test_arithmetic_and_casts(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ { $a = -7; '
            'printf("%d %d %d %d %d %d %d\\n", $a / 2, $a % 3, 7 / 0, (uint8)300, (int8)255, 1 << 4, -$a >> 1); }')
    run = trace(prog, cat(bins, "/dev/null"))
    assert run.lines[1] == "-3 -1 0 44 -1 16 3"


def test_tuple_keys_delete_and_has_key(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ { @m[comm, 1] = 10; @m[comm, 2] = 20; '
            'delete(@m[comm, 1]); printf("%d %d\\n", has_key(@m, comm, 1), has_key(@m, comm, 2)); '
            '@t = (comm, 5, "x"); }')
    run = trace(prog, cat(bins, "/dev/null"))
    assert run.lines[1] == "0 1"
    assert "@m[trcat, 2]: 20" in run.lines
    assert "@t: (trcat, 5, x)" in run.lines


def test_print_map_and_value(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ { @c[comm] = count(); print(@c); '
            'print(123); print(comm); clear(@c); }')
    run = trace(prog, cat(bins, "/dev/null"))
    assert run.lines[1:4] == ["@c[trcat]: 1", "123", "trcat"]  # as bpftrace 0.17 prints them


def test_printf_formats(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ '
            '{ printf("[%5d|%-5d|%x|%s|%-6s|%c|%u]\\n", 42, 42, 255, "s", comm, 65, (uint32)-1); }')
    run = trace(prog, cat(bins, "/dev/null"))
    assert run.lines[1] == "[   42|42   |ff|s|trcat |A|4294967295]"


def test_kernel_stack_in_printf(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ { printf("%s", kstack(3)); }',
                cat(bins, "/dev/null"))
    frames = [line for line in run.lines[1:] if line.strip()]
    assert 1 <= len(frames) <= 3
    assert all(re.fullmatch(r"\s+\w+\+\d+", f) for f in frames), frames


def test_positional_parameters(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:syscalls:sys_enter_exit_group /comm == $2/ { printf("%d %s %d\\n", $1, $2, $#); }',
                cat(bins, "/dev/null"), args=["40", "trcat"])
    assert run.lines[1] == "40 trcat 2"


def test_emit_obj_loads_with_pybpf_load(tmp_path: Path) -> None:
    import pybpf

    obj = tmp_path / "prog.o"
    run = trace('interval:ms:50 { @n++; if (@n == 2) { exit(); } }', args=["--emit-obj", str(obj)],
                interrupt=False)
    assert run.returncode == 0
    with pybpf.load(obj) as coll:
        assert set(coll.programs) == {"p0_interval"}
        assert "ringbuf" in coll.maps


def test_command_mode_traces_until_the_command_exits(bins: dict[str, Path]) -> None:
    done = threading.Event()
    result: dict[str, subprocess.CompletedProcess[str]] = {}

    def go() -> None:
        from progs_trace import PYBPF
        result["r"] = subprocess.run([*PYBPF, "trace", "-e",
                                      'tracepoint:syscalls:sys_enter_openat /pid == cpid/ '
                                      '{ @[str(args->filename)] = count(); }',
                                      "-c", f"{bins['cat']} /etc/hostname"],
                                     capture_output=True, text=True, timeout=30)
        done.set()

    go()
    assert done.is_set()
    assert "@[/etc/hostname]: 1" in result["r"].stdout.splitlines()


# --------------------------------------------------------------------------- functions


def on_exit_of_trcat(body: str) -> str:
    return f'tracepoint:syscalls:sys_enter_exit_group /comm == "trcat"/ {{ {body} }}'


def test_time_strftime_ksym_kaddr_strerror(bins: dict[str, Path]) -> None:
    import time as _time

    run = trace(on_exit_of_trcat('time("%Y|"); printf("%s %s %s\\n", strftime("%Y", nsecs), '
                                 'ksym(kaddr("vfs_read")), strerror(2));'), cat(bins, "/dev/null"))
    year = _time.strftime("%Y")
    assert run.lines[1] == f"{year}|{year} vfs_read No such file or directory"


def test_btf_struct_access_sizeof_offsetof(bins: dict[str, Path]) -> None:
    run = trace(on_exit_of_trcat('printf("%d %d %d\\n", curtask->pid == pid, sizeof(struct task_struct) > 1000, '
                                 'offsetof(struct task_struct, pid) > 0);'), cat(bins, "/dev/null"))
    assert run.lines[1] == "1 1 1"


def test_cat_ntop_pton(bins: dict[str, Path]) -> None:
    run = trace(on_exit_of_trcat('cat("/proc/sys/kernel/ostype"); '
                                 'printf("%s %s\\n", ntop(pton("10.1.2.3")), ntop(pton("::1")));'),
                cat(bins, "/dev/null"))
    assert run.lines[1:3] == ["Linux", "10.1.2.3 ::1"]


def test_tuples_in_variables_and_maps(bins: dict[str, Path]) -> None:
    run = trace(on_exit_of_trcat('$t = (1, "two", comm); printf("%d %s %s\\n", $t.0, $t.1, $t.2); '
                                 '@x[$t.0] = $t; print(@x[1]);'), cat(bins, "/dev/null"))
    assert run.lines[1:3] == ["1 two trcat", "(1, two, trcat)"]
    assert "@x[1]: (1, two, trcat)" in run.lines


def test_compound_map_assignment_and_string_values(bins: dict[str, Path]) -> None:
    run = trace(on_exit_of_trcat('@a = 5; @a += 3; @a <<= 1; @b[comm] = "s"; @b[comm] = "longer"; '
                                 '@n = -5; @m = @n * 2; printf("%d %s %d\\n", @a, @b[comm], @m);'),
                cat(bins, "/dev/null"))
    assert run.lines[1] == "16 longer -10"
    assert run.lines[-4:] == ["@a: 16", "@b[trcat]: longer", "@m: -10", "@n: -5"]


def test_usdt_arguments(bins: dict[str, Path]) -> None:
    from progs_uprobe import build_usdt, ensure_sdt_header

    why = ensure_sdt_header()
    if why:
        pytest.skip(why)
    target = build_usdt(bins["tmp"], "-O2")
    prog = (f'usdt:{target}:pybpftest:args {{ printf("%d %d %s %d %d\\n", arg0, arg1, str(arg2), arg3, arg4); }} '
            f'usdt:{target}:pybpftest:deref {{ printf("%d %d\\n", arg0, arg1); }}')
    run = trace(prog, lambda: subprocess.run([str(target), "7"], input=b"\n", capture_output=True))
    assert run.stderr == ""
    # arg3 is -8@$-1234567890123 printed with %d: bpftrace 0.17 prints the same low 32 bits
    assert run.lines[1:3] == ["7 -7 hello usdt -1912276171 5", "14 -21"]


def test_for_loop_over_a_map(bins: dict[str, Path]) -> None:
    run = trace(on_exit_of_trcat('@m[1] = 10; @m[2] = 20; @s["a"] = 1; $total = 5; '
                                 'for ($kv : @m) { $total += $kv.1; } '
                                 'for ($x : @s) { printf("%s %d\\n", $x.0, $total); } '
                                 '$n = 0; for ($kv : @m) { $n++; break; } printf("total %d %d\\n", $total, $n);'),
                cat(bins, "/dev/null"))
    assert run.stderr == ""
    assert run.lines[1:3] == ["a 35", "total 35 1"]


def test_iterator_program_loads() -> None:
    import pybpf
    from pybpf.trace.codegen import compile_script

    cs = compile_script('iter:task /ctx->task->pid == 1/ { printf("%d\\n", ctx->task->pid); }')
    with pybpf.load(cs.object_spec) as coll:  # the verifier accepts it
        assert cs.probes[0].program_name in coll.programs


def test_kprobe_is_refused_with_the_alternative() -> None:
    run = trace("kprobe:vfs_read { @ = count(); }", interrupt=False)
    assert run.returncode != 0
    assert "kprobe" in run.stderr and "tracepoint" in run.stderr


# --------------------------------------------------------------------------- more one-liners


@needs_bpftrace
def test_syscall_counts_by_syscall_number(bins: dict[str, Path]) -> None:
    out = same_as_bpftrace('tracepoint:raw_syscalls:sys_enter /comm == "trcat"/ { @[args->id] = count(); }',
                           cat(bins, "/dev/null"))
    assert re.search(r"^@\[257\]: \d+$", out, re.M)  # openat


@needs_bpftrace
def test_failed_opens(bins: dict[str, Path]) -> None:
    out = same_as_bpftrace('tracepoint:syscalls:sys_exit_openat /comm == "trcat" && args->ret < 0/ '
                           '{ printf("%s %d\\n", comm, args->ret); }', cat(bins, "/nonexistent/file"))
    assert "trcat -2" in out.splitlines()


def test_read_latency_by_process(bins: dict[str, Path]) -> None:
    prog = ('tracepoint:syscalls:sys_enter_read /comm == "trcat"/ { @start[tid] = nsecs; } '
            'tracepoint:syscalls:sys_exit_read /@start[tid]/ { @ns[comm] = hist(nsecs - @start[tid]); '
            'delete(@start[tid]); }')
    run = trace(prog, cat(bins, str(bins["data"])))
    assert run.stderr == ""
    assert "@ns[trcat]: " in run.lines
    assert "@start" not in run.stdout  # every entry was deleted again
    counts = [int(m.group(1)) for m in re.finditer(r"^\[.*\)\s+(\d+) \|", run.stdout, re.M)]
    assert sum(counts) >= 2


def test_wildcard_tracepoints_and_probe_names(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:sched:sched_process_e* /comm == "trcat"/ { @[probe] = count(); }', cat(bins, "/dev/null"))
    assert run.stderr == ""
    assert "@[tracepoint:sched:sched_process_exec]: 1" in run.lines
    assert "@[tracepoint:sched:sched_process_exit]: 1" in run.lines


def test_signals_sent() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])

    def signal_it() -> None:
        os.kill(sleeper.pid, 10)
        sleeper.wait()

    run = trace(f"tracepoint:signal:signal_generate /args->pid == {sleeper.pid}/ "
                '{ printf("sig %d to %d errno %d\\n", args->sig, args->pid, args->errno); }', signal_it)
    assert run.lines[1] == f"sig 10 to {sleeper.pid} errno 0"


def test_profile_user_stacks(bins: dict[str, Path]) -> None:
    run = trace('profile:hz:99 /comm == "trdd"/ { @[ustack(2)] = count(); }',
                lambda: run_quiet(str(bins["dd"]), "if=/dev/zero", "of=/dev/null", "bs=1M", "count=3000"))
    assert run.stderr == ""
    assert re.search(r"^@\[\n(    \S+\n){1,2}\]: \d+$", run.stdout, re.M), run.stdout


def test_unsafe_system_and_signal(bins: dict[str, Path]) -> None:
    sleep = copy_binary("sleep", bins["tmp"], "trsleep")
    result: dict[str, int] = {}

    def go() -> None:
        result["rc"] = subprocess.run([str(sleep), "5"], check=False).returncode

    run = trace('tracepoint:syscalls:sys_enter_clock_nanosleep /comm == "trsleep"/ '
                '{ system("echo system %d", 7); signal("SIGKILL"); }', go, args=["--unsafe"])
    assert result["rc"] == -9  # killed by the probe, not after 5 s
    assert "system 7" in run.lines


def test_unsafe_functions_need_the_flag() -> None:
    from progs_trace import PYBPF

    done = subprocess.run([*PYBPF, "trace", "-e", 'BEGIN { system("true"); }'], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "system() is an unsafe function being used in safe mode" in done.stderr


def test_context_switch_char_arrays_and_task_chains(bins: dict[str, Path]) -> None:
    run = trace('tracepoint:sched:sched_switch /args->prev_comm == "trcat"/ '
                '{ printf("%s -> %s %d\\n", args->prev_comm, str(args->next_comm), curtask->real_parent->pid > 0); '
                "exit(); }", cat(bins, str(bins["data"])), interrupt=False)
    assert run.stderr == ""
    assert re.fullmatch(r"trcat -> \S.* 1", run.lines[1]), run.lines
