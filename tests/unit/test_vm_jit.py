"""The JIT tier gives the interpreter's results: the rule table of test_vm_semantics, VM-CORE's
program tests re-run in the JIT, arbitrary programs compared tier against tier (r0, packet,
maps, and the exact VMError), wild pointers that must fault instead of touching the host, and
how the tier is chosen."""

from __future__ import annotations

import inspect
import logging
import struct
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_vm_fuzz as fuzz  # VM-CORE's instruction strategy (tests/unit is on sys.path)
import test_vm_maps as maps_tests
import test_vm_semantics as sem
from pybpf.enums import MapType, ProgramType
from pybpf.errors import InstructionError
from pybpf.isa import Instruction, assemble, decode
from pybpf.vm import Runtime, VMError, jit, program_from_instructions
from pybpf.vm.jit import HOT_RUNS, Tier, tier_of, use_tier
from pybpf.vm.maps import create_map

pytestmark = pytest.mark.skipif(not jit.available(), reason=f"no JIT tier: {jit.unavailable_reason()}")

M64 = (1 << 64) - 1


@pytest.fixture
def jitted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run the test in the JIT tier; the list collects the names of the programs it compiled."""
    from pybpf.vm.jit import binding

    names: list[str] = []
    real = binding.bind_program

    def spy(native: Any, name: str, *args: Any) -> Any:
        names.append(name)
        return real(native, name, *args)

    monkeypatch.setattr(binding, "bind_program", spy)
    with use_tier(Tier.JIT):
        yield names


# ---- VM-CORE's semantics, rule by rule, in the JIT ------------------------------------------

@pytest.mark.parametrize("name", list(sem.CASES))
def test_rule_in_the_jit(name: str, jitted: list[str]) -> None:
    text, expected = sem.CASES[name]
    prog = program_from_instructions(assemble(text + "\nexit"), ProgramType.SOCKET_FILTER)
    assert prog.run() == expected
    assert tier_of(prog) == Tier.JIT


def _module_tests(module: Any) -> list[Callable[..., None]]:
    return [fn for name, fn in sorted(vars(module).items())
            if name.startswith("test_") and callable(fn) and not hasattr(fn, "pytestmark")
            and set(inspect.signature(fn).parameters) <= {"obj_path"}]


@pytest.mark.parametrize("test", _module_tests(sem) + _module_tests(maps_tests), ids=lambda f: f.__name__)
def test_vm_core_program_tests_in_the_jit(test: Callable[..., None], jitted: list[str], tmp_path: Path) -> None:
    """Each program-running test of test_vm_semantics / test_vm_maps passes with JIT-compiled code."""
    kwargs = {}
    if "obj_path" in inspect.signature(test).parameters:
        from pybpf.cc import compile as cc_compile

        kwargs["obj_path"] = Path(cc_compile(maps_tests.PROGS / "features.bpf.c"))
    test(**kwargs)


def test_vm_core_tests_really_ran_jitted_code(jitted: list[str]) -> None:
    sem.test_bpf_to_bpf_call_frames()
    sem.test_tail_calls_stop_after_33()
    sem.test_bpf_loop_calls_back()
    assert len(jitted) >= 3


# ---- tier against tier on arbitrary programs ---------------------------------------------

def _outcome(insns: list[Instruction], tier: Tier, prog_type: ProgramType, data: bytes) -> tuple[Any, ...]:
    rt = Runtime(log_trace=False, seed=1)
    handle = rt.new_handle()
    rt.maps[handle] = create_map(rt.memory, handle, MapType.ARRAY, 4, 16, 2)
    rt.tier = tier  # type: ignore[attr-defined]
    prog = program_from_instructions(insns, prog_type, runtime=rt)
    ctx = bytes(64) if prog_type == ProgramType.RAW_TRACEPOINT else None
    try:
        res = prog.test_run(data, ctx=ctx)
        outcome: tuple[Any, ...] = ("ok", res.retval, res.data_out, res.ctx_out)
    except VMError as exc:
        outcome = ("error", str(exc), exc.pc, exc.address)
    return outcome + (dict(rt.maps[handle].items()), bytes(rt.memory.bufs[3]))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(fuzz._slot, min_size=1, max_size=20),
       st.sampled_from([ProgramType.XDP, ProgramType.SOCKET_FILTER, ProgramType.RAW_TRACEPOINT]),
       st.binary(min_size=14, max_size=80))
def test_arbitrary_programs_agree_between_tiers(slots: list[tuple[int, int, int, int, int]],
                                                prog_type: ProgramType, data: bytes) -> None:
    """Arbitrary instruction bytes (no verifier): same r0, packet, stack, map, or the same VMError."""
    raw = b"".join(struct.pack("<BBhi", op, (src << 4) | dst, off, imm) for op, dst, src, off, imm in slots)
    raw += struct.pack("<BBhi", 0x95, 0, 0, 0)
    try:
        insns = decode(raw)
    except InstructionError:
        return
    try:
        want = _outcome(insns, Tier.INTERPRETER, prog_type, data)
    except Exception:  # noqa: BLE001 - an interpreter defect on this input (VM-CORE's fuzz test covers it)
        return
    assert _outcome(insns, Tier.JIT, prog_type, data) == want


# ---- bounds: wild pointers fault in both tiers, with the same error -----------------------

_ADDRESSES = st.one_of(
    st.integers(0, M64),
    st.sampled_from([0, 8, (1 << 32) - 1, 1 << 32, (2 << 32) - 4, 2 << 32, (3 << 32) + 508, (3 << 32) + 512,
                     (10 << 32) + 512, (11 << 32), (12 << 32), (0xFFFF << 32), (0x10000 << 32), M64 - 3]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_ADDRESSES, st.integers(-32768, 32767), st.sampled_from(["u8", "u16", "u32", "u64"]),
       st.sampled_from(["load", "store", "atomic"]))
def test_wild_pointers_never_touch_the_host(addr: int, off: int, size: str, kind: str) -> None:
    body = {
        "load": f"r0 = *({size} *)(r1 {off:+d})",
        "store": f"*({size} *)(r1 {off:+d}) = r2",
        "atomic": f"lock *({size} *)(r1 {off:+d}) += r2" if size in ("u32", "u64") else f"r0 = *({size} *)(r1 {off:+d})",
    }[kind]
    insns = assemble(f"r1 = {addr} ll\nr2 = 0x1122334455667788 ll\n{body}\nexit")
    assert _outcome(insns, Tier.JIT, ProgramType.XDP, bytes(64)) == \
        _outcome(insns, Tier.INTERPRETER, ProgramType.XDP, bytes(64))


def test_region_table_follows_a_new_packet(jitted: list[str]) -> None:
    """A packet region replaced between runs is re-checked: a store that fit the old, longer
    packet faults on the shorter one."""
    prog = program_from_instructions(assemble(f"r1 = {(2 << 32) + 60} ll\nr2 = 7\n*(u32 *)(r1 + 0) = r2\n"
                                              "r0 = 1\nexit"), ProgramType.XDP)
    assert prog.test_run(bytes(64)).retval == 1
    assert prog.test_run(bytes(64)).data_out[60:] == b"\x07\0\0\0"
    with pytest.raises(VMError, match="instruction 3.*outside the packet"):
        prog.test_run(bytes(20))
    assert jitted


def test_map_value_unmapped_between_runs_faults(jitted: list[str]) -> None:
    """A hash value deleted by user code is unmapped: a stale pointer to it faults in the JIT."""
    rt = Runtime()
    handle = rt.new_handle()
    rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 4)
    rt.maps[handle][1] = 5
    value = rt.maps[handle].bpf_lookup((1).to_bytes(4, "little"), 0)
    prog = program_from_instructions(assemble(f"r1 = {value} ll\nr0 = *(u64 *)(r1 + 0)\nexit"), ProgramType.XDP,
                                     runtime=rt)
    assert prog.test_run(bytes(14)).retval == 5
    del rt.maps[handle][1]
    rt.memory.collect()
    with pytest.raises(VMError, match="instruction 2"):
        prog.test_run(bytes(14))


# ---- tier choice ----------------------------------------------------------------------------

def test_auto_tier_interprets_then_compiles_hot_programs() -> None:
    with use_tier(Tier.AUTO):
        prog = program_from_instructions(assemble("r0 = 3\nexit"), ProgramType.XDP)
        assert tier_of(prog) == Tier.INTERPRETER
        for _ in range(HOT_RUNS + 1):
            assert prog.test_run(bytes(14)).retval == 3
        assert tier_of(prog) == Tier.JIT
        assert prog.test_run(bytes(14), repeat=5).retval == 3


def test_interpreter_tier_and_runtime_override() -> None:
    with use_tier(Tier.INTERPRETER):
        prog = program_from_instructions(assemble("r0 = 3\nexit"), ProgramType.XDP)
        prog.test_run(bytes(14), repeat=HOT_RUNS * 2)
        assert tier_of(prog) == Tier.INTERPRETER
        rt = Runtime()
        rt.tier = Tier.JIT  # type: ignore[attr-defined]
        assert tier_of(program_from_instructions(assemble("r0 = 3\nexit"), runtime=rt)) == Tier.JIT


def test_env_variable_picks_the_tier(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(jit.TIER_ENV, "jit")
    assert jit.default_tier() == Tier.JIT
    monkeypatch.setenv(jit.TIER_ENV, "fast")
    with caplog.at_level(logging.WARNING, "pybpf.vm.jit"):
        assert jit.default_tier() == Tier.AUTO
    assert "not a tier" in caplog.text


def test_unsupported_program_falls_back_and_says_why(caplog: pytest.LogCaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A program the JIT cannot lower runs in the interpreter, with the reason logged."""
    from pybpf.vm.jit import engine

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise jit.JitUnsupported("no lowering for this program")

    monkeypatch.setattr(engine, "lower_program", refuse)
    with use_tier(Tier.JIT), caplog.at_level(logging.WARNING, "pybpf.vm.jit"):
        prog = program_from_instructions(assemble("r0 = 424242\nexit"), ProgramType.XDP)
        assert tier_of(prog) == Tier.INTERPRETER
        assert prog.test_run(bytes(14)).retval == 424242
    assert "does not support it (no lowering for this program)" in caplog.text


