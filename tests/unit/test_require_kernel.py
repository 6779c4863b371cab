"""PYBPF_REQUIRE_KERNEL=1 turns a skipped kernel test into a failure (CI relies on it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def run_suite(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "test_skips.py").write_text(
        "import pytest\n\ndef test_needs_feature():\n    pytest.skip('feature probe says no')\n"
    )
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_optional.py").write_text(
        "import pytest\n\ndef test_optional():\n    pytest.skip('not a kernel test')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYBPF_REQUIRE_KERNEL"}
    if require:
        env["PYBPF_REQUIRE_KERNEL"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )


def test_kernel_skip_is_a_failure_when_required(tmp_path: Path) -> None:
    proc = run_suite(tmp_path, require=True)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed" in proc.stdout and "1 skipped" in proc.stdout
    assert "skipped while PYBPF_REQUIRE_KERNEL=1" in proc.stdout


def test_kernel_skip_stays_a_skip_otherwise(tmp_path: Path) -> None:
    proc = run_suite(tmp_path, require=False)
    assert proc.returncode == 0, proc.stdout
    assert "2 skipped" in proc.stdout
