"""Sizes the loader fills in like libbpf when an object leaves them out."""

from __future__ import annotations

import pybpf
import pybpf.cc
from pybpf import _sys

SOURCE = r"""
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} events SEC(".maps");

SEC("socket") int emit(void *ctx)
{
	long v = 42;
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &v, sizeof(v));
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_perf_event_array_without_max_entries_gets_one_slot_per_cpu() -> None:
    spec = pybpf.ObjectSpec.from_file(pybpf.cc.compile(SOURCE))
    assert spec.maps["events"].max_entries == 0
    with pybpf.load(spec) as obj:
        assert obj.maps["events"].info().max_entries == _sys.possible_cpus()
