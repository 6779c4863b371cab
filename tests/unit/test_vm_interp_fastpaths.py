"""The interpreter's shortcuts (pybpf.vm.fastpaths and the generated code's packet locals) give
the general paths' results: map helpers bound at compile time (found, missed, updated, deleted;
a map gone or a key outside plain memory reported as before; a helper registered by the user
still wins), XDP context fields remembered only while the packet stays the same, packet accesses
in loops with their bounds re-read after every call, and a ``mov`` fused into the next ALU
operation; map lookups with the key on the stack read the map's table of value addresses, and
accesses through a value pointer known not to be NULL skip the checks only when they fit."""

from __future__ import annotations

import errno

import pytest

from pybpf.enums import MapFlags, MapType, ProgramType
from pybpf.isa import assemble
from pybpf.vm import Runtime, VMError, program_from_instructions
from pybpf.vm.jit import Tier, use_tier
from pybpf.vm.maps import create_map

M64 = (1 << 64) - 1
XDP_ADJUST_HEAD, XDP_ADJUST_TAIL = 44, 65


@pytest.fixture(autouse=True)
def interpreter():  # type: ignore[no-untyped-def]
    with use_tier(Tier.INTERPRETER):
        yield


def _with_hash() -> tuple[Runtime, int, int]:
    rt = Runtime()
    handle = rt.new_handle()
    m = rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 4)
    return rt, handle, m.address


# r6 = operation (1 lookup, 2 update, 3 delete) comes from the key: the map pointer is set by
# ld_imm64 in the same block as each call, so every call site is bound to the map
MAP_OPS = """
    r1 = *(u32 *)(r1 + 0)
    r2 = *(u32 *)(r1 + 0)
    *(u32 *)(r10 - 4) = r2
    r3 = *(u32 *)(r1 + 4)
    *(u64 *)(r10 - 16) = r3
    r6 = *(u32 *)(r1 + 8)
    if r6 == 2 goto update
    if r6 == 3 goto delete
    r1 = {map} ll
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto out
    r0 = *(u64 *)(r0 + 0)
    goto out
update:
    r1 = {map} ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = *(u32 *)(r1 + 12)
    r4 = 1
    call 2
    goto out
delete:
    r1 = {map} ll
    r2 = r10
    r2 += -4
    call 3
out:
    exit
"""


def _op(key: int, value: int, op: int, flags: int = 0) -> bytes:
    return key.to_bytes(4, "little") + value.to_bytes(4, "little") + op.to_bytes(4, "little") + bytes(52)


def test_bound_map_helpers_give_the_helpers_results() -> None:
    rt, handle, address = _with_hash()
    prog = program_from_instructions(assemble(MAP_OPS.format(map=address).replace("r4 = *(u32 *)(r1 + 12)\n", "")),
                                     ProgramType.XDP, runtime=rt)
    run = lambda *args: prog.test_run(_op(*args)).retval  # noqa: E731
    assert "b_1_" in prog.source and "b_2_" in prog.source and "b_3_" in prog.source
    assert run(7, 0, 1) == 0                                  # a miss
    assert run(7, 70, 2) == 0                                 # NOEXIST insert
    assert run(7, 71, 2) == -errno.EEXIST & 0xFFFFFFFF        # NOEXIST on a present key
    assert run(7, 0, 1) == 70                                 # a hit
    assert run(7, 0, 3) == 0 and run(7, 0, 3) == -errno.ENOENT & 0xFFFFFFFF
    for key in range(4):
        assert run(key, key, 2) == 0
    assert run(9, 9, 2) == -errno.E2BIG & 0xFFFFFFFF          # full
    assert dict(rt.maps[handle].items()) == {k: k for k in range(4)}


def test_bound_map_helper_reports_a_map_that_is_gone() -> None:
    rt, handle, address = _with_hash()
    prog = program_from_instructions(assemble(MAP_OPS.format(map=address)), ProgramType.XDP, runtime=rt)
    prog.test_run(_op(1, 1, 1))
    del rt.maps[handle]
    with pytest.raises(VMError, match="is not a map pointer"):
        prog.test_run(_op(1, 1, 1))


