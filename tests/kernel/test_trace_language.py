"""``pybpf trace`` language features checked in the kernel: BTF-defined maps (their key/value
types reach the kernel), ``args`` of uprobes from DWARF, watchpoints, and output details.

Each test triggers the real event and asserts what the user sees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from progs_trace import HERE, PYBPF, copy_binary, run_quiet, trace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trace_lang")


def _bpftool_json(*argv: str) -> object:
    out = subprocess.run(["bpftool", "-j", *argv], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def test_maps_carry_their_key_and_value_types_into_the_kernel(tmp: Path) -> None:
    cat = copy_binary("cat", tmp, "trbtfcat")
    seen: dict[str, object] = {}

    def while_tracing() -> None:
        run_quiet(str(cat), "/dev/null")
        shown = _bpftool_json("map", "show")
        assert isinstance(shown, list)
        ours = {m["name"]: m for m in shown if m.get("name") in ("AT_c", "AT_lo")}
        seen.update(ours)
        seen["dump"] = _bpftool_json("map", "dump", "id", str(ours["AT_c"]["id"]))
        seen["lo"] = _bpftool_json("map", "dump", "id", str(ours["AT_lo"]["id"]))
        seen["pybpf"] = subprocess.run([*PYBPF, "map", "dump", str(ours["AT_lo"]["id"])], capture_output=True,
                                       text=True, timeout=30).stdout

    run = trace('tracepoint:syscalls:sys_enter_openat /comm == "trbtfcat"/ { @c[comm] = count(); @lo = min(3); }',
                while_tracing)
    assert run.stderr == ""
    assert "@c[trbtfcat]:" in run.stdout
    for name in ("AT_c", "AT_lo"):
        assert seen[name]["btf_id"] > 0, seen[name]  # type: ignore[index]
    # bpftool decodes the entries through the map's BTF: a char[16] key, a named min/max value
    dump = seen["dump"]
    assert isinstance(dump, list) and dump[0]["formatted"]["key"] == "trbtfcat", dump
    lo = seen["lo"]
    assert isinstance(lo, list)
    per_cpu = lo[0]["formatted"]["values"]
    assert {"value": 3, "set": 1} in [v["value"] for v in per_cpu], lo
    assert "{ .value = 3, .set = 1 }" in str(seen["pybpf"]), seen["pybpf"]  # pybpf map dump, through the BTF


def test_emitted_object_loads_with_libbpf_and_describes_its_maps(tmp: Path) -> None:
    obj = tmp / "emitted.o"
    r = _run('BEGIN { @n[comm, pid] = count(); @s = stats(5); exit(); }', "--emit-obj", str(obj))
    assert r.returncode == 0, r.stderr
    btf = subprocess.run(["bpftool", "btf", "dump", "file", str(obj)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert "DATASEC '.maps'" in btf and "VAR 'AT_n'" in btf and "STRUCT 'stats' size=16 vlen=2" in btf
    pins = Path("/sys/fs/bpf") / f"pybpf_test_emit_{os.getpid()}"
    try:
        loaded = subprocess.run(["bpftool", "prog", "loadall", str(obj), str(pins)], capture_output=True, text=True,
                                timeout=60)
        assert loaded.returncode == 0, loaded.stderr  # libbpf takes the .maps definitions
        assert sorted(p.name for p in pins.iterdir()) == ["p0_BEGIN"]
    finally:
        shutil.rmtree(pins, ignore_errors=True)


# --------------------------------------------------------------------------- uprobe args from DWARF


@pytest.fixture(scope="module")
def args_bin(tmp: Path) -> Path:
    out = tmp / "trargs"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O1", "-g", "-fno-inline", "-o", str(out),
                    str(HERE / "args.c")], check=True, timeout=300)
    return out


def _run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYBPF, "trace", "-e", program, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("arrow", [".", "->"])
def test_uprobe_args_print_exactly_what_was_passed(args_bin: Path, arrow: str) -> None:
    a = f"args{arrow}"
    r = _run(f'uprobe:{args_bin}:show {{ printf("%d %s %u %d\\n", {a}n, str({a}s), {a}flag, *{a}where); }}',
             "-c", f"{args_bin} -17 passed-string")
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 1 probe..."
    assert "-17 passed-string 7 0" in lines  # the binary prints its own line too ("-17 passed-string 0.5 7 0x...")


def test_uprobe_args_refuses_a_float_with_the_reason(args_bin: Path) -> None:
    r = _run(f"uprobe:{args_bin}:show {{ print(args.ratio); }}")
    assert r.returncode != 0
    assert "argument 'ratio' of show (double) is not readable" in r.stderr


def test_uprobe_args_of_a_binary_without_dwarf_says_so(tmp: Path) -> None:
    stripped = tmp / "trargs_stripped"
    shutil.copy(shutil.which("true") or "/bin/true", stripped)
    r = _run(f"uprobe:{stripped}:main {{ print(args.argc); }}")
    assert r.returncode != 0
    assert f"{stripped} has no DWARF debug information" in r.stderr
    assert "rebuild it with -g" in r.stderr


def test_verbose_uprobe_listing_shows_the_parameters(args_bin: Path) -> None:
    r = subprocess.run([*PYBPF, "trace", "-lv", f"uprobe:{args_bin}:show"], capture_output=True, text=True,
                       timeout=60)
    assert r.stdout.splitlines() == [f"uprobe:{args_bin}:show", "    int n", "    const char * s", "    double ratio",
                                     "    unsigned char flag", "    long * where"]


# --------------------------------------------------------------------------- watchpoints

WATCHED = "0x10000000"  # watch.c maps its page there


@pytest.fixture(scope="module")
def watch_bin(tmp: Path) -> Path:
    out = tmp / "trwatch"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O1", "-g", "-o", str(out), str(HERE / "watch.c")],
                   check=True, timeout=300)
    return out


def test_watchpoint_on_writes_of_a_command_counts_each_write(watch_bin: Path) -> None:
    r = _run(f'watchpoint:{WATCHED}:8:w {{ printf("hit %s\\n", comm); @hits = count(); }}', "-c", f"{watch_bin} 4")
    assert "error" not in r.stderr, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 1 probe..."
    assert "wrote 4 times, last 4" in lines  # the command's own output
    assert lines.count("hit trwatch") == 4
    assert lines[-1] == "@hits: 4"


def test_asyncwatchpoint_on_reads_and_writes(watch_bin: Path) -> None:
    r = _run(f"asyncwatchpoint:{WATCHED}:8:rw {{ @hits[comm] = count(); }}", "-c", f"{watch_bin} 3")
    assert "@hits[trwatch]: 4" in r.stdout.splitlines(), r.stdout + r.stderr  # 3 writes and 1 read


def test_watchpoint_in_a_running_process_by_pid(watch_bin: Path) -> None:
    with subprocess.Popen([str(watch_bin), "2", "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout is not None and proc.stdin is not None
            assert proc.stdout.readline() == b"ready\n"  # its page is mapped

            def release() -> None:
                assert proc.stdin is not None
                proc.stdin.write(b"g")
                proc.stdin.close()
                proc.wait(timeout=30)

            run = trace(f'watchpoint:{WATCHED}:8:w {{ printf("hit %d\\n", pid); }}', release,
                        args=["-p", str(proc.pid)])
        finally:
            if proc.poll() is None:
                proc.kill()
    assert [line for line in run.lines[1:] if line] == [f"hit {proc.pid}"] * 2, run.stdout + run.stderr


def test_read_only_watchpoint_is_refused_with_the_reason(watch_bin: Path) -> None:
    r = _run(f"watchpoint:{WATCHED}:8:r {{ printf(\"hit\\n\"); }}", "-c", f"{watch_bin} 1")
    assert r.returncode != 0
    assert "read-only watchpoints" in r.stderr and "watch with mode rw" in r.stderr, r.stderr


# --------------------------------------------------------------------------- output details


def test_ksym_of_the_kernel_text_start_names_text_as_bpftrace_does() -> None:
    text = next(line.split()[0] for line in Path("/proc/kallsyms").read_text().splitlines()
                if line.split()[2:3] == ["_text"])
    r = _run(f'BEGIN {{ printf("%s|%s\\n", ksym(0x{text}), ksym(0x{text} + 4)); exit(); }}')
    assert r.stdout.splitlines()[1] == "_text|_text", r.stdout + r.stderr


def test_iter_task_lists_every_task_once_and_ends_by_itself() -> None:
    me = f"{Path('/proc/self/comm').read_text().strip()}:{os.getpid()}"
    r = _run('iter:task { printf("%s:%d\\n", ctx->task->comm, ctx->task->pid); }')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 1 probe..."
    tasks = [line for line in lines[1:] if line]
    assert me in tasks and "kthreadd:2" in tasks
    assert all(re.fullmatch(r".+:\d+", line) and not line.endswith(":0") for line in tasks), tasks  # no NULL task
    assert len(tasks) == len(set(tasks))


def test_uprobe_args_of_a_library_function_from_its_separate_debug_file(tmp: Path) -> None:
    # libc has no DWARF of its own: it comes from libc6-dbg (/usr/lib/debug/.build-id/...)
    data = tmp / "written.txt"
    data.write_text("hello-write")
    cat = copy_binary("cat", tmp, "trlibccat")
    r = _run(f'uprobe:libc:write /comm == "trlibccat"/ {{ printf("%d %d %s\\n", args.fd, args.nbytes, '
             f'str(args.buf, args.nbytes)); }}', "-c", f"{cat} {data}")
    assert r.stderr == "", r.stderr
    assert "1 11 hello-write\n" in r.stdout, r.stdout  # after cat's own "hello-write" on the same stdout


def test_uprobe_args_after_structs_passed_by_value(args_bin: Path) -> None:
    # struct pair (16 bytes) takes rdi and rsi, so x is in rdx; struct big (24 bytes) goes on the stack, y in rdi
    r = _run(f'uprobe:{args_bin}:after_struct {{ printf("x=%d\\n", args.x); }} '
             f'uprobe:{args_bin}:after_big {{ printf("y=%d\\n", args.y); }}', "-c", str(args_bin))
    assert r.stderr == ""
    assert ["x=3", "y=4"] == [line for line in r.stdout.splitlines() if line[:2] in ("x=", "y=")]
    refused = _run(f"uprobe:{args_bin}:after_struct {{ print(args.p); }}")
    assert "argument 'p' of after_struct (struct pair) is not readable" in refused.stderr


def test_watchpoint_on_the_address_a_function_is_given(watch_bin: Path) -> None:
    # the process is stopped at the first call of increment() until the watchpoint on *arg1 is set:
    # 3 writes in increment() and 3 in main() are all seen (bpftrace 0.17 prints the same)
    r = _run('watchpoint:increment+arg1:4:w { printf("hit %s\\n", comm); @hits = count(); }',
             "-c", f"{watch_bin} 3 func")
    assert r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert "counted to 6" in lines
    assert lines.count("hit trwatch") == 6
    assert lines[-1] == "@hits: 6"


def test_watchpoint_on_a_function_argument_needs_a_process() -> None:
    r = _run('watchpoint:increment+arg1:4:w { printf("hit\\n"); }')
    assert r.returncode != 0
    assert "give -p PID or -c CMD" in r.stderr


def _running(binary: Path) -> list[int]:
    """Pids of live processes running ``binary`` (a stopped one included, a zombie not)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe") == str(binary):
                    pids.append(int(entry.name))
            except OSError:
                continue  # gone, or a zombie (no exe)
    return pids


