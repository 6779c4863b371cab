"""Differential: the programs and maps (with libbpf's names for global-data maps, in libbpf's
order) that ``bpftool gen skeleton`` (libbpf) finds in each fixture are the ones we find."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import pybpf.cc
from pybpf import ObjectSpec

PROGS = Path(__file__).parent / "progs_elf"
BPFTOOL = shutil.which("bpftool")
_NAME = re.compile(r's->(maps|progs)\[\d+\]\.name = "([^"]*)";')

pytestmark = pytest.mark.skipif(BPFTOOL is None, reason="bpftool (Debian package bpftool) is not installed")


def _skeleton_names(path: Path, name: str) -> tuple[list[str], list[str]]:
    assert BPFTOOL is not None
    out = subprocess.run([BPFTOOL, "gen", "skeleton", str(path), "name", name],
                         capture_output=True, text=True, check=True).stdout
    found: dict[str, list[str]] = {"maps": [], "progs": []}
    for kind, value in _NAME.findall(out):
        found[kind].append(value)
    return found["maps"], found["progs"]


# left out: legacy_maps (libbpf 1.x no longer reads the legacy "maps" section) and misc (libbpf
# refuses static maps, which pybpf accepts)
@pytest.mark.parametrize("source,obj_name", [
    ("globals", "globals"), ("maps", "maps"), ("subprogs", "subprogs"), ("core", "core"),
    ("sections", "sections"),
    ("globals", "a_very_long_object_name"), ("subprogs", "x"),
])
def test_same_programs_and_maps_as_libbpf(tmp_path: Path, source: str, obj_name: str) -> None:
    path = pybpf.cc.compile(PROGS / f"{source}.c", output=tmp_path / f"{obj_name}.o", include_dirs=[PROGS])
    maps, progs = _skeleton_names(path, obj_name)
    spec = ObjectSpec.from_file(path)
    assert list(spec.maps) == maps
    assert list(spec.programs) == progs
