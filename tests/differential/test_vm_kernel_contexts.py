"""Contexts and packet helpers against the kernel's test runs: every __sk_buff field a socket
filter or tc program can read, xdp_adjust_head/tail/meta at every delta (with their limits),
and an xdp_md ctx carrying metadata."""

from __future__ import annotations

import struct

import pytest

import pybpf.vm as vm
from pybpf import _sys
from pybpf.enums import ProgramType
from pybpf.errors import VerifierError
from pybpf.isa import assemble, encode

pytestmark = pytest.mark.kernel

PACKETS = [bytes(64), b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + bytes(range(40)),
           b"\xff" * 6 + b"\x01" * 6 + b"\x86\xdd" + bytes(60), b"\x01\x00\x5e" + bytes(9) + b"\x00\x40\xff\xff" + bytes(30),
           b"\x00" * 12 + b"\x00\x40\xaa\xaa" + bytes(30)]


def _both(text: str, prog_type: ProgramType):  # type: ignore[no-untyped-def]
    insns = assemble(text)
    fd = _sys.prog_load(prog_type, encode(insns), "GPL")
    rt = vm.Runtime()
    rt.tier = "interpreter"
    return fd, vm.program_from_instructions(insns, prog_type, runtime=rt)


@pytest.mark.parametrize("prog_type", [ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS])
@pytest.mark.parametrize("size", [1, 2, 4])
def test_sk_buff_reads(prog_type: ProgramType, size: int) -> None:
    compared = 0
    for off in range(0, 192, size):
        if off in (76, 80, 140) or 168 <= off < 176:
            continue  # pointers (data, data_end, data_meta, sk): their values differ by design
        try:
            fd, prog = _both(f"r0 = *(u{size * 8} *)(r1 + {off})\nexit", prog_type)
        except VerifierError:
            continue  # a field this program type may not read (at this size)
        with fd:
            for packet in PACKETS:
                for ctx in (None, struct.pack("<12I", 0, 0, 7, 0, 0, 0, 0, 0, 3, 0, 0, 0).ljust(192, b"\0")):
                    try:
                        want = _sys.prog_test_run(fd, data=packet, ctx=ctx)
                    except _sys.SyscallError:
                        continue
                    got = prog.test_run(packet, ctx=ctx)
                    assert got.retval == want.retval, f"offset {off} size {size}: vm {got.retval:#x} kernel {want.retval:#x}"
                    assert got.data_out == want.data_out
                    if ctx is not None:
                        assert got.ctx_out == want.ctx_out, f"offset {off}: ctx_out differs"
                    compared += 1
    assert compared > 20


@pytest.mark.parametrize("helper", ["bpf_xdp_adjust_head", "bpf_xdp_adjust_tail", "bpf_xdp_adjust_meta"])
def test_xdp_adjust(helper: str) -> None:
    for delta in [*range(-400, 120, 4), -1, -3, 2, -4000, 3000, -3400]:
        fd, prog = _both(f"r6 = r1\nr2 = {delta}\ncall {helper}\nexit", ProgramType.XDP)
        with fd:
            for size in (14, 15, 60, 100):
                data = bytes(range(size))
                want = _sys.prog_test_run(fd, data=data)
                got = prog.test_run(data)
                assert (got.retval, got.data_out) == (want.retval, want.data_out), f"delta {delta} size {size}"


def test_meta_then_head_and_ctx_with_metadata() -> None:
    text = """
        r6 = r1
        r2 = -8
        call bpf_xdp_adjust_meta
        r7 = r0
        r1 = r6
        r2 = -20
        call bpf_xdp_adjust_head
        r0 <<= 8
        r0 |= r7
        r2 = *(u32 *)(r6 + 8)
        r3 = *(u32 *)(r6 + 0)
        r3 -= r2
        r0 <<= 8
        r0 |= r3
        exit
    """
    fd, prog = _both(text, ProgramType.XDP)
    with fd:
        data = bytes(range(80))
        for ctx in (None, struct.pack("<6I", 8, 80, 0, 1, 0, 0), struct.pack("<6I", 16, 80, 0, 1, 0, 0)):
            want = _sys.prog_test_run(fd, data=data, ctx=ctx)
            got = prog.test_run(data, ctx=ctx)
            assert (got.retval, got.data_out) == (want.retval, want.data_out), ctx