def test_bound_map_helper_key_outside_plain_memory() -> None:
    """A key in the context (served by a hook) is read by the general helper, which refuses it."""
    rt, handle, address = _with_hash()
    src = f"r6 = r1\nr1 = {address} ll\nr2 = r6\ncall 1\nexit"
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    with pytest.raises(VMError, match="xdp_md"):
        prog.test_run(bytes(64))


def test_registered_helper_wins_over_the_bound_one() -> None:
    rt, handle, address = _with_hash()
    rt.register_helper(1, lambda runtime, *args: 1234)
    src = f"*(u32 *)(r10 - 4) = 0\nr1 = {address} ll\nr2 = r10\nr2 += -4\ncall 1\nexit"
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    assert prog.test_run(bytes(64)).retval == 1234 and "b_1_" not in prog.source


XDP_LENGTH_AROUND_A_HELPER = """
    r6 = r1
    r7 = *(u32 *)(r6 + 0)
    r8 = *(u32 *)(r6 + 4)
    r8 -= r7
    r1 = r6
    r2 = {delta}
    call {helper}
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r3 -= r2
    r0 = r8
    r0 <<= 16
    r0 |= r3
    exit
"""


@pytest.mark.parametrize("helper,delta", [(XDP_ADJUST_HEAD, 16), (XDP_ADJUST_HEAD, -8), (XDP_ADJUST_TAIL, -10)])
def test_xdp_fields_follow_the_packet(helper: int, delta: int) -> None:
    """data / data_end read again after a helper moved one of them give the new length; each
    repeated run sees the packet the previous one left (as in the kernel)."""
    prog = program_from_instructions(assemble(XDP_LENGTH_AROUND_A_HELPER.format(helper=helper, delta=delta)),
                                     ProgramType.XDP)
    change = -delta if helper == XDP_ADJUST_HEAD else delta
    for size in (64, 100, 64):
        assert prog.test_run(bytes(size)).retval == size << 16 | (size + change)
        assert prog.test_run(bytes(size), repeat=2).retval == (size + change) << 16 | (size + 2 * change)


def test_xdp_fields_of_each_run() -> None:
    prog = program_from_instructions(
        assemble("r2 = *(u32 *)(r1 + 0)\nr0 = *(u32 *)(r1 + 4)\nr0 -= r2\nexit"), ProgramType.XDP)
    assert [prog.test_run(bytes(n), repeat=3).retval for n in (60, 61, 1500, 60)] == [60, 61, 1500, 60]


LOOP_THEN_SHRINK = """
    r6 = r1
    r9 = 0
loop:
    r7 = *(u32 *)(r6 + 4)
    r7 += -1
    r0 = *(u8 *)(r7 + 0)
    r8 = *(u32 *)(r6 + 0)
    r8 = *(u8 *)(r8 + 0)
    *(u8 *)(r7 + 0) = r8
    {shrink}
    r0 = *(u8 *)(r7 + 0)
    r9 += 1
    if r9 < 3 goto loop
    exit
"""


@pytest.mark.parametrize("shrink", [f"r1 = r6\nr2 = -4\ncall {XDP_ADJUST_TAIL}", "r1 = r6\ncall sub"])
def test_packet_bounds_reread_after_calls_in_a_loop(shrink: str) -> None:
    """In a loop (packet locals in use): the last byte read and written, the packet shrunk by a
    helper or by a BPF function calling it, then the old last byte is out of bounds."""
    src = LOOP_THEN_SHRINK.format(shrink=shrink)
    if "call sub" in shrink:
        src += f"sub:\n    r2 = -4\n    call {XDP_ADJUST_TAIL}\n    exit\n"
    prog = program_from_instructions(assemble(src), ProgramType.XDP)
    assert "PK = M[2]" in prog.source
    for _ in range(2):
        with pytest.raises(VMError, match="outside the packet") as info:
            prog.test_run(bytes(range(64)))
        assert info.value.pc == (10 if "call sub" in shrink else 11)


