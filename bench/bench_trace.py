"""``pybpf trace`` against Debian's bpftrace 0.17, measured in the same run.

Run (root): .venv/bin/python bench/bench_trace.py [--runs N] [--only launch|cpu]
Goals (issue 6): launch-to-attached and launch-to-first-event at most 0.5x bpftrace; CPU time
of the tracer while 100,000 events/s are traced and printed at most 1x bpftrace.

Method.

- *launch-to-attached*: from ``Popen`` of the tracer to its ``Attaching N probes...`` line (both
  tools print it once the programs are compiled and loaded, right before attaching).
- pybpf is measured twice: *cold*, with an empty cache directory (``PYBPF_CACHE_DIR``): parse,
  analyse, compile with LLVM, load; and *cached*, after one unmeasured run of the same program
  stored it in the cache (``pybpf.trace.cache``) with the load and attach that run made: the
  measured run replays them and prints its first events before importing the loader or the
  runtime (``pybpf.trace.quick``). bpftrace has no cache (it compiles every time); both pybpf
  figures are against the same bpftrace runs, interleaved with them.
- *launch-to-first-event*: a generator (bench/c/trace_gen.c, comm ``trgen``) makes getppid()
  calls continuously; from ``Popen`` to the first line the traced program prints for it. This
  is the figure a user waits for: compile + load + attach + first event out.
- *CPU to first event*: user + system CPU time of the tracer process up to that first line
  (independent of how busy the machine is; wall times are not).
- *CPU at 100k events/s*: the generator makes 100,000 getppid() calls per second for
  ``SECONDS``; the tracer prints one line per call (``printf("%d %d\\n", pid, tid)``) into a
  pipe that the benchmark drains. CPU time (user + system, from /proc/PID/stat) of the tracer
  is counted from the start to the end of the generator's run only (not start-up or exit),
  and the number of printed lines is checked against the number of calls (lost events are
  reported).

Each figure is the median of ``--runs`` runs; the ratio is pybpf / bpftrace.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
PYBPF = [str(Path(sys.executable).with_name("pybpf")), "trace"]
BPFTRACE = ["bpftrace"]
RATE = 100_000
SECONDS = 3.0
PROGRAMS = {
    "tracepoint printf": 'tracepoint:syscalls:sys_enter_getppid /comm == "trgen"/ { printf("%d %s\\n", pid, comm); }',
    "tracepoint count by comm": 'tracepoint:syscalls:sys_enter_getppid /comm == "trgen"/ '
                                '{ @[comm] = count(); printf("x\\n"); }',
    "hist + printf": 'tracepoint:syscalls:sys_enter_getppid /comm == "trgen"/ { @h = hist(pid); '
                     'printf("%s\\n", comm); }',
}
EVENT_PROGRAM = 'tracepoint:syscalls:sys_enter_getppid /comm == "trgen"/ { printf("%d %d\\n", pid, tid); }'
TICKS = os.sysconf("SC_CLK_TCK")


def build_generator(tmp: Path) -> Path:
    out = tmp / "trgen"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O2", "-o", str(out), str(HERE / "c" / "trace_gen.c")],
                   check=True)
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


#: pybpf runs with bytecode caches, as an installed package would (this machine sets
#: PYTHONDONTWRITEBYTECODE, which would make every run recompile all of pybpf's sources)
TOOL_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TOOL_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "pybpf-bench-pycache")


def _readline(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError("no output")
    return proc.stdout.readline()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def launch(tool: list[str], program: str, gen: Path, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(launch-to-attached, launch-to-first-event, tracer CPU until the first event) in seconds."""
    feeder = subprocess.Popen([str(gen), "2000", "30"])
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*tool, "-e", program], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env or TOOL_ENV)
        line = _readline(proc, 60)
        attached = time.perf_counter() - t0
        assert line.startswith(b"Attaching"), line
        _readline(proc, 60)
        first = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
        _stop(proc)
        return attached, first, cpu
    finally:
        feeder.kill()
        feeder.wait()


def cpu_at_rate(tool: list[str], gen: Path) -> tuple[float, int, int]:
    """(tracer CPU seconds during the run, lines printed, calls made)."""
    proc = subprocess.Popen([*tool, "-e", EVENT_PROGRAM], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=TOOL_ENV)
    _readline(proc, 60)
    lines = [0]

    def drain() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(1 << 20):  # type: ignore[attr-defined]
            lines[0] += chunk.count(b"\n")

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(0.5)
    before = cpu_seconds(proc.pid)
    subprocess.run([str(gen), str(RATE), str(SECONDS)], check=True)
    time.sleep(0.3)  # let the tracer print what is still in its buffer
    used = cpu_seconds(proc.pid) - before
    _stop(proc)
    reader.join(5)
    return used, lines[0], int(RATE * SECONDS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=("launch", "cpu"), help="run only the launch figures or only the CPU figures")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_trace needs root", file=sys.stderr)
        return 1
    if shutil.which("bpftrace") is None:
        print("bench_trace compares with Debian's bpftrace: apt-get install bpftrace", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as d:
        gen = build_generator(Path(d))
        print(f"{'program':28} {'metric':32} {'pybpf':>9} {'bpftrace':>9} {'ratio':>6}  goal")
        for n, (name, program) in enumerate((PROGRAMS if args.only != "cpu" else {}).items()):
            warm_env = {**TOOL_ENV, "PYBPF_CACHE_DIR": os.path.join(d, f"warm{n}")}
            launch(PYBPF, program, gen, warm_env)  # stores the program in the cache (not measured)
            cold, warm, theirs = [], [], []
            for run in range(args.runs):  # interleaved: load changes on this machine hit all three alike
                cold.append(launch(PYBPF, program, gen, {**TOOL_ENV, "PYBPF_CACHE_DIR": os.path.join(d, f"cold{n}.{run}")}))
                warm.append(launch(PYBPF, program, gen, warm_env))
                theirs.append(launch(BPFTRACE, program, gen))
            for i, metric in enumerate(("launch-to-attached", "launch-to-first-event", "CPU to first event")):
                b = statistics.median(r[i] for r in theirs)
                for label, ours in (("cold", cold), ("cached", warm)):
                    a = statistics.median(r[i] for r in ours)
                    print(f"{name:28} {metric + ' s, ' + label:32} {a:9.3f} {b:9.3f} {a / b:6.2f}  <= 0.5")
        if args.only == "launch":
            print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            return 0
        ours_cpu = [cpu_at_rate(PYBPF, gen) for _ in range(args.runs)]
        theirs_cpu = [cpu_at_rate(BPFTRACE, gen) for _ in range(args.runs)]
        a = statistics.median(r[0] for r in ours_cpu)
        b = statistics.median(r[0] for r in theirs_cpu)
        print(f"{'printf at 100k events/s':28} {'tracer CPU s (3 s run)':32} {a:9.3f} {b:9.3f} {a / b:6.2f}  <= 1.0")
        per_line = [statistics.median(r[0] / max(r[1], 1) * 1e6 for r in runs) for runs in (ours_cpu, theirs_cpu)]
        print(f"{'printf at 100k events/s':28} {'tracer CPU us per line':32} {per_line[0]:9.2f} {per_line[1]:9.2f} "
              f"{per_line[0] / per_line[1]:6.2f}  <= 1.0")
        for label, runs in (("pybpf", ours_cpu), ("bpftrace", theirs_cpu)):
            printed = [r[1] for r in runs]
            print(f"  {label}: lines printed per run {printed} of {runs[0][2]} calls "
                  "(the rest were lost: the ring/perf buffer was full)")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
