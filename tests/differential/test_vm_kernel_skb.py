"""Helpers that change an skb, in the kernel and in the VM: tc and lwt_xmit programs call each
helper with arguments from ``__sk_buff.cb[]`` (so one loaded program serves every case), and
every case must give the same return value, the same packet out (BPF_PROG_TEST_RUN returns the
rewritten skb) and the same ctx out. Cases are drawn with fixed seeds around each helper's
limits."""

from __future__ import annotations

import random
import struct

import pytest

import pybpf.vm as vm
import pybpf.vm.jit
from pybpf import _sys
from pybpf.enums import ProgramType
from pybpf.errors import SyscallError
from pybpf.isa import assemble, encode

pytestmark = pytest.mark.kernel

#: __sk_buff.cb[0]
CB = 48
SK_BUFF_SIZE = 192


def _ipv4(proto: int, payload: bytes, *, csum_ok: bool = True) -> bytes:
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, 0, 64, proto, 0,
                               b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"))
    if csum_ok:
        total = sum(struct.unpack("!10H", ip))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        ip[10:12] = struct.pack("!H", ~total & 0xFFFF)
    return bytes(ip) + payload


def _eth(ethertype: int, rest: bytes) -> bytes:
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", ethertype) + rest


UDP = struct.pack("!HHHH", 1234, 53, 16, 0x1C46) + b"payload!"
TCP = struct.pack("!HHIIBBHHH", 80, 40000, 1, 2, 0x50, 0x18, 512, 0xBEEF, 0) + b"GET / HTTP/1.0\r\n"
PACKETS = [
    _eth(0x0800, _ipv4(17, UDP)),
    _eth(0x0800, _ipv4(6, TCP)),
    _eth(0x86DD, struct.pack("!IHBB16s16s", 0x60000000, len(UDP), 17, 64, bytes(15) + b"\x01",
                             bytes(15) + b"\x02") + UDP),
    _eth(0x0806, bytes(28)),  # ARP: skb_adjust_room refuses it
    _eth(0x0800, _ipv4(17, b"")),  # an IPv4 header and nothing after it
    bytes(random.Random(7).getrandbits(8) for _ in range(90)),
]

_LOAD_ARGS = "\n".join(f"r{reg} = *(u32 *)(r6 + {CB + 4 * i})" for i, reg in enumerate(range(2, 6)))

#: helper -> program calling it with r2..r5 from cb[0..3] (store_bytes: len 1-16 of a stack pattern)
PROGRAMS = {
    "skb_store_bytes": f"""
r6 = r1
r2 = 0x1122334455667788 ll
*(u64 *)(r10 - 16) = r2
r2 = 0x99aabbccddeeff00 ll
*(u64 *)(r10 - 8) = r2
r2 = *(u32 *)(r6 + {CB})
r4 = *(u32 *)(r6 + {CB + 4})
r4 &= 15
r4 += 1
r5 = *(u32 *)(r6 + {CB + 8})
r1 = r6
r3 = r10
r3 += -16
call bpf_skb_store_bytes
exit
""",
    **{name: f"r6 = r1\n{_LOAD_ARGS}\nr1 = r6\ncall bpf_{name}\nexit" for name in (
        "l3_csum_replace", "l4_csum_replace", "skb_pull_data", "skb_change_tail", "skb_change_head")},
    # len_diff is signed: sign-extend cb[0]
    "skb_adjust_room": f"r6 = r1\n{_LOAD_ARGS}\nr2 = (s32)r2\nr1 = r6\ncall bpf_skb_adjust_room\nexit",
}


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _cases(helper: str, rnd: random.Random, packet: bytes) -> list[tuple[int, ...]]:
    """Argument tuples (cb[0..3]) for ``helper`` on ``packet``: around its limits, then random."""
    n = len(packet)
    out: list[tuple[int, ...]] = []
    if helper == "skb_store_bytes":
        for off in (0, 1, 13, 14, n - 16, n - 8, n - 1, n, n + 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0):
            for length in (1, 8, 16):
                out.append((_u32(off), length - 1, rnd.choice([0, 1, 2, 3])))
        out += [(0, 0, 4), (0, 0, 0x80000000)]
        out += [(rnd.randrange(n + 4), rnd.randrange(16), rnd.choice([0, 1, 2, 3])) for _ in range(30)]
    elif helper in ("l3_csum_replace", "l4_csum_replace"):
        sizes = [0, 2, 4]
        flag_bits = [0] if helper == "l3_csum_replace" else [0, 0x10, 0x20, 0x60, 0x80, 0x30]
        for off in (24, 40, 50, 0, n - 2, n - 1, n, 0x10000, 0xFFFE, 25):
            for size in sizes:
                out.append((_u32(off), rnd.getrandbits(32) if size else 0, rnd.getrandbits(32), size | rnd.choice(flag_bits)))
        out += [(24, 1, 2, 3), (24, 1, 2, 1), (24, 5, 6, 0), (24, 0, 0, 0x100), (24, 0, 0, 0x8)]
        for _ in range(60):  # random fields, values and offsets: every +0/-0 corner in the long run
            size = rnd.choice(sizes)
            out.append((rnd.randrange(0, n - 1, 2), rnd.choice([0, 0xFFFF, 0xFFFFFFFF, rnd.getrandbits(32)]) if size else 0,
                        rnd.choice([0, 0xFFFF, 0xFFFFFFFF, rnd.getrandbits(32)]), size | rnd.choice(flag_bits)))
    elif helper == "skb_pull_data":
        out += [(v,) for v in (0, 1, 14, n - 1, n, n + 1, 0xFFFFFFFF)]
    elif helper == "skb_change_tail":
        out += [(v, 0) for v in (0, 13, 14, 15, n - 1, n, n + 1, n + 100, 1500, 16063, 16064, 16065, 0xFFFFFFFF)]
        out += [(n, 1), (n + 4, 2)]
    elif helper == "skb_change_head":
        out += [(v, 0) for v in (0, 1, 14, 100, 16064 - n, 16065 - n, 0xFFFFFFFF - n + 1, 0xFFFFFFFF)]
        out += [(14, 1)]
    elif helper == "skb_adjust_room":
        for mode in (0, 1, 2):
            for diff in (0, 1, 8, -1, -4, -8, -20, -(n - 14), -(n - 14) + 20, -(n - 14) + 40, 0xFFF, 0x1000, -0xFFF,
                         -0x1000):
                out.append((_u32(diff), mode, rnd.choice([0, 0, 1, 0x20])))
        out += [(_u32(-4), 0, 0x80), (_u32(-4), 0, 0x100), (_u32(-4), 0, 0x180), (4, 0, 0x80),
                (_u32(-4), 1, 0x80), (4, 0, 0x200), (4, 0, 0x400)]
    return out


