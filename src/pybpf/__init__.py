"""pybpf: eBPF for Python.

Curated re-exports only; submodules load on first use so ``import pybpf`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .enums import AttachType, LinkType, MapType, ProgramType
from .errors import (
    BPFError,
    BTFError,
    CompileError,
    CORError,
    ELFError,
    NotSupportedError,
    SyscallError,
    VerifierError,
)

if TYPE_CHECKING:
    from .spec import MapSpec, ObjectSpec, ProgramSpec

__version__ = "0.1.0"

_LAZY = {
    "ObjectSpec": ("pybpf.spec", "ObjectSpec"),
    "ProgramSpec": ("pybpf.spec", "ProgramSpec"),
    "MapSpec": ("pybpf.spec", "MapSpec"),
}

__all__ = [
    "AttachType", "BPFError", "BTFError", "CompileError", "CORError", "ELFError", "LinkType",
    "MapSpec", "MapType", "NotSupportedError", "ObjectSpec", "ProgramSpec", "ProgramType",
    "SyscallError", "VerifierError",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pybpf' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
