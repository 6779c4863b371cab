"""Hardware watchpoints in the kernel: a kernel address (an array map's value, written by a BPF
program run with BPF_PROG_TEST_RUN) watched on every CPU; each write runs the program."""

from __future__ import annotations

from progs_link import load

from pybpf import link
from pybpf.link.perf_event import online_cpus


def test_a_kernel_address_is_watched_on_every_cpu() -> None:
    with load("watchpoint") as obj:
        obj.programs["find"].test_run(ctx=bytes(16), repeat=0, ctx_out_size=0)
        address = int(obj.maps["where"][0])
        assert address >= 0xffff_8000_0000_0000  # a kernel address
        with link.watchpoint(obj.programs["on_hit"], address, 8, access="w") as group:
            assert len(group) == len(online_cpus())
            for _ in range(3):
                obj.programs["poke"].test_run(ctx=bytes(16), repeat=0, ctx_out_size=0)
        assert int(obj.maps["watched"][0]) == 3
        assert int(obj.maps["hits"][0]) == 3  # the increment's write (x86 watches writes only with "w")
        assert int(obj.maps["hit_addr"][0]) == address
        obj.programs["poke"].test_run(ctx=bytes(16), repeat=0, ctx_out_size=0)  # detached: not counted
        assert int(obj.maps["hits"][0]) == 3
