"""The parts of the system outside bpf() that attach kinds depend on: perf PMUs, tracefs, ELF entry.

Read-only: nothing here mounts, writes or changes the system.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where the kernel lists dynamic perf PMUs (kprobe, uprobe, tracepoint, ...).
PMU_DIR = Path("/sys/bus/event_source/devices")
#: Where tracefs usually lives when mounted (first match in /proc/mounts wins).
TRACEFS_DEFAULT = Path("/sys/kernel/tracing")


def pmu_type(name: str) -> int | None:
    """The perf ``type`` number of the dynamic PMU ``name`` (``kprobe``, ``uprobe``), or None if absent."""
    try:
        return int((PMU_DIR / name / "type").read_text().strip())
    except (OSError, ValueError):
        return None


def tracefs_dir() -> Path | None:
    """The mounted tracefs directory, or None (never mounts: probes only look)."""
    from ..tracefs import mounted_dir

    return mounted_dir()


def filesystem_known(fstype: str) -> bool:
    """Does this kernel know the filesystem type (``/proc/filesystems``), mounted or not?"""
    try:
        return any(line.split()[-1] == fstype for line in Path("/proc/filesystems").read_text().splitlines() if line.strip())
    except OSError:
        return False


def tracefs_note() -> str:
    """Where tracefs is, or how to get it."""
    where = tracefs_dir()
    if where is not None:
        return f"tracefs is mounted at {where}"
    if filesystem_known("tracefs"):
        return f"tracefs is not mounted (mount -t tracefs nodev {TRACEFS_DEFAULT})"
    return "the kernel has no tracefs (CONFIG_TRACING is off)"


def entry_offset(path: str) -> int:
    """The file offset of the ELF entry point of ``path`` (an instruction boundary, for uprobes)."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        entry = elf.header["e_entry"]
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= entry < seg["p_vaddr"] + seg["p_filesz"]:
                return int(entry - seg["p_vaddr"] + seg["p_offset"])
    raise ValueError(f"{path}: the entry point is in no PT_LOAD segment")


def own_executable() -> str:
    """The real path of this process's executable (a file every uprobe probe can target)."""
    return os.path.realpath("/proc/self/exe")
