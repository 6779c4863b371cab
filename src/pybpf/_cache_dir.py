"""Where pybpf keeps its on-disk caches (compiled C objects, ``pybpf trace`` objects, vmlinux.h).

A module of its own, with no imports beyond ``os``, so that a launch path that only needs the
location (``pybpf trace`` on a cache hit) does not import the C toolchain package.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not ``typing``'s: importing it costs ~8 ms of a ``pybpf trace`` start-up
if TYPE_CHECKING:
    from pathlib import Path


def cache_dir() -> Path:
    """The root of pybpf's cache (not created here).

    ``$PYBPF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybpf``, else ``~/.cache/pybpf``.
    """
    from pathlib import Path

    return Path(cache_dir_name())


def cache_dir_name() -> str:
    """:func:`cache_dir` as a string (a ``pybpf trace`` launch reads its cache without pathlib)."""
    explicit = os.environ.get("PYBPF_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache"), "pybpf")
