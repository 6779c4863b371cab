"""C dump of the kernel BTF: pybpf.btf.c_dump.dump_c against `bpftool btf dump ... format c`, same run.

Run: .venv/bin/python bench/bench_btf_dump.py [BTF_FILE]
Goal (issue 2): under 5x bpftool.

Figures (median of RUNS, and the best run; wall clock and CPU time, since a busy machine inflates
wall clock; the best run is the least disturbed by other load, the median shows the spread):
- parse + dump:   BTF.from_file + dump_c in a fresh BTF object (the types the dump needs are
                  decoded inside it) — the figure comparable to bpftool, which also parses the file
- dump only:      dump_c on a BTF opened beforehand (the dumper reads the raw type records, so
                  whether types were decoded into dataclasses before does not matter)
- whole process:  `python -c` doing "parse + dump" to /dev/null, interpreter start and import included
bpftool is timed as a whole process writing its header to /dev/null (its CPU time from rusage).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

RUNS = 7


def measure(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, float, float, float]:
    """Median (wall, CPU) and best (wall, CPU) seconds of ``fn``; CPU counts this process and its children."""
    walls, cpus = [], []
    for _ in range(runs):
        before = _cpu()
        start = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - before)
        del result
    return statistics.median(walls), statistics.median(cpus), min(walls), min(cpus)


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    from pybpf.btf import BTF
    from pybpf.btf.c_dump import dump_c

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "/sys/kernel/btf/vmlinux")
    bpftool = shutil.which("bpftool")

    def run_bpftool() -> None:
        assert bpftool
        subprocess.run([bpftool, "btf", "dump", "file", str(path), "format", "c"],
                       stdout=subprocess.DEVNULL, check=True)

    decoded = BTF.from_file(path)
    for _ in decoded.types():
        pass
    header = dump_c(decoded)
    code = (f"from pybpf.btf import BTF\nfrom pybpf.btf.c_dump import dump_c\n"
            f"import sys\nsys.stdout.write(dump_c(BTF.from_file({str(path)!r})))")

    def run_process() -> None:
        with open(os.devnull, "w") as devnull:
            subprocess.run([sys.executable, "-c", code], stdout=devnull, check=True)

    t_tool = measure(run_bpftool) if bpftool else None
    t_full = measure(lambda: dump_c(BTF.from_file(path)))
    t_dump = measure(lambda: dump_c(decoded))
    t_proc = measure(run_process)
    if bpftool:  # again after ours, and keep the faster: load on the machine drifts
        again = measure(run_bpftool)
        t_tool = tuple(min(a, b) for a, b in zip(t_tool, again))  # type: ignore[arg-type]

    print(f"BTF file: {path} ({len(decoded) - 1} types) -> {header.count(chr(10))} lines of C; {RUNS} runs")
    print("                               median wall  median CPU   best wall    best CPU")

    def row(label: str, t: tuple[float, ...], note: str = "") -> None:
        print(f"  {label:<26}: " + " ".join(f"{x * 1000:8.1f} ms" for x in t) + (f"  ({note})" if note else ""))

    row("pybpf parse + dump_c", t_full)
    row("pybpf dump_c only", t_dump, "BTF opened beforehand")
    row("pybpf whole process", t_proc, "python start + import + parse + dump")
    if t_tool is None:
        print("  bpftool                   : not installed, no ratio")
        return
    row("bpftool format c", t_tool, "whole process, output to /dev/null")

    def ratio(label: str, t: tuple[float, ...], goal: str = "") -> None:
        r = [a / b for a, b in zip(t, t_tool)]  # type: ignore[arg-type]
        print(f"  ratio {label:<24}: median wall {r[0]:5.2f}x, CPU {r[1]:5.2f}x; best wall {r[2]:5.2f}x, "
              f"CPU {r[3]:5.2f}x{goal}")

    ratio("parse + dump_c / bpftool", t_full, "  (goal < 5x)")
    ratio("dump_c only / bpftool", t_dump)
    ratio("whole process / bpftool", t_proc)


if __name__ == "__main__":
    main()
