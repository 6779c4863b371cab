"""Mounted filesystems (``/proc/mounts``): where tracefs, debugfs or the cgroup v2 hierarchy live."""

from __future__ import annotations

import os
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
    by_fs: dict[str, Path] = {}
    with open(mounts, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                by_fs.setdefault(fields[2], Path(_unescape(fields[1])))
    return by_fs


__all__ = ["PROC_MOUNTS", "mount_points"]
