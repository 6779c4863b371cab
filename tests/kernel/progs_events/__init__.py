"""Fixture programs of the event reader tests and a loader for them (``from progs_events import load``)."""

from __future__ import annotations

import os
from pathlib import Path

import pybpf
import pybpf.cc
from pybpf.spec import ObjectSpec

HERE = Path(__file__).parent


def compiled(name: str) -> Path:
    """The object of ``<name>.bpf.c`` (compiled once; pybpf.cc caches by content)."""
    return pybpf.cc.compile(HERE / f"{name}.bpf.c")


def spec(name: str, **rodata: object) -> ObjectSpec:
    """The spec of ``<name>.bpf.c`` with ``target_tgid`` set to this process (when it has one)."""
    s = ObjectSpec.from_file(compiled(name))
    if "target_tgid" in s.variables:
        s.rodata["target_tgid"] = os.getpid()
    for key, value in rodata.items():
        s.rodata[key] = value
    return s


def load(name: str, **rodata: object) -> pybpf.Collection:
    """Load ``<name>.bpf.c`` with ``target_tgid`` = this process."""
    return pybpf.load(spec(name, **rodata))
