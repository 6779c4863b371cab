"""tracefs dynamic events: what the uprobe/kprobe fallbacks write must reach the kernel."""

from __future__ import annotations

import os

from pybpf import tracefs


def test_uprobe_event_is_added_and_removed() -> None:
    name = f"pybpf_test_{os.getpid()}/true_entry"
    tracefs.write_dynamic_event("uprobe_events", f"p:{name} /bin/true:0x1000")
    try:
        assert any(line.startswith(f"p:{name} /bin/true:") for line in tracefs.dynamic_events("uprobe_events"))
        category, event = name.split("/")
        assert tracefs.tracepoint_id(category, event) > 0
    finally:
        tracefs.write_dynamic_event("uprobe_events", f"-:{name}")
    assert not any(name in line for line in tracefs.dynamic_events("uprobe_events"))
