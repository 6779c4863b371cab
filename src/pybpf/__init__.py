"""pybpf: eBPF for Python.

Curated re-exports only; submodules load on first use so ``import pybpf`` stays fast.
"""

from __future__ import annotations

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

#: ``typing`` costs ~8 ms at start-up (with ``re``, ``enum``, ``collections``...): mypy reads this name
#: as true, so the names below exist for it, and at run time they come from ``__getattr__``
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .enums import AttachType, LinkType, MapType, ProgramType
    from .spec import MapSpec, ObjectSpec, ProgramSpec

__version__ = "0.1.0"

_LAZY = {
    # the enums import ``enum`` (~3 ms), which ``pybpf trace`` on a cache hit does not need
    "AttachType": ("pybpf.enums", "AttachType"),
    "LinkType": ("pybpf.enums", "LinkType"),
    "MapType": ("pybpf.enums", "MapType"),
    "ProgramType": ("pybpf.enums", "ProgramType"),
    "ObjectSpec": ("pybpf.spec", "ObjectSpec"),
    "ProgramSpec": ("pybpf.spec", "ProgramSpec"),
    "MapSpec": ("pybpf.spec", "MapSpec"),
    "load": ("pybpf.collection", "load"),
    "Collection": ("pybpf.collection", "Collection"),
    "Program": ("pybpf.program", "Program"),
    "Map": ("pybpf.map", "Map"),
    "Link": ("pybpf.link", "Link"),
    "programs": ("pybpf.loader.inventory", "programs"),
    # pybpf.maps is the live-map package, so the map listing is named loaded_maps()
    "loaded_maps": ("pybpf.loader.inventory", "maps"),
    "links": ("pybpf.loader.inventory", "links"),
}

__all__ = [
    "AttachType", "BPFError", "BTFError", "Collection", "CompileError", "CORError", "ELFError", "Link", "LinkType",
    "Map", "Program", "links", "load", "loaded_maps", "programs",
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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
