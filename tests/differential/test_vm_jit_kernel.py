"""Interpreter, JIT and the kernel agree on generated programs: same retval, same data_out (every
register and stack slot the program ends with), same hash-map contents.

The programs come from VM-CORE's generator (test_vm_kernel_random: ALU incl. div/mod/sdiv/smod,
shifts, byte swaps, movsx, stack loads/stores of every size, atomics incl. fetch/xchg/cmpxchg,
forward jumps, jmp32, bpf_csum_diff, map operations, BPF-to-BPF calls), drawn by hypothesis.
A JIT compile costs tens of milliseconds, so the default is ``PYBPF_VM_JIT_DIFF_EXAMPLES`` x
``PYBPF_VM_JIT_DIFF_BATCH`` = 10 x 25 programs; raise both for a longer run.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_vm_kernel_random as gen  # VM-CORE's program generator (tests/differential is on sys.path)
from pybpf import _sys
from pybpf.enums import MapType, ProgramType
from pybpf.errors import VerifierError
from pybpf.isa import encode

pytestmark = pytest.mark.kernel

BATCH = int(os.environ.get("PYBPF_VM_JIT_DIFF_BATCH", "25"))
EXAMPLES = int(os.environ.get("PYBPF_VM_JIT_DIFF_EXAMPLES", "10"))
COUNTS = {"programs": 0, "runs": 0}


@pytest.fixture(scope="module", autouse=True)
def _needs_the_jit_and_the_kernel() -> None:
    from pybpf.vm import jit

    if not jit.available():
        pytest.skip(f"no JIT tier: {jit.unavailable_reason()}")
    if os.geteuid() != 0:
        pytest.skip("BPF_PROG_TEST_RUN needs root")


def _vm(tier: str, insns: list, seed: int) -> tuple[object, object, object]:
    from pybpf.vm import Runtime, program_from_instructions
    from pybpf.vm.maps import create_map

    rt = Runtime(log_trace=False)
    rt.tier = tier  # type: ignore[attr-defined]
    handle = rt.new_handle()
    vmap = rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 8)
    prog = program_from_instructions(gen.with_map(insns, handle), ProgramType.XDP, name=f"gen{seed}", runtime=rt)
    return rt, vmap, prog


def check_program(seed: int) -> None:
    from pybpf.map import Map
    from pybpf.vm.jit import Tier, tier_of

    insns = gen.generate(seed)
    kmap = Map.create(MapType.HASH, 4, 8, 8)
    try:
        fd = _sys.prog_load(ProgramType.XDP, encode(gen.with_map(insns, kmap.fileno())), "GPL")
    except VerifierError as exc:
        kmap.close()
        raise AssertionError(f"seed {seed}: the verifier rejected a generated program:\n{exc.log[-2000:]}") from None
    _, imap, iprog = _vm("interpreter", insns, seed)
    _, jmap, jprog = _vm("jit", insns, seed)
    assert tier_of(jprog) == Tier.JIT, f"seed {seed}: the JIT fell back to the interpreter"
    rnd = random.Random(seed ^ 0x5EED)
    with fd, kmap:
        for _ in range(gen.INPUTS):
            data = gen.random_input(rnd)
            want = _sys.prog_test_run(fd, data=data, repeat=1)
            got_i = iprog.test_run(data)  # type: ignore[attr-defined]
            got_j = jprog.test_run(data)  # type: ignore[attr-defined]
            assert (got_j.retval, got_j.data_out) == (want.retval, want.data_out), (
                f"seed {seed}: JIT and kernel differ\n{gen._diff(got_j.data_out, want.data_out)}\n"
                f"retval jit={got_j.retval:#x} kernel={want.retval:#x}\n{jprog.source}"  # type: ignore[attr-defined]
            )
            assert (got_i.retval, got_i.data_out) == (want.retval, want.data_out), f"seed {seed}: interpreter differs"
            COUNTS["runs"] += 1
        kernel_map = dict(kmap.items())
        assert dict(jmap.items()) == kernel_map, f"seed {seed}: the JIT's hash map differs from the kernel's"  # type: ignore[attr-defined]
        assert dict(imap.items()) == kernel_map, f"seed {seed}: the interpreter's hash map differs"  # type: ignore[attr-defined]
    COUNTS["programs"] += 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(min_value=0, max_value=2**48))
def test_generated_programs_match_in_all_three(seed: int) -> None:
    for i in range(BATCH):
        check_program(seed * 1000 + i)


def test_report_count() -> None:
    """Run last in this module: how many programs were compared (shown with -s / -rA)."""
    print(f"interpreter vs JIT vs kernel: {COUNTS['programs']} programs, {COUNTS['runs']} runs compared")
    assert COUNTS["programs"] > 0 or EXAMPLES * BATCH == 0
