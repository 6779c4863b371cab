"""Whatever the program, the VM either returns or raises VMError: arbitrary instruction bytes
(no verifier in front) never crash the host with another exception."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.enums import ProgramType
from pybpf.errors import InstructionError
from pybpf.isa import decode
from pybpf.vm import Runtime, VMError, program_from_instructions

_OPCODES = [0x07, 0x0F, 0x17, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x47, 0x4F, 0x57, 0x5F, 0x67, 0x6F, 0x77, 0x7F,
            0x87, 0x97, 0x9F, 0xA7, 0xAF, 0xB7, 0xBF, 0xC7, 0xCF, 0xD7, 0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C,
            0x34, 0x3C, 0x44, 0x4C, 0x54, 0x5C, 0x64, 0x6C, 0x74, 0x7C, 0x84, 0x94, 0x9C, 0xA4, 0xAC, 0xB4,
            0xBC, 0xC4, 0xCC, 0xD4, 0xDC, 0x05, 0x06, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D, 0x45, 0x4D, 0x55,
            0x5D, 0x65, 0x6D, 0x75, 0x7D, 0xA5, 0xAD, 0xB5, 0xBD, 0xC5, 0xCD, 0xD5, 0xDD, 0x16, 0x1E, 0x56,
            0x85, 0x95, 0xE5, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B,
            0x73, 0x7B, 0xC3, 0xDB, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x18]

_slot = st.tuples(
    st.one_of(st.sampled_from(_OPCODES), st.integers(0, 255)),
    st.integers(0, 11), st.integers(0, 11),
    st.one_of(st.integers(-8, 8), st.integers(-600, 600), st.integers(-32768, 32767)),
    st.one_of(st.integers(-16, 64), st.sampled_from([0, 1, 0xE1, 0xF1, 0x41, 28, 1, 2, 3, 5, 7, 12, 16, 32, 64]),
              st.integers(-(2**31), 2**31 - 1)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_slot, min_size=1, max_size=24), st.sampled_from([ProgramType.XDP, ProgramType.SOCKET_FILTER,
                                                                    ProgramType.SCHED_CLS, ProgramType.RAW_TRACEPOINT]),
       st.binary(min_size=14, max_size=80))
def test_arbitrary_programs_never_crash_the_host(slots: list[tuple[int, int, int, int, int]],
                                                 prog_type: ProgramType, data: bytes) -> None:
    raw = b"".join(struct.pack("<BBhi", op, (src << 4) | dst, off, imm) for op, dst, src, off, imm in slots)
    raw += struct.pack("<BBhi", 0x95, 0, 0, 0)
    try:
        insns = decode(raw)
    except InstructionError:
        return
    rt = Runtime(log_trace=False)
    rt.tier = "interpreter"
    rt.back_edge_limit = 2000
    prog = program_from_instructions(insns, prog_type, runtime=rt)
    try:
        result = prog.test_run(data, ctx=bytes(64) if prog_type == ProgramType.RAW_TRACEPOINT else None)
    except VMError:
        return
    assert 0 <= result.retval < 1 << 32
