"""Clang-built eBPF ELF objects -> :class:`pybpf.spec.ObjectSpec` (pure data, no syscalls).

    spec = pybpf.elf.load_object("prog.bpf.o")
    spec.programs["handle_exec"].type      # ProgramType.TRACEPOINT

:mod:`pybpf.elf.reader` is the checked ELF view (sections, symbols, relocations);
:mod:`pybpf.elf.sections` the libbpf section-name table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .reader import ElfObject

if TYPE_CHECKING:
    from .loader import load_object, load_object_bytes

__all__ = ["ElfObject", "load_object", "load_object_bytes"]


def __getattr__(name: str) -> Any:
    if name in ("load_object", "load_object_bytes"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'pybpf.elf' has no attribute {name!r}")
