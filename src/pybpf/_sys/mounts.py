"""Mounted filesystems (``/proc/mounts``): where tracefs, debugfs or the cgroup v2 hierarchy live."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: The kernel's table of this process's mounts.
PROC_MOUNTS = "/proc/mounts"


def _unescape(field: str) -> str:
    """A mount point as written in /proc/mounts (a space there is ``\\040``)."""
    return field.replace("\\040", " ")


def mount_points(mounts: str | os.PathLike[str] = PROC_MOUNTS) -> dict[str, Path]:
    """The first mount point of each filesystem type in ``mounts`` (``{"cgroup2": Path(...), ...}``).

    Raises :class:`OSError` when the table cannot be read.
    """
    from pathlib import Path

    return {fs: Path(where) for fs, where in mount_dirs(mounts).items()}


def mount_dirs(mounts: str | os.PathLike[str] = PROC_MOUNTS) -> dict[str, str]:
    """:func:`mount_points` as strings (what a ``pybpf trace`` launch reads, without pathlib)."""
    by_fs: dict[str, str] = {}
    with open(mounts, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                by_fs.setdefault(fields[2], _unescape(fields[1]))
    return by_fs


__all__ = ["PROC_MOUNTS", "mount_dirs", "mount_points"]
