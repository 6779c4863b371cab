"""Parse the kernel BTF: pybpf.btf against `bpftool btf dump file ... format raw`, same run.

Run: .venv/bin/python bench/bench_btf_parse.py [BTF_FILE] [--runs N]
Goal (issue 2): parse under 1 s and under 5x bpftool.

Measured (each run in a fresh BTF object, so no cache carries over; the measurements are
interleaved run by run so that all of them see the same machine load):
- open + index:         BTF.from_file (header checks, one pass recording every record's offset)
- parse + decode all:   BTF.from_file + every type decoded into its dataclass — the figure
                        comparable to bpftool's raw dump, which also visits every type
- first find():         building the name index on the first lookup (after open)
- to_bytes():           marshalling every type back
- whole process:        `python -c` doing "parse + decode all", interpreter start included
bpftool is timed as a whole process writing its dump to /dev/null. Ratios are given on the
best (minimum) wall time, on the median wall time, and on CPU time (user + system, for
bpftool and the whole-process case from the children's rusage), which is the least
disturbed by other load on a shared machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from pybpf.btf import BTF


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time (this process's, plus that of the children it waited for)."""
    start, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
    result = fn()
    elapsed = time.perf_counter() - start
    used = time.process_time() - cpu + _children_cpu() - child
    del result  # freeing this run's objects is not part of the measurement
    return elapsed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="/sys/kernel/btf/vmlinux")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    path = Path(args.path)
    bpftool = shutil.which("bpftool")

    def run_bpftool() -> None:
        assert bpftool
        subprocess.run([bpftool, "btf", "dump", "file", str(path), "format", "raw"],
                       stdout=subprocess.DEVNULL, check=True)

    def decode_all() -> BTF:
        btf = BTF.from_file(path)
        for _ in btf.types():
            pass
        return btf

    def open_and_find() -> BTF:
        btf = BTF.from_file(path)
        btf.find("task_struct")
        return btf

    code = f"from pybpf.btf import BTF\nfor _ in BTF.from_file({str(path)!r}).types(): pass"

    def whole_process() -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    loaded = decode_all()
    cases: dict[str, Callable[[], object]] = {
        "open + index": lambda: BTF.from_file(path),
        "parse + decode all": decode_all,
        "open + first find()": open_and_find,
        "to_bytes()": loaded.to_bytes,
        "whole process": whole_process,
    }
    if bpftool:
        cases["bpftool dump format raw"] = run_bpftool
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, fn in cases.items():
            w, c = timed(fn)
            wall[name].append(w)
            cpu[name].append(c)
    best = {name: min(ts) for name, ts in wall.items()}
    median = {name: statistics.median(ts) for name, ts in wall.items()}
    best_cpu = {name: min(ts) for name, ts in cpu.items()}

    print(f"BTF file: {path} ({path.stat().st_size / 1e6:.1f} MB, {len(loaded) - 1} types); "
          f"{args.runs} interleaved runs")
    print(f"  {'':<26}  {'best wall':>10}  {'median wall':>12}  {'best CPU':>9}")
    for name in cases:
        print(f"  {name:<26}: {best[name] * 1000:8.1f} ms  {median[name] * 1000:9.1f} ms  "
              f"{best_cpu[name] * 1000:6.1f} ms")
    find_only = best["open + first find()"] - best["open + index"]
    print(f"  {'first find() alone':<26}: {find_only * 1000:8.1f} ms  (building the name index)")
    if not bpftool:
        print("  bpftool is not installed: no ratio")
        return
    ref = "bpftool dump format raw"
    for name in ("parse + decode all", "open + index", "whole process"):
        print(f"  ratio {name + ' / bpftool':<32}: wall {best[name] / best[ref]:5.2f}x (best), "
              f"{median[name] / median[ref]:5.2f}x (median); CPU {best_cpu[name] / best_cpu[ref]:5.2f}x")
    print("  goal: parse + decode all under 5x bpftool and under 1 s")


if __name__ == "__main__":
    main()
