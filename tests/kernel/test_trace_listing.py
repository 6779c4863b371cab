"""``pybpf trace -l`` against Debian's ``bpftrace -l`` on this machine (skipped without bpftrace)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pybpf.trace.runtime.listing import list_probes

BPFTRACE = shutil.which("bpftrace")
needs_bpftrace = pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed (apt install bpftrace)")


def bpftrace_list(*args: str) -> list[str]:
    assert BPFTRACE is not None
    done = subprocess.run([BPFTRACE, *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


@needs_bpftrace
@pytest.mark.parametrize("pattern", ["tracepoint:sched:*", "t:syscalls:sys_enter_open*", "tracepoint:*",
                                     "*sched_switch*", "tracepoint:block:block_rq_*"])
def test_tracepoint_listing_matches_bpftrace(pattern: str) -> None:
    ours = list_probes(pattern)
    theirs = [line for line in bpftrace_list("-l", pattern) if line.startswith("tracepoint:")]
    assert ours == theirs and ours


@needs_bpftrace
@pytest.mark.parametrize("pattern", ["tracepoint:sched:sched_switch", "tracepoint:syscalls:sys_enter_openat",
                                     "tracepoint:block:block_rq_issue", "t:net:net_dev_*"])
def test_verbose_tracepoint_args_match_bpftrace(pattern: str) -> None:
    assert list_probes(pattern, verbose=True) == bpftrace_list("-lv", pattern)


@needs_bpftrace
@pytest.mark.parametrize("pattern", ["uprobe:/bin/bash:*", "uprobe:/bin/bash:readl*"])
def test_uprobe_listing_matches_bpftrace(pattern: str) -> None:
    ours = list_probes(pattern)
    assert ours == bpftrace_list("-l", pattern) and ours


@needs_bpftrace
def test_iter_targets_include_bpftraces() -> None:
    assert set(bpftrace_list("-l", "iter:*")) <= set(list_probes("iter:*"))
