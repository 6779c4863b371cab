"""Package attributes imported on first use (PEP 562): a package re-exports names from
submodules that are costly to import (pyelftools, llvmlite, numpy...) without paying for them
at ``import`` time. Deliberately free of imports itself."""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: this module is imported at start-up, typing costs ~8 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_attributes(package: str, submodules: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``submodules`` maps an attribute name to the
    relative submodule defining it; the first access imports it and stores the value in
    ``namespace`` (the package's ``globals()``), so later accesses are plain lookups."""

    def __getattr__(name: str) -> Any:
        module = submodules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