def test_a_process_stopped_for_its_watchpoint_is_not_left_stopped_after_exit(watch_bin: Path) -> None:
    # exit() at the first hit: the trace ends while the command is still in its 0.3 s sleeps (it
    # was stopped at increment() while the watchpoint was set). Whether it then finishes or is
    # terminated with the trace, as bpftrace does, races the launch; what must never happen is a
    # command left stopped (or left at all) behind the tracer.
    r = _run('watchpoint:increment+arg1:4:w { printf("hit %s\\n", comm); exit(); }', "-c", f"{watch_bin} 3 fs")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines()[1] == "hit trwatch"
    deadline = time.monotonic() + 5
    while _running(watch_bin) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(watch_bin) == []


def test_unwatch_removes_the_watchpoint(watch_bin: Path, tmp: Path) -> None:
    # one call of increment(), then 0.3 s, then main's own write: seen without unwatch, not with it
    watch = "watchpoint:increment+arg1:4:w { @hits = count(); }"
    assert _run(watch, "-c", f"{watch_bin} 1 fs").stdout.splitlines()[-1] == "@hits: 2"
    unwatching = (f"uprobe:{watch_bin}:increment {{ @a = arg1; }} "
                  "watchpoint:increment+arg1:4:w { @hits = count(); unwatch(@a); }")
    r = _run(unwatching, "-c", f"{watch_bin} 1 fs")
    assert r.stderr == "", r.stderr
    assert "@hits: 1" in r.stdout.splitlines(), r.stdout