def test_kfunc_calls_run_natively_through_the_helper_callback() -> None:
    """A kfunc call is a helper call under KFUNC_HELPER_BASE | id: same result and errors."""
    insns = [Instruction(0x85, 0, 2, 0, 1234), *assemble("r0 = 1\nexit")]
    with use_tier(Tier.JIT):
        prog = program_from_instructions(insns, ProgramType.XDP)
        assert tier_of(prog) == Tier.JIT
        with pytest.raises(VMError, match="kfunc call to kernel BTF id 1234, which names no kfunc"):
            prog.test_run(bytes(14))


def test_identical_programs_share_native_code() -> None:
    from pybpf.vm.jit.engine import native_program

    rt = Runtime()
    insns = assemble("r0 = 41\nr0 += 1\nexit")
    first = native_program("a", insns, rt.resolve_ld64)
    assert native_program("b", list(insns), rt.resolve_ld64) is first
    assert native_program("c", assemble("r0 = 41\nr0 += 2\nexit"), rt.resolve_ld64) is not first


def test_errors_inside_callbacks_propagate_through_native_frames(jitted: list[str]) -> None:
    """A fault in a bpf_loop callback (native -> Python helper -> native) stops the whole run."""
    text = """
        r1 = 3
        ld_pseudo r2, 4, 6
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
    cb:
        r0 = *(u64 *)(r3 + 0)
        exit
    """
    insns = assemble(text)
    slots, s = [], 0
    for insn in insns:
        slots.append(s)
        s += insn.slots
    insns[1] = insns[1].replace(imm=slots[-2] - slots[1] - 1)
    prog = program_from_instructions(insns, ProgramType.XDP)
    with pytest.raises(VMError, match="NULL") as info:
        prog.test_run(bytes(14))
    assert info.value.pc == slots[-2]
    assert tier_of(prog) == Tier.JIT


