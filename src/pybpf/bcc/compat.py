"""Run scripts written for bcc: make ``import bcc`` (and ``bcc.utils``, ``bcc.table``,
``bcc.syscall``) give pybpf's modules, only while :func:`bcc_aliases` is active.

The aliases are entries in ``sys.modules`` plus a meta-path finder that turns any other
``bcc.*`` import into an ImportError naming what pybpf provides.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator, Sequence

#: bcc module name -> pybpf module that provides it
ALIASES: dict[str, str] = {
    "bcc": "pybpf.bcc",
    "bcc.utils": "pybpf.bcc.utils",
    "bcc.table": "pybpf.bcc.tables",
    "bcc.syscall": "pybpf.bcc.syscall",
    "bcc.usdt": "pybpf.bcc.usdt",
}


class _MissingBccModule(importlib.abc.MetaPathFinder):
    """Refuses ``bcc.*`` modules pybpf does not provide, with a message that says so."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("bcc.") and fullname not in ALIASES:
            raise ImportError(f"pybpf's bcc compatibility does not provide {fullname!r}; "
                              f"it provides {', '.join(sorted(ALIASES))}", name=fullname)
        return None


@contextmanager
def bcc_aliases() -> Iterator[None]:
    """While active, ``import bcc`` and its submodules give pybpf's; restores ``sys.modules`` after."""
    saved = {name: sys.modules.get(name) for name in ALIASES}
    finder = _MissingBccModule()
    for name, target in ALIASES.items():
        sys.modules[name] = importlib.import_module(target)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def run_script(path: str, argv: Sequence[str] = ()) -> None:
    """Run the bcc script at ``path`` as ``__main__`` with ``sys.argv = [path, *argv]`` and its
    directory first on ``sys.path`` (as ``python script.py`` would)."""
    import os
    import runpy

    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        with bcc_aliases():
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path


__all__ = ["ALIASES", "bcc_aliases", "run_script"]
