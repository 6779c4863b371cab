"""Fixture programs of the link tests and a loader for them (``from progs_link import load``)."""

from __future__ import annotations

from pathlib import Path

from _fixture_progs import FixturePrograms

HERE = Path(__file__).parent
_PROGS = FixturePrograms(HERE)
compiled = _PROGS.compiled
spec = _PROGS.spec
load = _PROGS.load

__all__ = ["HERE", "compiled", "load", "spec"]
