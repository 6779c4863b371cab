"""bcc front end: time from ``BPF(text=...)`` to attached, cold (empty cache) and warm, and the
whole-process wall time of a hello-world run, against ``bpftrace -e`` of the same programs,
in the same run.

Run (root): .venv/bin/python bench/bench_bcc.py [RUNS]
Goals (issue 5): warm at most 0.5x bpftrace, cold at most 2x.

Figures (median of RUNS, each in a fresh process):
- attach warm:  BPF(text=...) returning (rewritten, cache hit, loaded, attached), timed inside
                the process; the compile cache already holds the object
- attach cold:  the same with an empty PYBPF_CACHE_DIR (vmlinux.h generated, compiler run)
- process warm/cold: the whole `python` process doing the above and exiting
- bpftrace:     `bpftrace -e 'tracepoint:... { printf(...); } BEGIN { exit(); }'`: start, compile,
                attach, exit (bpftrace cannot be split; BEGIN runs once its probes are attached)
- hello world:  the process that attaches the clone hello world, sees its first "Hello, World!"
                and exits (pybpf: BPF(...) + trace_fields; bpftrace: printf + exit() in the probe);
                a thread of this process forks every 10 ms meanwhile
The pybpf processes run with bytecode caches (as an installed package does), in a private
PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PY = sys.executable
TP_BCC = 'TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { bpf_trace_printk("hi\\\\n"); return 0; }'
TP_BPFTRACE = 'tracepoint:syscalls:sys_enter_getppid { printf("hi\\n"); } BEGIN { exit(); }'
ATTACH = f"""
import time
t0 = time.perf_counter()
from pybpf.bcc import BPF
t1 = time.perf_counter()
b = BPF(text='{TP_BCC}')
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
HELLO = """
from pybpf.bcc import BPF
b = BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\\\n"); return 0; }')
while b"Hello, World!" not in (b.trace_fields()[5] or b""):
    pass
"""
HELLO_BPFTRACE = 'tracepoint:syscalls:sys_enter_clone { printf("Hello, World!\\n"); exit(); }'


PYCACHE = os.path.join(tempfile.gettempdir(), "pybpf-bench-pycache")


def py_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=PYCACHE, PYTHONWARNINGS="ignore", **extra)
    return env


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return wall, done.stdout


def pybpf_attach(cold: bool) -> tuple[float, float, float]:
    """(process wall, import, BPF() to attached) of one run."""
    env = py_env()
    with tempfile.TemporaryDirectory(prefix="pybpf-bench-cache-") as cache:
        if cold:
            env["PYBPF_CACHE_DIR"] = cache
        wall, out = run([PY, "-c", ATTACH], env)
    imp, attach = (float(x) for x in out.split())
    return wall, imp, attach


class Forker:
    """Forks every 10 ms (clone() calls for the hello world probes) until stopped."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            time.sleep(0.01)

    def __enter__(self) -> Forker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if os.geteuid() != 0:
        raise SystemExit("run as root (loads and attaches programs)")
    pybpf_attach(cold=False)  # fill the cache for the warm runs
    rows: dict[str, list[float]] = {k: [] for k in ("bpftrace", "warm_attach", "warm_proc", "warm_import",
                                                    "cold_attach", "cold_proc", "hello_pybpf", "hello_bpftrace")}
    for _ in range(runs):  # interleaved, so machine load hits every figure alike
        rows["bpftrace"].append(run(["bpftrace", "-e", TP_BPFTRACE])[0])
        wall, imp, attach = pybpf_attach(cold=False)
        rows["warm_proc"].append(wall)
        rows["warm_import"].append(imp)
        rows["warm_attach"].append(attach)
        wall, _, attach = pybpf_attach(cold=True)
        rows["cold_proc"].append(wall)
        rows["cold_attach"].append(attach)
        with Forker():
            rows["hello_pybpf"].append(run([PY, "-c", HELLO], py_env())[0])
            rows["hello_bpftrace"].append(run(["bpftrace", "-e", HELLO_BPFTRACE])[0])
    bt = med(rows["bpftrace"])
    print(f"median of {runs} runs (seconds); bpftrace {subprocess.run(['bpftrace', '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"  bpftrace -e (whole process)       {bt:7.3f}")
    for label, key in (("attach warm (BPF() -> attached)", "warm_attach"),
                       ("attach cold (empty cache)", "cold_attach"),
                       ("process warm (python -c)", "warm_proc"), ("process cold", "cold_proc")):
        value = med(rows[key])
        print(f"  {label:33s} {value:7.3f}   {value / bt:5.2f}x bpftrace")
    print(f"  (import pybpf.bcc in warm runs    {med(rows['warm_import']):7.3f})")
    hp, hb = med(rows["hello_pybpf"]), med(rows["hello_bpftrace"])
    print(f"  hello world: pybpf {hp:.3f}  bpftrace {hb:.3f}  ->  {hp / hb:.2f}x")
    warm, cold = med(rows["warm_attach"]) / bt, med(rows["cold_attach"]) / bt
    print(f"goals: warm <= 0.5x: {'met' if warm <= 0.5 else 'NOT met'} ({warm:.2f}x); "
          f"cold <= 2x: {'met' if cold <= 2 else 'NOT met'} ({cold:.2f}x)")


if __name__ == "__main__":
    main()
