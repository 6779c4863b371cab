"""The JIT's packet fast path (the packet's region-table entry kept in registers, one compare
per access) gives the interpreter's results: in-bounds accesses of every size at the packet's
edges, the same VMError one byte past them, and no stale bounds after anything that changes the
packet (a helper moving the head or tail, a BPF-to-BPF callee doing it, the next test run)."""

from __future__ import annotations

import pytest

from pybpf.enums import ProgramType
from pybpf.isa import assemble
from pybpf.vm import VMError, jit, program_from_instructions
from pybpf.vm.jit import Tier, tier_of, use_tier

pytestmark = pytest.mark.skipif(not jit.available(), reason=f"no JIT tier: {jit.unavailable_reason()}")

XDP_ADJUST_HEAD, XDP_ADJUST_TAIL = 44, 65


def _outcome(src: str, datas: list[bytes], tier: Tier) -> list[tuple[str, object, bytes]]:
    """(retval or error message, data_out) of one program run on each packet, in ``tier``."""
    with use_tier(tier):
        prog = program_from_instructions(assemble(src), ProgramType.XDP)
        seen: list[tuple[str, object, bytes]] = []
        for data in datas:
            try:
                result = prog.test_run(data)
                seen.append(("ok", result.retval, result.data_out))
            except VMError as exc:
                seen.append(("error", str(exc), b""))
        assert tier_of(prog) == tier
    return seen


def _same_in_both(src: str, datas: list[bytes]) -> list[tuple[str, object, bytes]]:
    interp = _outcome(src, datas, Tier.INTERPRETER)
    assert _outcome(src, datas, Tier.JIT) == interp
    return interp


@pytest.mark.parametrize("kind", ["u8", "u16", "u32", "u64", "s8", "s16", "s32"])
@pytest.mark.parametrize("slack", [0, 1])
def test_load_at_the_packet_end(kind: str, slack: int) -> None:
    """A load ending exactly at data_end works; one byte further faults, in both tiers."""
    size = int(kind[1:]) // 8
    src = f"""
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r3 -= r2
        r3 += -{size - slack}
        r2 += r3
        r0 = *({kind} *)(r2 + 0)
        exit
    """
    datas = [bytes(range(150, 150 + n)) for n in (size, size + 3, 64)]
    seen = _same_in_both(src, datas)
    if slack:
        assert all(kind_ == "error" and "outside the packet" in what for kind_, what, _ in seen)
    else:
        assert all(kind_ == "ok" for kind_, _, _ in seen)


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_store_at_the_packet_end(size: int) -> None:
    src = f"""
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r3 -= r2
        r3 += -{size}
        r2 += r3
        r4 = -1
        *(u{size * 8} *)(r2 + {{off}}) = r4
        r0 = 2
        exit
    """
    ok = _same_in_both(src.format(off=0), [bytes(32)])
    assert ok[0][2] == bytes(32 - size) + b"\xff" * size
    bad = _same_in_both(src.format(off=1), [bytes(32)])
    assert bad[0][0] == "error" and "outside the packet" in str(bad[0][1])


def test_packet_shorter_than_the_access() -> None:
    seen = _same_in_both("r2 = *(u32 *)(r1 + 0)\nr0 = *(u64 *)(r2 + 0)\nexit", [bytes(n) for n in (0, 1, 7, 8)])
    assert [k for k, _, _ in seen] == ["error", "error", "error", "ok"]


def test_unchecked_loop_runs_off_the_end() -> None:
    """A loop whose loads are fast for 15 rounds faults on the 16th, at the same instruction."""
    src = """
        r2 = *(u32 *)(r1 + 0)
        r0 = 0
        r4 = 0
    loop:
        r3 = *(u32 *)(r2 + 0)
        r0 += r3
        r2 += 4
        r4 += 1
        if r4 < 100 goto loop
        exit
    """
    seen = _same_in_both(src, [bytes(range(60)), bytes(400)])
    assert seen[0][0] == "error" and "instruction 3" in str(seen[0][1])
    assert seen[1][:2] == ("ok", 0)


@pytest.mark.parametrize("helper,delta", [(XDP_ADJUST_TAIL, -16), (XDP_ADJUST_HEAD, 16)])
def test_no_stale_bounds_after_a_helper_shrinks_the_packet(helper: int, delta: int) -> None:
    """Read the last byte (its bounds now in registers), shrink the packet with a helper, read
    through the same pointer again: the second read must fault."""
    src = f"""
        r6 = r1
        r7 = *(u32 *)(r6 + 4)
        r7 += -1
        r8 = *(u32 *)(r6 + 0)
        if r7 < r8 goto out
        r0 = *(u8 *)(r7 + 0)
        r1 = r6
        r2 = {delta}
        call {helper}
        r0 = *(u8 *)(r7 + 0)
    out:
        exit
    """
    seen = _same_in_both(src, [bytes(range(64)), bytes(range(100)), bytes(range(100))])
    assert all(k == "error" and "outside the packet" in str(what) for k, what, _ in seen)


def test_no_stale_bounds_after_a_callee_shrinks_the_packet() -> None:
    src = f"""
        r6 = r1
        r7 = *(u32 *)(r6 + 4)
        r7 += -1
        r0 = *(u8 *)(r7 + 0)
        r1 = r6
        call shrink
        r0 = *(u8 *)(r7 + 0)
        exit
    shrink:
        r2 = -16
        call {XDP_ADJUST_TAIL}
        exit
    """
    seen = _same_in_both(src, [bytes(range(64))] * 3)  # later runs find the packet's bounds at entry
    assert all(k == "error" and "outside the packet" in str(what) for k, what, _ in seen)


def test_grown_packet_is_readable_at_once() -> None:
    """After the tail grows, the new bytes are read (zeroed) on the fast path, as in the interpreter."""
    src = f"""
        r6 = r1
        r1 = r6
        r2 = 8
        call {XDP_ADJUST_TAIL}
        r2 = *(u32 *)(r6 + 4)
        r2 += -8
        r0 = *(u64 *)(r2 + 0)
        r0 += 5
        exit
    """
    seen = _same_in_both(src, [b"\xff" * 64])
    assert seen[0][:2] == ("ok", 5)


def test_packet_fast_path_across_runs_of_different_sizes() -> None:
    """The bounds come from the table each run: a long packet, then a short one, then long again."""
    src = """
        r2 = *(u32 *)(r1 + 0)
        r0 = *(u8 *)(r2 + 99)
        exit
    """
    seen = _same_in_both(src, [bytes(range(100)), bytes(50), bytes(range(100))])
    assert [k for k, _, _ in seen] == ["ok", "error", "ok"]
    assert seen[0][1] == 99