def test_packet_loop_reads_and_writes_every_size() -> None:
    src = """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = 0
    loop:
        r4 = r2
        r4 += 15
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 0)
        r0 += r5
        r5 = *(u16 *)(r2 + 1)
        r0 += r5
        r5 = *(s32 *)(r2 + 3)
        r0 += r5
        r5 = *(u64 *)(r2 + 7)
        r0 ^= r5
        *(u16 *)(r2 + 0) = r0
        *(u32 *)(r2 + 2) = r0
        *(u8 *)(r2 + 14) = 7
        r2 += 15
        goto loop
    out:
        exit
    """
    data = bytes((i * 37) & 0xFF for i in range(150))
    interp = program_from_instructions(assemble(src), ProgramType.XDP)
    result = interp.test_run(data)
    assert "PK = M[2]" in interp.source
    # the same program on the general paths only (no loop: the packet locals are not used)
    expected_r0, buf = 0, bytearray(data)
    for base in range(0, 150 - 14, 15):
        r0 = expected_r0
        r0 = (r0 + buf[base]) & M64
        r0 = (r0 + int.from_bytes(buf[base + 1:base + 3], "little")) & M64
        r0 = (r0 + (int.from_bytes(buf[base + 3:base + 7], "little", signed=True) & M64)) & M64
        r0 ^= int.from_bytes(buf[base + 7:base + 15], "little")
        buf[base:base + 2] = (r0 & 0xFFFF).to_bytes(2, "little")
        buf[base + 2:base + 6] = (r0 & 0xFFFFFFFF).to_bytes(4, "little")
        buf[base + 14] = 7
        expected_r0 = r0
    assert result.retval == expected_r0 & 0xFFFFFFFF
    assert result.data_out == bytes(buf)


@pytest.mark.parametrize("text,expected", [
    ("r1 = 5\nr2 = r1\nr2 += r2", 10),
    ("r1 = 5\nr2 = r1\nr2 -= r2", 0),
    ("r1 = 5\nr2 = r1\nr2 = -r2", -5 & M64),
    ("r1 = 5\nr2 = r1\nr2 <<= 62", (5 << 62) & M64),
    ("r1 = 5\nr2 = r1\nr2 -= 6", -1 & M64),
    ("r1 = -1\nr2 = r1\nr2 s>>= 63", M64),
    ("r1 = 3\nr2 = r1\nr2 *= r1", 9),
])
def test_mov_fused_into_the_next_operation(text: str, expected: int) -> None:
    prog = program_from_instructions(assemble(text + "\nr0 = r2\nr0 += r1\nr0 -= r1\nexit"), ProgramType.SOCKET_FILTER)
    assert prog.run() == expected
    assert "r2 = r1\n" not in prog.source


def test_exit_block_copied_into_the_jump_and_counted() -> None:
    """A forward jump to a short block that exits runs that block in place; instruction counts
    stay exact."""
    src = """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r3 -= r2
        r0 = 1
        if r3 > 20 goto out
        r0 = 3
    out:
        r0 += 1
        exit
    """
    prog = program_from_instructions(assemble(src), ProgramType.XDP)
    assert prog.test_run(bytes(10)).retval == 4 and prog.test_run(bytes(30)).retval == 2
    assert "pc = 6" not in prog.source
    assert prog.count_instructions(bytes(10)) == 8 and prog.count_instructions(bytes(30)) == 7


def test_context_pointer_overwritten_before_a_load() -> None:
    """Loads through r1 after r1 stops being the context pointer read what it points to now."""
    src = """
        *(u32 *)(r10 - 8) = 77
        r2 = *(u32 *)(r1 + 4)
        r1 = r10
        r1 += -8
        r0 = *(u32 *)(r1 + 0)
        r0 += r2
        r2 = *(u32 *)(r1 + 4)
        exit
    """
    prog = program_from_instructions(assemble(src), ProgramType.XDP)
    data_end = prog.test_run(bytes(16)).retval - 77
    assert prog.test_run(bytes(17)).retval == data_end + 1 + 77


def _with_map(map_type: MapType, value_size: int = 8, entries: int = 4,
              flags: MapFlags = MapFlags.NONE) -> tuple[Runtime, int, int]:
    rt = Runtime()
    handle = rt.new_handle()
    m = rt.maps[handle] = create_map(rt.memory, handle, map_type, 4, value_size, entries, flags=flags)
    return rt, handle, m.address


# the key is stored from r6, which changes before the lookup; the value gets an atomic add and is read
COUNT = """
    r6 = *(u32 *)(r1 + 0)
    r6 = *(u8 *)(r6 + 0)
    *(u32 *)(r10 - 4) = r6
    r6 = 1000
    r1 = {map} ll
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto miss
    r1 = 5
    lock *(u64 *)(r0 + 0) += r1
    r6 = r0
    r0 = *(u64 *)(r6 + 0)
    exit
miss:
    r0 = 77
    exit
"""


