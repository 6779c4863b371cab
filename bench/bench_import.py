"""`import pybpf` start-up time, against a bare interpreter start measured in the same run.

Run: .venv/bin/python bench/bench_import.py
Goal (issue 2): `python -c "import pybpf"` under 100 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 20


def best_of(code: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = best_of("pass")
    with_pybpf = best_of("import pybpf")
    print(f"python -c 'pass'          : {bare * 1000:7.1f} ms (median of {RUNS})")
    print(f"python -c 'import pybpf'  : {with_pybpf * 1000:7.1f} ms (median of {RUNS})")
    print(f"import pybpf itself       : {(with_pybpf - bare) * 1000:7.1f} ms")
    print(f"ratio to a bare start     : {with_pybpf / bare:7.2f}x   (goal: total under 100 ms)")


if __name__ == "__main__":
    main()
