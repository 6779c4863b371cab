"""``pybpf trace -l``: patterns, providers and ``-lv`` over fixed listing sources."""

from __future__ import annotations

import pytest

from pybpf.trace.runtime.listing import ListingError, ListingSources, list_probes, probe_listing

FIELDS = {
    ("sched", "sched_switch"): ["char prev_comm[16]", "pid_t prev_pid"],
    ("sched", "sched_wakeup"): ["char comm[16]", "pid_t pid"],
    ("syscalls", "sys_enter_openat"): ["int __syscall_nr", "const char * filename"],
}


def sources(refusal: str | None = None) -> ListingSources:
    return ListingSources(
        tracepoints=lambda: list(reversed(FIELDS)),
        tracepoint_fields=lambda c, n: FIELDS[(c, n)],
        binary_functions=lambda path: {"/bin/x": ["readline", "main", "readline", "read_it"]}[path],
        usdt_probes=lambda path: [("py", "function__entry"), ("py", "gc__start")],
        kernel_functions=lambda: ["vfs_read", "vfs_write"],
        fentry_refusal=lambda: refusal,
        kprobe_functions=lambda: ["vfs_read", "do_sys_open"],
        software_events=("cpu-clock", "page-faults"), hardware_events=("cycles",), iter_targets=("task",),
    )


def test_tracepoints_sorted_with_aliases() -> None:
    assert list_probes("tracepoint:sched:*", sources=sources()) == [
        "tracepoint:sched:sched_switch", "tracepoint:sched:sched_wakeup"]
    assert list_probes("t:sched:sched_sw*", sources=sources()) == ["tracepoint:sched:sched_switch"]


def test_verbose_lists_fields_indented_by_four() -> None:
    assert list_probes("t:syscalls:sys_enter_openat", verbose=True, sources=sources()) == [
        "tracepoint:syscalls:sys_enter_openat", "    int __syscall_nr", "    const char * filename"]


def test_pattern_without_provider_matches_full_names() -> None:
    assert list_probes("*sched_switch*", sources=sources()) == ["tracepoint:sched:sched_switch"]
    assert list_probes("*vfs_read*", sources=sources()) == ["kprobe:vfs_read"]


def test_no_pattern_lists_every_default_provider() -> None:
    lines = list_probes(None, sources=sources())
    assert lines[:3] == ["tracepoint:sched:sched_switch", "tracepoint:sched:sched_wakeup",
                         "tracepoint:syscalls:sys_enter_openat"]
    assert "software:cpu-clock:" in lines and "hardware:cycles:" in lines and "iter:task" in lines
    assert "kprobe:do_sys_open" in lines


def test_uprobe_lists_unique_functions_of_the_binary() -> None:
    assert list_probes("uprobe:/bin/x:read*", sources=sources()) == [
        "uprobe:/bin/x:read_it", "uprobe:/bin/x:readline"]
    assert list_probes("ur:/bin/x:main", sources=sources()) == ["uretprobe:/bin/x:main"]


def test_uprobe_without_binary_says_how() -> None:
    with pytest.raises(ListingError, match="uprobe:/path/to/binary:PATTERN"):
        list_probes("uprobe:read*", sources=sources())


def test_usdt_probes_of_a_binary() -> None:
    assert list_probes("usdt:/bin/x", sources=sources()) == [
        "usdt:/bin/x:py:function__entry", "usdt:/bin/x:py:gc__start"]
    assert list_probes("usdt:/bin/x:*gc*", sources=sources()) == ["usdt:/bin/x:py:gc__start"]


def test_btf_functions_marked_when_fentry_cannot_attach() -> None:
    ok = probe_listing("kfunc:vfs_*", sources=sources())
    assert ok.lines == ["fentry:vfs_read", "fentry:vfs_write"] and ok.remarks == []
    refused = probe_listing("fexit:vfs_read", sources=sources("no trampoline"))
    assert refused.lines == ["fexit:vfs_read  (not attachable on this kernel)"]
    assert refused.remarks == ["fexit probes cannot be attached on this kernel: no trampoline; "
                               "use a tracepoint or a kprobe instead"]


def test_unlistable_provider_is_an_error() -> None:
    with pytest.raises(ListingError, match="cannot be listed"):
        list_probes("interval:*", sources=sources())