@pytest.mark.parametrize("value_size,path", [(8, "views_"), (12, "M[r0 >> 32]")])
def test_table_lookup_reads_the_stored_key_and_updates_the_value(value_size: int, path: str) -> None:
    """Values of whole u64 words are reached through their word views, others through their buffer."""
    rt, handle, address = _with_map(MapType.HASH, value_size)
    prog = program_from_instructions(assemble(COUNT.format(map=address)), ProgramType.XDP, runtime=rt)
    m = rt.maps[handle]
    assert prog.test_run(bytes([3]) + bytes(63)).retval == 77            # a miss
    m[3] = (10).to_bytes(value_size, "little")
    assert prog.test_run(bytes([3]) + bytes(63)).retval == 15
    assert prog.test_run(bytes([3]) + bytes(63), repeat=3).retval == 30
    assert prog.test_run(bytes([4]) + bytes(63)).retval == 77
    assert "tab_" in prog.source and "s508" in prog.source and path in prog.source
    m[3] = (2).to_bytes(value_size, "little")                             # replaced in place
    assert prog.test_run(bytes([3]) + bytes(63)).retval == 7
    del m[3]
    assert prog.test_run(bytes([3]) + bytes(63)).retval == 77            # deleted: gone from the table
    assert dict(m.items()) == {}


def test_table_lookup_in_an_array_creates_the_element() -> None:
    rt, handle, address = _with_map(MapType.ARRAY, entries=4)
    prog = program_from_instructions(assemble(COUNT.format(map=address)), ProgramType.XDP, runtime=rt)
    assert prog.test_run(bytes([2]) + bytes(63)).retval == 5              # element 2 made on first use
    assert prog.test_run(bytes([2]) + bytes(63)).retval == 10
    assert prog.test_run(bytes([4]) + bytes(63)).retval == 77             # out of range: NULL
    assert rt.maps[handle][2] == 10 and rt.maps[handle][1] == 0


def test_store_through_another_pointer_changes_the_key() -> None:
    """The key is read from the stack again when a store through another register may have changed it."""
    rt, handle, address = _with_map(MapType.HASH)
    rt.maps[handle][9] = 90
    src = f"""
        r6 = 1
        *(u32 *)(r10 - 4) = r6
        r3 = r10
        r3 += -4
        *(u32 *)(r3 + 0) = 9
        r1 = {address} ll
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
    out:
        exit
    """
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    assert prog.test_run(bytes(64)).retval == 90


@pytest.mark.parametrize("access,message", [
    ("r0 = *(u64 *)(r0 + 4)", "outside"),               # past the 8-byte value: the checked path faults
    ("*(u32 *)(r0 + 6) = 1", "outside"),
    ("r1 = 1\n    lock *(u64 *)(r0 + 8) += r1", "outside"),
])
def test_access_past_a_known_value_is_checked(access: str, message: str) -> None:
    rt, handle, address = _with_map(MapType.HASH)
    rt.maps[handle][0] = 1
    src = f"""
        *(u32 *)(r10 - 4) = 0
        r1 = {address} ll
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto out
        {access}
    out:
        exit
    """
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    with pytest.raises(VMError, match=message):
        prog.test_run(bytes(64))


def test_read_only_array_value_refuses_writes() -> None:
    rt, handle, address = _with_map(MapType.ARRAY, flags=MapFlags.RDONLY_PROG)
    src = f"""
        *(u32 *)(r10 - 4) = 1
        r1 = {address} ll
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    out:
        exit
    """
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    with pytest.raises(VMError, match="read-only"):
        prog.test_run(bytes(64))
    assert "tab_" in prog.source


def test_lookup_without_a_null_check_is_checked() -> None:
    """A value read without ``if r0 == 0`` goes through the checked path (NULL faults)."""
    rt, handle, address = _with_map(MapType.HASH)
    src = f"*(u32 *)(r10 - 4) = 0\nr1 = {address} ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = *(u64 *)(r0 + 0)\nexit"
    prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
    with pytest.raises(VMError, match="NULL"):
        prog.test_run(bytes(64))
