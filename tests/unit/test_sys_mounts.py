"""pybpf._sys.mounts: the /proc/mounts table read once for tracefs and cgroup v2 discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf._sys.mounts import mount_points


def test_first_mount_of_each_type_with_escaped_spaces(tmp_path: Path) -> None:
    table = tmp_path / "mounts"
    table.write_text(
        "tracefs /sys/kernel/tracing tracefs rw 0 0\n"
        "cgroup2 /my\\040cgroups cgroup2 rw 0 0\n"
        "cgroup2 /second cgroup2 rw 0 0\n"
        "short line\n"
    )
    found = mount_points(table)
    assert found["cgroup2"] == Path("/my cgroups")
    assert found["tracefs"] == Path("/sys/kernel/tracing")
    assert "line" not in found


def test_unreadable_table_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        mount_points(tmp_path / "missing")
