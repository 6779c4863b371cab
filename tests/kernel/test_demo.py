"""The README's demo traces real execs: the commands it runs itself must show up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo_reports_the_execs_it_triggers() -> None:
    proc = subprocess.run([sys.executable, str(DEMO), "--seconds", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "== pybpf spec" in out and "trace_execve" in out
    assert "r0 = " in out or "w0 = " in out  # the disassembly
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(("/uname", "/date", "/ls"))]
    assert any(row[-1].endswith("/uname") for row in rows), out
    assert any(row[-1].endswith("/date") for row in rows), out
    assert "lost events: 0" in out
