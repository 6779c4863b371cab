"""The VM's instruction semantics, rule by rule (issue 7 section 1), each with its expected value."""

from __future__ import annotations

import pytest

from pybpf.enums import ProgramType
from pybpf.isa import assemble
from pybpf.vm import VMError, program_from_instructions

TIERS = ["interpreter", "jit"]


@pytest.fixture(autouse=True, params=TIERS)
def tier(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Every test runs in the interpreter and, when llvmlite is there, in the JIT tier."""
    from pybpf.vm import jit

    if request.param == "jit" and not jit.available():
        pytest.skip(f"the JIT tier is unavailable: {jit.unavailable_reason()}")
    with jit.use_tier(request.param):
        yield request.param

M64 = (1 << 64) - 1


def r0_of(text: str) -> int:
    """Run ``text`` (with ``exit`` appended) and return the full 64-bit r0."""
    prog = program_from_instructions(assemble(text + "\nexit"), ProgramType.SOCKET_FILTER)
    return prog.run()


CASES = {
    # 32-bit results zero-extend
    "add32 wraps and zero-extends": ("r0 = -1\nw0 += 1", 0),
    "add32 clears the high half": ("r0 = -1\nw0 += 0", 0xFFFFFFFF),
    "mov32 zero-extends": ("r0 = -1\nw0 = w0", 0xFFFFFFFF),
    "mov32 imm zero-extends": ("w0 = -1", 0xFFFFFFFF),
    "mov64 imm sign-extends": ("r0 = -1", M64),
    "neg32": ("r0 = 1\nw0 = -w0", 0xFFFFFFFF),
    "neg64": ("r0 = 1\nr0 = -r0", M64),
    "mul32 keeps the low half": ("r0 = 0x10000\nw0 *= w0", 0),
    "mul64 wraps": ("r0 = 0x100000000 ll\nr0 *= r0", 0),
    "sub64 wraps": ("r0 = 0\nr0 -= 1", M64),
    "rsh32 of a 64-bit value": ("r0 = -1\nw0 >>= 4", 0x0FFFFFFF),
    # division and modulo by zero
    "div64 by zero is 0": ("r0 = 10\nr1 = 0\nr0 /= r1", 0),
    "mod64 by zero leaves the dividend": ("r0 = 10\nr1 = 0\nr0 %= r1", 10),
    "div32 by zero is 0": ("r0 = -1\nw1 = 0\nw0 /= w1", 0),
    "mod32 by zero leaves the dividend zero-extended": ("r0 = -1\nw1 = 0\nw0 %= w1", 0xFFFFFFFF),
    "div32 by a register uses its low half": ("r0 = 10\nr1 = 0x100000000 ll\nw0 /= w1", 0),
    "sdiv64 by zero is 0": ("r0 = -5\nr1 = 0\nr0 s/= r1", 0),
    "smod64 by zero leaves the dividend": ("r0 = -5\nr1 = 0\nr0 s%= r1", (-5) & M64),
    "smod32 by zero zero-extends": ("r0 = -5\nw1 = 0\nw0 s%= w1", (-5) & 0xFFFFFFFF),
    # INT_MIN s/ -1, s% -1
    "sdiv64 INT_MIN by -1": ("r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s/= r1", 1 << 63),
    "smod64 INT_MIN by -1": ("r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s%= r1", 0),
    "sdiv32 INT_MIN by -1": ("w0 = 0x80000000\nw1 = -1\nw0 s/= w1", 0x80000000),
    "smod32 INT_MIN by -1": ("w0 = 0x80000000\nw1 = -1\nw0 s%= w1", 0),
    "sdiv truncates toward zero": ("r0 = -7\nr0 s/= 2", (-3) & M64),
    "smod takes the dividend's sign": ("r0 = -7\nr0 s%= 2", M64),
    "smod with a negative divisor": ("r0 = 7\nr0 s%= -2", 1),
    "unsigned div of a negative": ("r0 = -2\nr0 /= 2", (M64 - 1) // 2),
    # shifts are masked
    "lsh64 masks to 6 bits": ("r0 = 1\nr1 = 65\nr0 <<= r1", 2),
    "lsh32 masks to 5 bits": ("w0 = 1\nw1 = 33\nw0 <<= w1", 2),
    "rsh64 masks": ("r0 = 8\nr1 = 67\nr0 >>= r1", 1),
    "arsh32 sign-extends within 32 bits": ("w0 = 0x80000000\nw0 s>>= 4", 0xF8000000),
    "arsh64": ("r0 = -16\nr0 s>>= 2", (-4) & M64),
    "arsh64 masks": ("r0 = -16\nr1 = 66\nr0 s>>= r1", (-4) & M64),
    # byte swaps
    "be16": ("r0 = 0x12345678\nr0 = be16 r0", 0x7856),
    "be32": ("r0 = 0x12345678\nr0 = be32 r0", 0x78563412),
    "be64": ("r0 = 0x0102030405060708 ll\nr0 = be64 r0", 0x0807060504030201),
    "le16 truncates": ("r0 = 0x12345678\nr0 = le16 r0", 0x5678),
    "le32 truncates": ("r0 = -1\nr0 = le32 r0", 0xFFFFFFFF),
    "le64 is the identity": ("r0 = -2\nr0 = le64 r0", M64 - 1),
    "bswap16": ("r0 = 0x12345678\nr0 = bswap16 r0", 0x7856),
    "bswap32": ("r0 = 0x1122334455667788 ll\nr0 = bswap32 r0", 0x88776655),
    "bswap64": ("r0 = 0x1122334455667788 ll\nr0 = bswap64 r0", 0x8877665544332211),
    # sign-extending loads and moves
    "ldsx8": ("r1 = 0x80\n*(u64 *)(r10 - 8) = r1\nr0 = *(s8 *)(r10 - 8)", (-128) & M64),
    "ldsx16": ("r1 = 0x8001\n*(u64 *)(r10 - 8) = r1\nr0 = *(s16 *)(r10 - 8)", (0x8001 - 0x10000) & M64),
    "ldsx32": ("r1 = 0x80000000 ll\n*(u64 *)(r10 - 8) = r1\nr0 = *(s32 *)(r10 - 8)", 0xFFFFFFFF80000000),
    "ldsx of a positive": ("r1 = 0x7f\n*(u64 *)(r10 - 8) = r1\nr0 = *(s8 *)(r10 - 8)", 0x7F),
    "plain load does not extend": ("r1 = -1\n*(u64 *)(r10 - 8) = r1\nr0 = *(u8 *)(r10 - 8)", 0xFF),
    "movsx64 s8": ("r1 = 0x180\nr0 = (s8)r1", (-128) & M64),
    "movsx64 s16": ("r1 = 0x8000\nr0 = (s16)r1", 0xFFFFFFFFFFFF8000),
    "movsx64 s32": ("r1 = 0x80000000 ll\nr0 = (s32)r1", 0xFFFFFFFF80000000),
    "movsx32 s8 zero-extends": ("r1 = 0x80\nw0 = (s8)w1", 0xFFFFFF80),
    "movsx32 s16 zero-extends": ("r1 = 0x8000\nw0 = (s16)w1", 0xFFFF8000),
    # stores truncate, loads are little-endian
    "stb truncates": ("r1 = 0x1ff\n*(u64 *)(r10 - 8) = r0\n*(u8 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)", 0xFF),
    "st imm sign-extends to 64": ("*(u64 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)", M64),
    "little-endian halves": ("r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 4)", 0x11223344),
    # atomics
    "atomic add": ("r1 = 5\n*(u64 *)(r10 - 8) = r1\nr2 = 3\nlock *(u64 *)(r10 - 8) += r2\nr0 = *(u64 *)(r10 - 8)", 8),
    "atomic fetch_add returns the old value": (
        "r1 = 5\n*(u64 *)(r10 - 8) = r1\nr0 = 3\nr0 = atomic_fetch_add((u64 *)(r10 - 8), r0)", 5),
    "atomic fetch_or": ("r1 = 5\n*(u64 *)(r10 - 8) = r1\nr0 = 2\nr0 = atomic_fetch_or((u64 *)(r10 - 8), r0)\n"
                        "r0 = *(u64 *)(r10 - 8)", 7),
    "atomic fetch_and": ("r1 = 6\n*(u64 *)(r10 - 8) = r1\nr0 = 3\nr0 = atomic_fetch_and((u64 *)(r10 - 8), r0)\n"
                         "r0 = *(u64 *)(r10 - 8)", 2),
    "atomic fetch_xor": ("r1 = 6\n*(u64 *)(r10 - 8) = r1\nr0 = 3\nr0 = atomic_fetch_xor((u64 *)(r10 - 8), r0)", 6),
    "atomic xchg": ("r1 = 6\n*(u64 *)(r10 - 8) = r1\nr0 = 9\nr0 = xchg_64(r10 - 8, r0)\nr1 = *(u64 *)(r10 - 8)\n"
                    "r0 <<= 8\nr0 |= r1", 0x609),
    "cmpxchg success": ("r1 = 6\n*(u64 *)(r10 - 8) = r1\nr0 = 6\nr2 = 9\nr0 = cmpxchg_64(r10 - 8, r0, r2)\n"
                        "r1 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r1", 0x609),
    "cmpxchg failure": ("r1 = 6\n*(u64 *)(r10 - 8) = r1\nr0 = 5\nr2 = 9\nr0 = cmpxchg_64(r10 - 8, r0, r2)\n"
                        "r1 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r1", 0x606),
    "atomic32 fetch zero-extends": ("r1 = -1\n*(u64 *)(r10 - 8) = r1\nr0 = 1\n"
                                    "w0 = atomic_fetch_add((u32 *)(r10 - 8), w0)", 0xFFFFFFFF),
    "atomic32 touches 4 bytes": ("r1 = -1\n*(u64 *)(r10 - 8) = r1\nr2 = 1\nlock *(u32 *)(r10 - 8) += w2\n"
                                 "r0 = *(u64 *)(r10 - 8)", 0xFFFFFFFF00000000),
    "cmpxchg32 compares the low half of r0": (
        "r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = 0x100000007 ll\nr2 = 1\nw0 = cmpxchg32_32(r10 - 8, w0, w2)\n"
        "r0 = *(u64 *)(r10 - 8)", 1),
    # jumps
    "gotol": ("r0 = 5\ngotol +1\nr0 = 1", 5),
    "jmp32 compares the low halves": ("r0 = 0\nr1 = 0x100000001 ll\nif w1 == 1 goto +1\nexit\nr0 = 1", 1),
    "signed jump": ("r0 = 0\nr1 = -1\nif r1 s< 0 goto +1\nexit\nr0 = 1", 1),
    "unsigned jump of -1": ("r0 = 0\nr1 = -1\nif r1 > 5 goto +1\nexit\nr0 = 1", 1),
    "jmp imm sign-extends": ("r0 = 0\nr1 = -1\nif r1 == -1 goto +1\nexit\nr0 = 1", 1),
    "jmp32 signed": ("r0 = 0\nr1 = 0xffffffff\nif w1 s< 0 goto +1\nexit\nr0 = 1", 1),
    "jset": ("r0 = 0\nr1 = 6\nif r1 & 4 goto +1\nexit\nr0 = 1", 1),
    "loop": ("r0 = 0\nr1 = 10\nl: r0 += r1\nr1 -= 1\nif r1 != 0 goto l", 55),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule(name: str) -> None:
    text, expected = CASES[name]
    assert r0_of(text) == expected


def test_cmpxchg_syntax_assembles() -> None:
    # guard against the table above silently testing something else
    assert "cmpxchg" in str(assemble("w0 = cmpxchg32_32(r10 - 8, w0, w2)")[0])


def test_bpf_to_bpf_call_frames() -> None:
    """Callee-saved r6-r9 survive a call; each frame has its own 512-byte stack; r1-r5 pass."""
    text = """
        r6 = 7
        *(u64 *)(r10 - 8) = r6
        r1 = 3
        r2 = 4
        call sub
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 8
        r0 |= r1
        r6 <<= 16
        r0 |= r6
        exit
    sub:
        r6 = 99
        *(u64 *)(r10 - 8) = r6
        r0 = r1
        r0 *= r2
        exit
    """
    assert r0_of(text) == (7 << 16) | (12 << 8) | 7


def test_recursion_deeper_than_8_frames_stops() -> None:
    text = "call self\nexit\nself: call self\nexit"
    with pytest.raises(VMError, match="deeper than 8 frames"):
        r0_of(text)


def test_bpf_loop_calls_back() -> None:
    text = """
        r1 = 5
        ld_pseudo r2, 4, 6
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
    cb:
        r0 = 0
        exit
    """
    # ld_pseudo FUNC imm is relative to the slot after the ld_imm64: slot 1 + 2 + 6 -> slot 9? see below
    insns = assemble(text)
    # compute the relative offset of "cb" properly: callback starts after 'exit' (slot 7)
    from pybpf.isa import Instruction
    slots = []
    s = 0
    for insn in insns:
        slots.append(s)
        s += insn.slots
    cb_slot = slots[-2]
    ld = insns[1]
    insns[1] = ld.replace(imm=cb_slot - slots[1] - 1)
    assert isinstance(insns[1], Instruction)
    prog = program_from_instructions(insns, ProgramType.SOCKET_FILTER)
    assert prog.run() == 5


def test_ld_abs_reads_big_endian_and_returns_zero_outside() -> None:
    prog = program_from_instructions(assemble("r6 = r1\nr0 = *(u16 *)skb[0]\nexit"), ProgramType.SOCKET_FILTER)
    packet = bytes(14) + b"\x12\x34" + bytes(10)
    assert prog.test_run(packet).retval == 0x1234  # offset 0 is the network header for a socket filter
    far = program_from_instructions(assemble("r6 = r1\nr0 = 9\nr0 = *(u32 *)skb[100]\nr0 = 5\nexit"),
                                    ProgramType.SOCKET_FILTER)
    assert far.test_run(packet).retval == 0


def test_runaway_loop_is_stopped() -> None:
    from pybpf.vm import Runtime

    rt = Runtime()
    rt.back_edge_limit = 1000
    prog = program_from_instructions(assemble("l: r0 += 1\ngoto l\nexit"), ProgramType.SOCKET_FILTER, runtime=rt)
    with pytest.raises(VMError, match="more than 1000 back edges"):
        prog.run()


def test_invalid_instruction_is_an_error_when_reached() -> None:
    from pybpf.isa import Instruction

    for opcode in (0x8F, 0xF7, 0xE7):  # neg with a register source, unknown ALU ops
        prog = program_from_instructions([Instruction(opcode, 0, 0, 0, 0), *assemble("exit")])
        with pytest.raises(VMError, match="instruction 0"):
            prog.run()


def test_tail_calls_stop_after_33() -> None:
    """A program that tail-calls itself runs 1 + 33 times; the 34th tail call falls through."""
    from pybpf.enums import MapType
    from pybpf.vm import Runtime
    from pybpf.vm.maps import create_map

    rt = Runtime()
    counter, jump = rt.new_handle(), rt.new_handle()
    rt.maps[counter] = create_map(rt.memory, counter, MapType.ARRAY, 4, 8, 1)
    rt.maps[jump] = create_map(rt.memory, jump, MapType.PROG_ARRAY, 4, 4, 2, resolve=rt.resolve_handle)
    text = f"""
        r6 = r1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        ld_pseudo r1, 1, {counter}
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        ld_pseudo r2, 1, {jump}
        r3 = 1
        call bpf_tail_call
    out:
        r0 = 77
        exit
    """
    prog = program_from_instructions(assemble(text), ProgramType.XDP, runtime=rt)
    rt.maps[jump][1] = prog
    assert prog.test_run(bytes(14)).retval == 77
    assert rt.maps[counter][0] == 34
    rt.maps[counter][0] = 0
    del rt.maps[jump][1]  # an empty slot: the call falls through at once
    assert prog.test_run(bytes(14)).retval == 77
    assert rt.maps[counter][0] == 1


def test_may_goto_falls_through_while_budget_lasts() -> None:
    # may_goto jumps only once the loop budget (8M) is spent: here it falls through
    assert r0_of("r0 = 1\nmay_goto +1\nr0 = 2") == 2
