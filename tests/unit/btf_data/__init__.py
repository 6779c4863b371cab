"""C sources for the BTF tests and a helper that compiles them once per test session."""

from __future__ import annotations

import functools
from pathlib import Path

from elftools.elf.elffile import ELFFile

HERE = Path(__file__).parent


@functools.cache
def compiled(name: str) -> Path:
    """Compile ``btf_data/<name>.bpf.c`` with pybpf.cc (clang -O2 -g; cached) and return the object's path."""
    from pybpf.cc import compile as cc

    return cc(HERE / f"{name}.bpf.c")


def section(obj: Path, name: str) -> bytes:
    """The raw bytes of ELF section ``name`` of ``obj``."""
    with open(obj, "rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        assert sec is not None, f"{obj} has no {name}"
        return bytes(sec.data())


def source_lines(name: str) -> list[str]:
    """The lines of ``btf_data/<name>.bpf.c`` (index 0 is line 1)."""
    return (HERE / f"{name}.bpf.c").read_text().splitlines()