def test_context_pointers_are_read_again_after_a_helper(jitted: list[str]) -> None:
    """xdp_md fields are served from the JIT's context cache only until control returns to
    Python: after bpf_xdp_adjust_head the packet is 4 bytes shorter, in both tiers."""
    text = """
        r6 = r1
        r7 = *(u32 *)(r6 + 4)
        r7 = *(u32 *)(r6 + 4)
        r8 = *(u32 *)(r6 + 0)
        r7 -= r8
        r1 = r6
        r2 = 4
        call bpf_xdp_adjust_head
        r0 = *(u32 *)(r6 + 4)
        r8 = *(u32 *)(r6 + 0)
        r0 -= r8
        r7 -= r0
        r0 = r7
        exit
    """
    for tier in (Tier.INTERPRETER, Tier.JIT):
        rt = Runtime()
        rt.tier = tier  # type: ignore[attr-defined]
        prog = program_from_instructions(assemble(text), ProgramType.XDP, runtime=rt)
        assert prog.test_run(bytes(64)).retval == 4, tier
        assert tier_of(prog) == tier


def test_native_repeat_loop_matches_test_run(jitted: list[str]) -> None:
    """test_run_native runs the repeat loop in native code: the same result and side effects as
    test_run (a map counter counts every run), and faults still raise VMError."""
    from pybpf.vm.jit import JitUnsupported, test_run_native

    def counter_program() -> tuple[Any, Runtime, int]:
        rt = Runtime()
        handle = rt.new_handle()
        rt.maps[handle] = create_map(rt.memory, handle, MapType.ARRAY, 4, 8, 1)
        text = f"""
            r1 = 0
            *(u32 *)(r10 - 4) = r1
            r2 = r10
            r2 += -4
            ld_pseudo r1, 1, {handle}
            call bpf_map_lookup_elem
            if r0 == 0 goto out
            r1 = 1
            lock *(u64 *)(r0 + 0) += r1
            r0 = *(u64 *)(r0 + 0)
        out:
            exit
        """
        return program_from_instructions(assemble(text), ProgramType.XDP, runtime=rt), rt, handle

    prog, rt, handle = counter_program()
    res = test_run_native(prog, bytes(20), repeat=50)
    assert res.retval == 50 and rt.maps[handle][0] == 50
    ref, rt2, handle2 = counter_program()
    assert ref.test_run(bytes(20), repeat=50).retval == 50 and rt2.maps[handle2][0] == 50

    faulty = program_from_instructions(assemble("r1 = 0\nr0 = *(u64 *)(r1 + 8)\nexit"), ProgramType.XDP)
    with pytest.raises(VMError, match="instruction 1: read of 8 bytes at address 0x8"):
        test_run_native(faulty, bytes(20), repeat=3)
    with use_tier(Tier.INTERPRETER):
        interpreted = program_from_instructions(assemble("r0 = 1\nexit"), ProgramType.XDP)
        with pytest.raises(JitUnsupported, match="interpreter"):
            test_run_native(interpreted, bytes(20))
