"""Capture bpftrace's output for every ``*.bt`` here into ``NAME.txt`` (text) and ``NAME.json`` (-f json).

Run as root where Debian's ``bpftrace`` is installed::

    sudo .venv/bin/python tests/unit/golden_trace/regen.py

The captured files are the golden data of tests/unit/test_trace_output_golden.py;
tests/kernel/test_trace_listing_golden.py checks that they still match bpftrace.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def capture(program: Path, *extra: str) -> str:
    """bpftrace's stdout for ``program`` run quietly (no "Attaching N probes..." line)."""
    done = subprocess.run(["bpftrace", "-q", *extra, str(program)], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


def main() -> int:
    for program in sorted(HERE.glob("*.bt")):
        program.with_suffix(".txt").write_text(capture(program))
        program.with_suffix(".json").write_text(capture(program, "-f", "json"))
        print(f"captured {program.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
