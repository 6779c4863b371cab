"""Helpers that change an skb, without the kernel (tests/differential/test_vm_kernel_skb.py
compares them with it): checksum arithmetic on known vectors, resizing, the programs' view of
the new length, and the refusals."""

from __future__ import annotations

import struct

import pytest

from pybpf.enums import ProgramType
from pybpf.isa import assemble
from pybpf.vm import VMError, program_from_instructions
from pybpf.vm.helpers.skb import AdjRoomFlags, csum_fold

ETH_IP = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
#: a valid IPv4 header (checksum 0xb861 at offset 10), from RFC 1071's worked example style
IP = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")


def _ip_with_csum() -> bytes:
    words = struct.unpack("!10H", IP)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return IP[:10] + struct.pack("!H", ~total & 0xFFFF) + IP[12:]


def _run(text: str, data: bytes, prog_type: ProgramType = ProgramType.SCHED_CLS) -> tuple[int, bytes]:
    res = program_from_instructions(assemble(text), prog_type).test_run(data)
    return res.retval, res.data_out


def test_csum_fold_of_known_sums() -> None:
    assert csum_fold(0) == 0xFFFF
    assert csum_fold(0xFFFF) == 0
    assert csum_fold(0x0001FFFF) == 0xFFFE  # 0xFFFF + 1 folds to 1, complemented
    assert csum_fold(0x12345678) == ~(0x1234 + 0x5678) & 0xFFFF


def test_l3_csum_replace_keeps_the_ip_checksum_valid() -> None:
    """Rewrite the TTL/protocol word 0x4011 -> 0x3f11 and let the helper fix the checksum: the
    header then sums to 0xFFFF, as a freshly computed one does."""
    packet = ETH_IP + _ip_with_csum()
    ttl_word = struct.unpack_from("<H", packet, 14 + 8)[0]  # as the program reads it (host order)
    new_word = struct.unpack("<H", b"\x3f\x11")[0]
    text = f"""
r6 = r1
r1 = {new_word}
*(u16 *)(r10 - 2) = r1
r1 = r6
r2 = 22
r3 = r10
r3 += -2
r4 = 2
r5 = 0
call bpf_skb_store_bytes
r1 = r6
r2 = 24
r3 = {ttl_word}
r4 = {new_word}
r5 = 2
call bpf_l3_csum_replace
exit
"""
    retval, out = _run(text, packet)
    assert retval == 0
    header = out[14:34]
    assert header[8:10] == b"\x3f\x11"
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF


def test_l4_mangled_zero_leaves_a_missing_udp_checksum_alone() -> None:
    packet = ETH_IP + _ip_with_csum() + struct.pack("!HHHH", 1, 2, 8, 0)
    text = "r2 = 40\nr3 = 0\nr4 = 0x1234\nr5 = 0x20\ncall bpf_l4_csum_replace\nexit"  # diff, MARK_MANGLED_0
    retval, out = _run(text, packet)
    assert (retval, out) == (0, packet)


def test_change_tail_grows_with_zeros_and_the_program_sees_the_new_length() -> None:
    text = "r6 = r1\nr2 = 100\nr3 = 0\ncall bpf_skb_change_tail\nr0 = *(u32 *)(r6 + 0)\nexit"
    retval, out = _run(text, ETH_IP + b"abc")
    assert retval == 100
    assert out == ETH_IP + b"abc" + bytes(100 - 17)


def test_change_tail_cannot_cut_into_the_ethernet_header() -> None:
    retval, out = _run("r2 = 13\nr3 = 0\ncall bpf_skb_change_tail\nexit", ETH_IP + b"abc")
    assert (retval, out) == (-22 & 0xFFFFFFFF, ETH_IP + b"abc")


def test_change_head_pushes_zeros_and_moves_data() -> None:
    text = """
r6 = r1
r2 = 4
r3 = 0
call bpf_skb_change_head
r2 = *(u32 *)(r6 + 76)
r3 = *(u32 *)(r6 + 80)
r0 = r3
r0 -= r2
exit
"""
    retval, out = _run(text, ETH_IP + b"xyz")
    assert retval == 4 + 17  # data_end - data: the whole packet, pushed room included
    assert out == bytes(4) + ETH_IP + b"xyz"


def test_adjust_room_net_inserts_after_the_ip_header() -> None:
    packet = ETH_IP + _ip_with_csum() + b"payload"
    retval, out = _run("r2 = 8\nr3 = 0\nr4 = 0\ncall bpf_skb_adjust_room\nexit", packet)
    assert retval == 0
    assert out == packet[:34] + bytes(8) + packet[34:]
    retval, out = _run("r2 = -4\nr3 = 1\nr4 = 0\ncall bpf_skb_adjust_room\nexit", packet)  # MAC mode, shrink
    assert (retval, out) == (0, packet[:14] + packet[18:])


def test_adjust_room_encapsulation_is_a_clear_error() -> None:
    packet = ETH_IP + _ip_with_csum() + b"payload"
    with pytest.raises(VMError, match="encapsulation flags .* not modelled in the VM"):
        _run(f"r2 = 20\nr3 = 1\nr4 = {int(AdjRoomFlags.ENCAP_L3_IPV4)}\ncall bpf_skb_adjust_room\nexit", packet)


def test_store_bytes_beyond_the_packet_is_efault_and_changes_nothing() -> None:
    text = "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r6\nr2 = 12\nr3 = r10\nr3 += -8\nr4 = 8\nr5 = 0\n" \
           "call bpf_skb_store_bytes\nexit"
    retval, out = _run(text, ETH_IP)
    assert (retval, out) == (-14 & 0xFFFFFFFF, ETH_IP)


def test_pull_data_beyond_the_packet_is_enomem() -> None:
    assert _run("r2 = 15\ncall bpf_skb_pull_data\nexit", ETH_IP)[0] == -12 & 0xFFFFFFFF
    assert _run("r2 = 14\ncall bpf_skb_pull_data\nexit", ETH_IP)[0] == 0


def test_helpers_need_a_packet() -> None:
    prog = program_from_instructions(assemble("r2 = 0\ncall bpf_skb_pull_data\nexit"), ProgramType.SCHED_CLS)
    with pytest.raises(VMError, match="needs a packet"):
        prog.run()
