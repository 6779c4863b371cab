"""The golden map outputs in tests/unit/golden_trace/ still are what bpftrace prints here.

tests/unit/test_trace_output_golden.py compares our printing with these files; this test
re-runs each ``*.bt`` with Debian's bpftrace (text and ``-f json``) and compares with the stored
capture, so the golden data cannot drift from the real tool.
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("suffix", "flags"), [(".txt", []), (".json", ["-f", "json"])])
def test_pybpf_trace_prints_what_bpftrace_printed(case: str, suffix: str, flags: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The whole pipeline (parse, analyse, codegen, load, run, print) on the golden programs."""
    from pybpf.cli import main

    assert main(["trace", "-q", *flags, str(GOLDEN / f"{case}.bt")]) == 0
    expected = (GOLDEN / f"{case}{suffix}").read_text()
    for d in json.loads((GOLDEN / "deviations.json").read_text()):
        if (d["case"], d["suffix"]) == (case, suffix):
            expected = expected.replace(d["theirs"], d["ours"])
    assert capsys.readouterr().out == expected