def _ctx(args: tuple[int, ...]) -> bytes:
    ctx = bytearray(CB) + struct.pack(f"<{len(args)}I", *args)
    return bytes(ctx.ljust(SK_BUFF_SIZE, b"\0"))


#: (helper, program type): tc sees the Ethernet header, lwt_xmit starts at the network header
#: (and has no skb_adjust_room)
HELPER_CASES = [(h, ProgramType.SCHED_CLS) for h in PROGRAMS] + [
    (h, ProgramType.LWT_XMIT) for h in PROGRAMS if h != "skb_adjust_room"]


@pytest.mark.parametrize("tier", ["interpreter", "jit"])
@pytest.mark.parametrize(("helper", "prog_type"), HELPER_CASES, ids=[f"{h}-{t.name.lower()}" for h, t in HELPER_CASES])
def test_skb_helper_matches_kernel(helper: str, prog_type: ProgramType, tier: str) -> None:
    insns = assemble(PROGRAMS[helper])
    rt = vm.Runtime()
    rt.tier = tier
    prog = vm.program_from_instructions(insns, prog_type, runtime=rt, name=helper)
    rnd = random.Random(sum(map(ord, helper)))
    compared, mismatches = 0, []
    with _sys.prog_load(prog_type, encode(insns), "GPL") as fd:
        for packet in PACKETS:
            for args in _cases(helper, rnd, packet):
                ctx = _ctx(args)
                try:
                    want = _sys.prog_test_run(fd, data=packet, ctx=ctx)
                except SyscallError as exc:
                    mismatches.append(f"{args}: the kernel's test run failed: {exc}")
                    continue
                got = prog.test_run(packet, ctx=ctx)
                if (got.retval, got.data_out, got.ctx_out) != (want.retval, want.data_out, want.ctx_out):
                    what = [f"retval vm={got.retval:#x} kernel={want.retval:#x}"]
                    if got.data_out != want.data_out:
                        what.append(f"data vm={got.data_out.hex()} kernel={want.data_out.hex()}")
                    if got.ctx_out != want.ctx_out:
                        what.append("ctx_out differs")
                    mismatches.append(f"packet {PACKETS.index(packet)} cb {[hex(a) for a in args]}: " + ", ".join(what))
                compared += 1
    assert not mismatches, f"{len(mismatches)} of {compared} cases differ:\n" + "\n".join(mismatches[:20])
    assert compared >= 40
    assert vm.jit.tier_of(prog) == tier
