"""The golden map outputs in tests/unit/golden_trace/ still are what bpftrace prints here.

tests/unit/test_trace_output_golden.py compares our printing with these files; this test
re-runs each ``*.bt`` with Debian's bpftrace (text and ``-f json``) and compares with the stored
capture, so the golden data cannot drift from the real tool.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parents[1] / "unit" / "golden_trace"
CASES = sorted(p.stem for p in GOLDEN.glob("*.bt"))
BPFTRACE = shutil.which("bpftrace")


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed (apt install bpftrace)")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("suffix", "flags"), [(".txt", []), (".json", ["-f", "json"])])
def test_captured_output_matches_bpftrace(case: str, suffix: str, flags: list[str]) -> None:
    assert BPFTRACE is not None
    done = subprocess.run([BPFTRACE, "-q", *flags, str(GOLDEN / f"{case}.bt")], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout == (GOLDEN / f"{case}{suffix}").read_text()
