"""Compile, configure and load the ``<name>.bpf.c`` fixture programs of one ``progs_*`` folder.

Shared by the ``progs_*`` packages: ``FixturePrograms(Path(__file__).parent)`` gives their
``compiled`` / ``spec`` / ``load`` helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pybpf
import pybpf.cc
from pybpf.spec import ObjectSpec


class FixturePrograms:
    """The fixture programs of the folder ``here``."""

    def __init__(self, here: Path) -> None:
        self.here = here

    def compiled(self, name: str) -> Path:
        """The object of ``<name>.bpf.c`` (compiled once; pybpf.cc caches by content)."""
        return pybpf.cc.compile(self.here / f"{name}.bpf.c")

    def spec(self, name: str, **rodata: object) -> ObjectSpec:
        """The spec of ``<name>.bpf.c`` with ``target_tgid`` set to this process (when it has one)."""
        s = ObjectSpec.from_file(self.compiled(name))
        if "target_tgid" in s.variables:
            s.rodata["target_tgid"] = os.getpid()
        for key, value in rodata.items():
            s.rodata[key] = value
        return s

    def load(self, name: str, **rodata: object) -> pybpf.Collection:
        """Load ``<name>.bpf.c`` with ``target_tgid`` = this process."""
        return pybpf.load(self.spec(name, **rodata))
