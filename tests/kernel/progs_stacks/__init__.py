"""Fixtures of the stack tests: the BPF object and the gcc-built target (``from progs_stacks import ...``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pybpf
import pybpf.cc
from pybpf.spec import ObjectSpec

HERE = Path(__file__).parent


def load(target_tgid: int, *, stack_buckets: int | None = None) -> pybpf.Collection:
    """Load stacks.bpf.c with ``target_tgid`` set (and the stack map's size, if given)."""
    spec = ObjectSpec.from_file(pybpf.cc.compile(HERE / "stacks.bpf.c"))
    spec.rodata["target_tgid"] = target_tgid
    if stack_buckets is not None:
        spec.maps["stacks"].max_entries = stack_buckets
    return pybpf.load(spec)


def build_target(out: Path, *, pie: bool) -> Path:
    """target.c built with gcc -O0 -g -fno-omit-frame-pointer (-O1 shrink-wraps level3: no frame on the syscall path), as a PIE or a -no-pie executable."""
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is needed to build the stack test target (apt-get install gcc)")
    exe = out / ("target_pie" if pie else "target_nopie")
    flags = ["-pie", "-fPIE"] if pie else ["-no-pie", "-fno-pie"]
    subprocess.run(["gcc", "-O0", "-g", "-fno-omit-frame-pointer", "-Wl,--build-id",
                    *flags, "-o", str(exe), str(HERE / "target.c")], check=True, capture_output=True)
    return exe
