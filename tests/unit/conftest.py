"""Fixtures shared by the unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybpf.cc import driver


@pytest.fixture
def cc_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty pybpf.cc cache directory (``PYBPF_CACHE_DIR``) for this test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(root))
    return root


@pytest.fixture
def compiler_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every compiler command pybpf.cc.compile runs from now on (PCH builds are not in it)."""
    seen: list[list[str]] = []
    real = driver._run_compiler

    def spy(cmd: list[str]) -> Any:
        seen.append(cmd)
        return real(cmd)

    monkeypatch.setattr(driver, "_run_compiler", spy)
    return seen
