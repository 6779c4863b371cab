"""Cost of an attached tracepoint program on a syscall-heavy workload, with vs without, same run.

Run (root): .venv/bin/python bench/bench_tracepoint_overhead.py [CALLS] [ROUNDS]

Workload: a small C program (compiled here with gcc, or zig cc) makes CALLS getppid(2)
syscalls and reports the ns per call. Each round runs it (a) with nothing attached, (b) with
a TRACEPOINT program on syscalls:sys_enter_getppid that counts the workload's events
(pybpf.link.tracepoint: perf event + BPF perf link), (c) with a RAW_TRACEPOINT program on
sys_enter doing the same (fires for every syscall of every process). The median of ROUNDS
rounds is printed; the overhead per event is (with - without) and the ratio with/without.
The program's event count is checked against CALLS (nothing missed).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent


def _build_workload(out: Path) -> Path:
    exe = out / "getppid_loop"
    cc = [shutil.which("gcc") or shutil.which("cc")] if (shutil.which("gcc") or shutil.which("cc")) else \
        [sys.executable, "-m", "ziglang", "cc"]
    subprocess.run([*cc, "-O2", "-o", str(exe), str(HERE / "c" / "getppid_loop.c")], check=True)  # type: ignore[list-item]
    return exe


def _run(exe: Path, calls: int, on_start: Callable[[int], None]) -> float:
    """Start the workload, tell ``on_start`` its pid (attach there), then let it run; ns per call."""
    proc = subprocess.Popen([str(exe), str(calls)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        on_start(proc.pid)
        out, _ = proc.communicate("g\n", timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return float(out.strip())


def main() -> None:
    import pybpf
    import pybpf.cc
    from pybpf import link
    from pybpf.spec import ObjectSpec

    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    obj_path = pybpf.cc.compile(HERE / "c" / "tp_overhead.bpf.c")
    results: dict[str, list[float]] = {"none": [], "tracepoint": [], "raw_tp": []}
    with tempfile.TemporaryDirectory() as tmp:
        exe = _build_workload(Path(tmp))
        for _ in range(rounds):
            results["none"].append(_run(exe, calls, lambda pid: None))
            for kind, prog_name in (("tracepoint", "count_getppid"), ("raw_tp", "count_sys_enter")):
                holder: list[tuple[pybpf.Collection, link.Link]] = []

                def attach(pid: int, prog_name: str = prog_name) -> None:
                    spec = ObjectSpec.from_file(obj_path)
                    spec.rodata["target_tgid"] = pid
                    obj = pybpf.load(spec)
                    holder.append((obj, obj.programs[prog_name].attach()))

                ns = _run(exe, calls, attach)
                obj, lk = holder[0]
                assert obj.globals is not None
                seen = int(obj.globals["events"])  # type: ignore[call-overload]
                lk.close()
                obj.close()
                if kind == "tracepoint" and seen != calls:
                    raise SystemExit(f"the tracepoint program counted {seen} events, expected {calls}")
                if kind == "raw_tp" and seen < calls:
                    raise SystemExit(f"the raw_tp program counted {seen} events, expected at least {calls}")
                results[kind].append(ns)
    base = statistics.median(results["none"])
    print(f"getppid(2) x {calls:,}, median of {rounds} rounds (kernel {os.uname().release})")
    print(f"  nothing attached                       {base:8.1f} ns/call")
    for kind, label in (("tracepoint", "tracepoint sys_enter_getppid (perf link)"), ("raw_tp", "raw_tp sys_enter")):
        with_prog = statistics.median(results[kind])
        print(f"  {label:<38} {with_prog:8.1f} ns/call   overhead {with_prog - base:6.1f} ns/event   "
              f"ratio {with_prog / base:5.2f}x")


if __name__ == "__main__":
    main()
