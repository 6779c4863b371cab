"""Where pybpf keeps its on-disk caches (compiled C objects, ``pybpf trace`` objects, vmlinux.h).

A module of its own, with no imports beyond ``os``, so that a launch path that only needs the
location (``pybpf trace`` on a cache hit) does not import the C toolchain package.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of pybpf's cache (not created here).

    ``$PYBPF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybpf``, else ``~/.cache/pybpf``.
    """
    explicit = os.environ.get("PYBPF_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "pybpf"
