"""Parse the kernel BTF: pybpf.btf against `bpftool btf dump file ... format raw`, same run.

Run: .venv/bin/python bench/bench_btf_parse.py [BTF_FILE]
Goal (issue 2): parse under 1 s and under 5x bpftool.

Figures (median of RUNS, each in a fresh BTF object so no cache carries over):
- open + index:         BTF.from_file (header checks, one pass recording every record's offset)
- parse + decode all:   BTF.from_file + every type decoded into its dataclass — the figure
                        comparable to bpftool's raw dump, which also visits every type
- first find():         building the name index on the first lookup
- to_bytes():           marshalling every type back
- whole process:        `python -c` doing "parse + decode all", interpreter start included
bpftool is timed as a whole process writing its dump to /dev/null.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

RUNS = 7


def median_time(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result  # freeing the previous run's objects is not part of the next run's time
    return statistics.median(times)


def main() -> None:
    from pybpf.btf import BTF

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "/sys/kernel/btf/vmlinux")
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

    def first_find() -> BTF:
        btf = BTF.from_file(path)
        btf.find("task_struct")
        return btf

    loaded = decode_all()
    t_bpftool = median_time(run_bpftool) if bpftool else None
    t_open = median_time(lambda: BTF.from_file(path))
    t_all = median_time(decode_all)
    t_find = median_time(first_find) - t_open
    t_marshal = median_time(loaded.to_bytes)
    code = f"from pybpf.btf import BTF\nfor _ in BTF.from_file({str(path)!r}).types(): pass"
    t_proc = median_time(lambda: subprocess.run([sys.executable, "-c", code], check=True))
    t_bpftool2 = median_time(run_bpftool) if bpftool else None  # again, after ours: load drifts
    if t_bpftool is not None and t_bpftool2 is not None:
        t_bpftool = min(t_bpftool, t_bpftool2)

    print(f"BTF file: {path} ({path.stat().st_size / 1e6:.1f} MB, {len(loaded) - 1} types); median of {RUNS}")
    print(f"  pybpf open + index          : {t_open * 1000:8.1f} ms")
    print(f"  pybpf parse + decode all    : {t_all * 1000:8.1f} ms")
    print(f"  pybpf first find() (index)  : {t_find * 1000:8.1f} ms")
    print(f"  pybpf to_bytes()            : {t_marshal * 1000:8.1f} ms")
    print(f"  pybpf whole process         : {t_proc * 1000:8.1f} ms  (python start + import + parse + decode all)")
    if t_bpftool is None:
        print("  bpftool                     : not installed, no ratio")
        return
    print(f"  bpftool dump format raw     : {t_bpftool * 1000:8.1f} ms  (whole process, output to /dev/null)")
    print(f"  ratio parse + decode all / bpftool : {t_all / t_bpftool:5.2f}x  (goal < 5x, and < 1 s)")
    print(f"  ratio open + index / bpftool       : {t_open / t_bpftool:5.2f}x")
    print(f"  ratio whole process / bpftool      : {t_proc / t_bpftool:5.2f}x")


if __name__ == "__main__":
    main()
