"""Load time of the fixture objects: pybpf.load against `bpftool prog loadall`, same run.

Run (root): .venv/bin/python bench/bench_load.py
Goal (issue 3): pybpf under 1.5x bpftool.

For every fixture object that both tools load as it is, the median of RUNS:
- bpftool:          `bpftool prog loadall OBJ /sys/fs/bpf/<dir>` as a whole process (libbpf parses
                    the ELF, loads BTF, creates maps, loads and pins every program); the pins are
                    removed after each run, outside the timing
- pybpf:            `pybpf.load(OBJ)` then `close()` in this process: ELF parse, BTF, maps,
                    programs (the kernel BTF and the feature probes are cached after the warm-up,
                    as they would be in a long-running tool)
- pybpf process:    `python -c "pybpf.load(OBJ)"` as a whole process, for the cold figure
                    (interpreter start, imports and parsing the kernel BTF included)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUNS = 9
ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *(ROOT / "tests/differential/progs" / f"{n}.c" for n in (
        "alu32", "callback", "global_data", "jmp32", "ld_abs", "license", "maps_btf", "maps_legacy",
        "memcpy", "ringbuf", "sext_loads", "stack", "subprogs", "switch", "tail_call", "xdp_parse")),
    *sorted((ROOT / "tests/unit/progs_cc").glob("*.bpf.c")),
    *(ROOT / "tests/kernel/progs_load" / f"{n}.bpf.c" for n in ("tail", "globals_rt", "core_task")),
]
PIN_DIR = Path("/sys/fs/bpf") / f"pybpf_bench_load_{os.getpid()}"


def median_time(fn: Callable[[], object], after: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        after()
    return statistics.median(times)


def compile_all(out: Path) -> list[Path]:
    import pybpf.cc

    objs = []
    for src in SOURCES:
        inc = [src.parent] + ([src.parent / "include"] if (src.parent / "include").is_dir() else [])
        first = src.read_text().splitlines()[0]
        flags = [f"-mcpu={first.split()[-1]}"] if first.startswith("// cpus:") else []
        objs.append(pybpf.cc.compile(src, output=out / f"{src.name.split('.')[0]}.o", include_dirs=inc, cflags=flags))
    return objs


def main() -> None:
    import pybpf

    bpftool = shutil.which("bpftool")
    if bpftool is None or os.geteuid() != 0:
        sys.exit("needs root and bpftool (Debian package bpftool)")
    with tempfile.TemporaryDirectory() as tmp:
        objs = compile_all(Path(tmp))
        pybpf.load(objs[0]).close()  # warm-up: kernel BTF, feature probes
        rows = []
        for obj in objs:
            def run_bpftool(obj: Path = obj) -> None:
                subprocess.run([bpftool, "prog", "loadall", str(obj), str(PIN_DIR)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def unpin() -> None:
                shutil.rmtree(PIN_DIR, ignore_errors=True)

            def run_pybpf(obj: Path = obj) -> None:
                pybpf.load(obj).close()

            def run_process(obj: Path = obj) -> None:
                subprocess.run([sys.executable, "-c", f"import pybpf; pybpf.load({str(obj)!r}).close()"], check=True)

            try:
                run_bpftool()
            except subprocess.CalledProcessError:
                print(f"{obj.stem}: bpftool refuses it (libbpf strict mode); not compared", file=sys.stderr)
                continue
            finally:
                unpin()
            t_tool = median_time(run_bpftool, unpin)
            t_py = median_time(run_pybpf)
            t_proc = median_time(run_process)
            rows.append((obj.stem, t_tool, t_py, t_proc))
    print(f"{'object':<16}{'bpftool ms':>12}{'pybpf ms':>12}{'ratio':>8}{'pybpf process ms':>18}{'ratio':>8}")
    for name, tool, py, proc in rows:
        print(f"{name:<16}{tool * 1e3:>12.2f}{py * 1e3:>12.2f}{py / tool:>8.2f}{proc * 1e3:>18.1f}{proc / tool:>8.2f}")
    tool_sum, py_sum, proc_sum = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"{'total':<16}{tool_sum * 1e3:>12.2f}{py_sum * 1e3:>12.2f}{py_sum / tool_sum:>8.2f}"
          f"{proc_sum * 1e3:>18.1f}{proc_sum / tool_sum:>8.2f}")
    print(f"goal: pybpf under 1.5x bpftool -> {'met' if py_sum / tool_sum < 1.5 else 'NOT met'} "
          f"({py_sum / tool_sum:.2f}x in process, {proc_sum / tool_sum:.2f}x as a fresh process)")


if __name__ == "__main__":
    main()
