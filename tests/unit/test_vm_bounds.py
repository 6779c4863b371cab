"""Every memory region is bounds-checked: out-of-bounds reads and writes stop the program with
VMError naming the instruction and the address; nothing outside the VM changes."""

from __future__ import annotations

import pytest

from pybpf.enums import MapType, ProgramType
from pybpf.isa import assemble
from pybpf.vm import Runtime, VMError, program_from_instructions

TIERS = ["interpreter", "jit"]


@pytest.fixture(autouse=True, params=TIERS)
def tier(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Every test runs in the interpreter and, when llvmlite is there, in the JIT tier."""
    from pybpf.vm import jit

    if request.param == "jit" and not jit.available():
        pytest.skip(f"the JIT tier is unavailable: {jit.unavailable_reason()}")
    with jit.use_tier(request.param):
        yield request.param
from pybpf.vm.maps import create_map


def run(text: str, prog_type: ProgramType = ProgramType.XDP, data: bytes | None = bytes(64),
        rt: Runtime | None = None) -> int:
    prog = program_from_instructions(assemble(text), prog_type, runtime=rt)
    return prog.test_run(data).retval


def with_map(map_type: MapType, key_size: int, value_size: int, entries: int) -> tuple[Runtime, int]:
    rt = Runtime()
    handle = rt.new_handle()
    rt.maps[handle] = create_map(rt.memory, handle, map_type, key_size, value_size, entries)
    return rt, handle


STACK_CASES = {
    "read below the frame (static)": "r0 = *(u64 *)(r10 - 520)\nexit",
    "write at the frame top (static)": "*(u64 *)(r10 + 0) = r1\nexit",
    "straddling the top (static)": "r0 = *(u64 *)(r10 - 4)\nexit",
    "read below the frame (computed)": "r1 = r10\nr1 += -600\nr0 = *(u64 *)(r1 + 0)\nexit",
    "write above the frame (computed)": "r1 = r10\nr1 += 8\n*(u8 *)(r1 + 0) = r0\nexit",
    "atomic below the frame": "r1 = r10\nr1 += -520\nr2 = 1\nlock *(u64 *)(r1 + 0) += r2\nexit",
}


@pytest.mark.parametrize("name", list(STACK_CASES))
def test_stack_out_of_bounds(name: str) -> None:
    with pytest.raises(VMError) as info:
        run(STACK_CASES[name])
    assert "instruction" in str(info.value)


def test_error_names_instruction_and_address() -> None:
    with pytest.raises(VMError) as info:
        run("r0 = 0\nr1 = r10\nr1 += -600\nr0 = *(u64 *)(r1 + 0)\nexit")
    exc = info.value
    assert exc.pc == 3
    assert exc.address == (3 << 32) + 512 - 600  # frame 0's stack is region 3
    assert "88 bytes below the start of stack frame 0" in str(exc)
    assert f"{exc.address:#x}" in str(exc)
    assert "instruction 3" in str(exc)


def test_null_and_wild_pointers() -> None:
    with pytest.raises(VMError, match="NULL"):
        run("r1 = 0\nr0 = *(u64 *)(r1 + 0)\nexit")
    with pytest.raises(VMError, match="no mapped memory"):
        run("r1 = -16\nr0 = *(u64 *)(r1 + 0)\nexit")
    with pytest.raises(VMError):
        run("r1 = 0x7fffffffffffffff ll\n*(u64 *)(r1 + 0) = r1\nexit")


XDP_PARSE = """
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r0 = *(u8 *)(r2 {off})
    exit
"""


def test_packet_in_bounds_and_past_data_end() -> None:
    assert run(XDP_PARSE.format(off='+ 63'), data=bytes(63) + b"\x07") == 7
    with pytest.raises(VMError, match="outside the packet"):
        run(XDP_PARSE.format(off='+ 64'))
    with pytest.raises(VMError, match="1 bytes below the start of the packet"):
        run(XDP_PARSE.format(off='- 1'))


def test_packet_write_past_end() -> None:
    with pytest.raises(VMError, match="outside the packet"):
        run("r2 = *(u32 *)(r1 + 0)\n*(u32 *)(r2 + 62) = r1\nexit")


def test_context_out_of_bounds_and_read_only() -> None:
    with pytest.raises(VMError, match="xdp_md"):
        run("r0 = *(u32 *)(r1 + 24)\nexit")
    with pytest.raises(VMError, match="read-only|xdp_md"):
        run("*(u32 *)(r1 + 0) = r1\nexit")
    with pytest.raises(VMError, match="__sk_buff"):
        run("r0 = *(u32 *)(r1 + 192)\nexit", ProgramType.SCHED_CLS)
    with pytest.raises(VMError, match="__sk_buff"):  # len is not writable
        run("*(u32 *)(r1 + 0) = r1\nexit", ProgramType.SCHED_CLS)


def test_sk_buff_writable_field() -> None:
    prog = program_from_instructions(assemble("r2 = 77\n*(u32 *)(r1 + 8) = r2\nr0 = *(u32 *)(r1 + 8)\nexit"),
                                     ProgramType.SCHED_CLS)
    res = prog.test_run(bytes(64), ctx=bytes(192))
    assert res.retval == 77
    assert int.from_bytes(res.ctx_out[8:12], "little") == 77


LOOKUP = """
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    ld_pseudo r1, 1, {handle}
    call bpf_map_lookup_elem
    if r0 == 0 goto +1
    r0 = *(u{bits} *)(r0 + {off})
    exit
"""


def test_map_value_bounds() -> None:
    rt, h = with_map(MapType.ARRAY, 4, 8, 4)
    rt.maps[h][0] = 0x1122334455667788
    assert run(LOOKUP.format(handle=h, bits=32, off=4), rt=rt) == 0x11223344
    with pytest.raises(VMError, match="a value of map"):
        run(LOOKUP.format(handle=h, bits=32, off=6), rt=rt)
    with pytest.raises(VMError, match="a value of map"):
        run(LOOKUP.format(handle=h, bits=8, off=8), rt=rt)


def test_hash_value_bounds_and_key_read() -> None:
    rt, h = with_map(MapType.HASH, 4, 4, 4)
    rt.maps[h][0] = 5
    assert run(LOOKUP.format(handle=h, bits=32, off=0), rt=rt) == 5
    with pytest.raises(VMError):
        run(LOOKUP.format(handle=h, bits=64, off=0), rt=rt)
    # the key pointer itself must be readable for key_size bytes
    with pytest.raises(VMError):
        run(f"r2 = r10\nld_pseudo r1, 1, {h}\ncall bpf_map_lookup_elem\nexit", rt=rt)


def test_ringbuf_record_bounds() -> None:
    rt, h = with_map(MapType.RINGBUF, 0, 0, 4096)
    text = f"""
        ld_pseudo r1, 1, {h}
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto +4
        r1 = 0x42
        *(u64 *)(r0 + {{off}}) = r1
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 0
        exit
    """
    run(text.format(off=0), rt=rt)
    assert rt.maps[h].read() == [(0x42).to_bytes(8, "little")]
    with pytest.raises(VMError, match="record of ring buffer"):
        run(text.format(off=4), rt=rt)


def test_registered_memory_bounds_and_probe_read() -> None:
    rt = Runtime()
    secret = bytearray(b"hello!!!")
    addr = rt.memory.map(secret, "registered memory", writable=False).base
    read = f"""
        r1 = r10
        r1 += -16
        r2 = {{size}}
        r3 = {addr} ll
        call bpf_probe_read_kernel
        exit
    """
    assert run(read.format(size=8), rt=rt) == 0
    assert run(read.format(size=9), rt=rt) == (-14) & 0xFFFFFFFF  # -EFAULT, not a crash
    with pytest.raises(VMError, match="registered memory"):
        run(f"r1 = {addr} ll\nr0 = *(u64 *)(r1 + 1)\nexit", rt=rt)
    with pytest.raises(VMError, match="read-only"):
        run(f"r1 = {addr} ll\n*(u8 *)(r1 + 0) = r1\nexit", rt=rt)
    assert secret == bytearray(b"hello!!!")


def test_helper_writing_past_the_stack() -> None:
    with pytest.raises(VMError):
        run("r1 = r10\nr1 += -4\nr2 = 16\ncall bpf_get_current_comm\nexit")


def test_map_value_stays_valid_after_delete_until_run_ends() -> None:
    rt, h = with_map(MapType.HASH, 4, 8, 4)
    rt.maps[h][1] = 9
    text = f"""
        r1 = 1
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        ld_pseudo r1, 1, {h}
        call bpf_map_lookup_elem
        if r0 == 0 goto +7
        r6 = r0
        r2 = r10
        r2 += -4
        ld_pseudo r1, 1, {h}
        call bpf_map_delete_elem
        r0 = *(u64 *)(r6 + 0)
        exit
    """
    assert run(text, rt=rt) == 9
    assert 1 not in rt.maps[h]
