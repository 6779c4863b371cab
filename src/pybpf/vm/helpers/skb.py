"""Helpers that change an skb's packet (tc, lwt and sk_skb programs): skb_store_bytes,
l3/l4_csum_replace, skb_pull_data, skb_change_tail, skb_change_head and skb_adjust_room
(without encapsulation), with the kernel's argument checks and error codes (net/core/filter.c).

The VM's skb is linear, never cloned and never GSO: pulling data only checks the length, and
what the kernel does to offload state (skb->csum, the hash, gso_size) has nothing to show in a
test run. Checksums are updated with the arithmetic of x86-64's csum_fold/csum_add, so a
rewritten checksum field holds the same bytes as the kernel's.
"""

from __future__ import annotations

import errno
import enum
from typing import TYPE_CHECKING, Callable

from ..memory import VMError

if TYPE_CHECKING:
    from ..contexts import Packet
    from ..runtime import Runtime

__all__ = ["HELPERS", "StoreFlags", "CsumFlags", "AdjRoomMode", "AdjRoomFlags", "SKB_MAX_LEN", "csum_fold"]

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
#: BPF_SKB_MAX_LEN (SKB_MAX_ALLOC with 4 KiB pages): the largest skb change_tail/head/adjust_room make
SKB_MAX_LEN = (4096 << 2) - 320
#: skb_adjust_room moves at most this many bytes
ADJ_ROOM_MAX_DIFF = 0xFFF
#: a zero UDP checksum written as this when BPF_F_MARK_MANGLED_0 asks for it
CSUM_MANGLED_0 = 0xFFFF
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
#: the kernel's ENOTSUPP (524, not an errno userspace knows)
ENOTSUPP = 524


class StoreFlags(enum.IntFlag):
    """bpf_skb_store_bytes flags."""

    RECOMPUTE_CSUM = 1 << 0
    INVALIDATE_HASH = 1 << 1


class CsumFlags(enum.IntFlag):
    """bpf_l3/l4_csum_replace flags (the low 4 bits are the field size: 0, 2 or 4)."""

    HDR_FIELD_MASK = 0xF
    PSEUDO_HDR = 1 << 4
    MARK_MANGLED_0 = 1 << 5
    MARK_ENFORCE = 1 << 6
    IPV6 = 1 << 7


class AdjRoomMode(enum.IntEnum):
    """bpf_skb_adjust_room mode: where the room is made or removed."""

    NET = 0  # after the network header (its fixed part)
    MAC = 1  # after the MAC header


class AdjRoomFlags(enum.IntFlag):
    """bpf_skb_adjust_room flags."""

    FIXED_GSO = 1 << 0
    ENCAP_L3_IPV4 = 1 << 1
    ENCAP_L3_IPV6 = 1 << 2
    ENCAP_L4_GRE = 1 << 3
    ENCAP_L4_UDP = 1 << 4
    NO_CSUM_RESET = 1 << 5
    ENCAP_L2_ETH = 1 << 6
    DECAP_L3_IPV4 = 1 << 7
    DECAP_L3_IPV6 = 1 << 8
    ENCAP_L2_MASK = 0xFF << 56


_ENCAP = (AdjRoomFlags.ENCAP_L3_IPV4 | AdjRoomFlags.ENCAP_L3_IPV6 | AdjRoomFlags.ENCAP_L4_GRE
          | AdjRoomFlags.ENCAP_L4_UDP | AdjRoomFlags.ENCAP_L2_ETH | AdjRoomFlags.ENCAP_L2_MASK)
_DECAP = AdjRoomFlags.DECAP_L3_IPV4 | AdjRoomFlags.DECAP_L3_IPV6
_ADJ_ROOM_KNOWN = int(_ENCAP | _DECAP | AdjRoomFlags.FIXED_GSO | AdjRoomFlags.NO_CSUM_RESET)


def _err(code: int) -> int:
    return -code & M64


def _packet(rt: Runtime) -> Packet:
    packet: Packet | None = rt.state.packet
    if packet is None:
        raise VMError("this helper needs a packet; run the program with data=")
    return packet


# ---- ones' complement arithmetic as x86-64 does it -------------------------------------------

def csum_add(csum: int, addend: int) -> int:
    """32-bit add with end-around carry."""
    total = (csum & M32) + (addend & M32)
    return (total + (total >> 32)) & M32


def csum_fold(csum: int) -> int:
    """A 32-bit partial sum folded to the 16-bit checksum (complemented), x86-64's way."""
    csum &= M32
    t = (csum & 0xFFFF0000) + ((csum << 16) & M32)
    t = (t & M32) + 0xFFFF + (t >> 32)
    return (~t & M32) >> 16


def _csum16_add(csum: int, addend: int) -> int:
    res = (csum + addend) & 0xFFFF
    return (res + (res < (addend & 0xFFFF))) & 0xFFFF


def _replace2(field: int, old: int, new: int) -> int:
    """csum_replace2: 16-bit arithmetic."""
    return ~_csum16_add(_csum16_add(~field & 0xFFFF, ~old & 0xFFFF), new & 0xFFFF) & 0xFFFF


def _replace4(field: int, old: int, new: int) -> int:
    """csum_replace4 (and replace2 widened to 32 bits, as the l4 helper does it)."""
    tmp = csum_add(~field & M32, ~old & M32)
    return csum_fold(csum_add(tmp, new))


def _replace_by_diff(field: int, diff: int) -> int:
    return csum_fold(csum_add(diff, ~field & M32))


def _writable(packet: Packet, length: int) -> int:
    """bpf_try_make_writable: 0, or -ENOMEM when the skb is shorter than ``length``."""
    return 0 if length <= len(packet.skb_view()) else -errno.ENOMEM


# ---- helpers ---------------------------------------------------------------------------------

def skb_store_bytes(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_store_bytes(skb, offset, from, len, flags)."""
    packet = _packet(rt)
    off, size = r2 & M32, r4 & M32
    if r5 & ~int(StoreFlags.RECOMPUTE_CSUM | StoreFlags.INVALIDATE_HASH):
        return _err(errno.EINVAL)
    if off > 0x7FFFFFFF:
        return _err(errno.EFAULT)
    if _writable(packet, (off + size) & M32):
        return _err(errno.EFAULT)
    packet.write_data(off, rt.memory.read(r3, size))
    return 0


def _csum_field(rt: Runtime, offset: int, flags: int, known: int) -> tuple[Packet, int, int, int] | int:
    """The l3/l4_csum_replace prologue: (packet, checksum field offset, the field's value, the
    size flag), or the error for flags outside ``known``, an odd or too large offset, or a field
    past the end of the skb."""
    if flags & ~known:
        return _err(errno.EINVAL)
    packet = _packet(rt)
    if offset > 0xFFFF or offset & 1:
        return _err(errno.EFAULT)
    if _writable(packet, offset + 2):
        return _err(errno.EFAULT)
    field = int.from_bytes(packet.skb_view()[offset:offset + 2], "little")
    return packet, offset, field, flags & CsumFlags.HDR_FIELD_MASK


def l3_csum_replace(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_l3_csum_replace(skb, offset, from, to, size): 2- or 4-byte field, or a diff (size 0)."""
    found = _csum_field(rt, r2 & M32, r5, int(CsumFlags.HDR_FIELD_MASK))
    if isinstance(found, int):
        return found
    packet, off, field, size = found
    if size == 0:
        if r3:
            return _err(errno.EINVAL)
        new = _replace_by_diff(field, r4)
    elif size == 2:
        new = _replace2(field, r3 & 0xFFFF, r4 & 0xFFFF)
    elif size == 4:
        new = _replace4(field, r3 & M32, r4 & M32)
    else:
        return _err(errno.EINVAL)
    packet.write_data(off, new.to_bytes(2, "little"))
    return 0


def l4_csum_replace(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_l4_csum_replace(skb, offset, from, to, flags). The VM's skb carries no offloaded
    checksum (CHECKSUM_NONE), so the pseudo-header flag changes nothing, as in a kernel test run."""
    known = int(CsumFlags.HDR_FIELD_MASK | CsumFlags.PSEUDO_HDR | CsumFlags.MARK_MANGLED_0
                | CsumFlags.MARK_ENFORCE | CsumFlags.IPV6)
    found = _csum_field(rt, r2 & M32, r5, known)
    if isinstance(found, int):
        return found
    packet, off, field, size = found
    mangled_zero = bool(r5 & CsumFlags.MARK_MANGLED_0)
    if mangled_zero and not r5 & CsumFlags.MARK_ENFORCE and not field:
        return 0  # a UDP packet without a checksum keeps none
    if size == 0:
        if r3:
            return _err(errno.EINVAL)
        new = _replace_by_diff(field, r4)
    elif size in (2, 4):
        mask = 0xFFFF if size == 2 else M32
        new = _replace4(field, r3 & mask, r4 & mask)
    else:
        return _err(errno.EINVAL)
    if mangled_zero and not new:
        new = CSUM_MANGLED_0
    packet.write_data(off, new.to_bytes(2, "little"))
    return 0


def skb_pull_data(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_pull_data(skb, len): the VM's skb is all linear; only a length beyond it fails."""
    return _err(errno.ENOMEM) if _writable(_packet(rt), r2 & M32) else 0


def _network_offset(packet: Packet) -> int:
    """Where the network header starts in the data the program sees: after the Ethernet header
    when the program sees it (tc), at 0 when the kernel hides it (lwt, socket filters)."""
    from ..contexts import ETH_HLEN

    return 0 if packet.l2 else ETH_HLEN


def skb_change_tail(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_change_tail(skb, len, flags): trim, or grow with zeros."""
    packet = _packet(rt)
    new_len = r2 & M32
    data = packet.skb_view()
    if r3 or new_len > SKB_MAX_LEN or new_len < _network_offset(packet):
        return _err(errno.EINVAL)
    packet.replace_data(data[:new_len] + bytes(max(new_len - len(data), 0)))
    return 0


def skb_change_head(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_change_head(skb, len, flags): ``len`` zero bytes in front (a new MAC header)."""
    packet = _packet(rt)
    room = r2 & M32
    data = packet.skb_view()
    new_len = (len(data) + room) & M32
    if r3 or new_len > SKB_MAX_LEN or new_len < len(data):
        return _err(errno.EINVAL)
    packet.replace_data(bytes(room) + data)
    return 0


def _net_base_len(protocol: int) -> int:
    return {ETH_P_IP: 20, ETH_P_IPV6: 40}.get(protocol, 0)


def skb_adjust_room(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_adjust_room(skb, len_diff, mode, flags): insert zero bytes, or remove bytes, after
    the MAC header (MAC mode) or after the fixed network header (NET mode). Encapsulation flags
    (which also rewrite skb metadata the VM does not model) stop the program with an error."""
    packet = _packet(rt)
    diff = r2 & M32
    diff = diff - (1 << 32) if diff >> 31 else diff
    flags, mode = r4, r3 & M32
    if flags & ~_ADJ_ROOM_KNOWN:
        return _err(errno.EINVAL)
    if abs(diff) > ADJ_ROOM_MAX_DIFF:
        return _err(errno.EFAULT)
    protocol = _skb_protocol(rt)
    if protocol not in (ETH_P_IP, ETH_P_IPV6):
        return _err(ENOTSUPP)
    mac_len = _network_offset(packet)
    base = _net_base_len(protocol)
    if mode == AdjRoomMode.NET:
        off = mac_len + base
    elif mode == AdjRoomMode.MAC:
        off = mac_len
    else:
        return _err(ENOTSUPP)
    shrink = diff < 0
    len_min = base
    if flags & _DECAP:
        if not shrink:
            return _err(errno.EINVAL)
        decap = flags & _DECAP
        if decap == AdjRoomFlags.DECAP_L3_IPV4:
            len_min = 20
        elif decap == AdjRoomFlags.DECAP_L3_IPV6:
            len_min = 40
        else:
            return _err(errno.EINVAL)
    data = packet.skb_view()
    len_cur = len(data) - mac_len
    if shrink and (-diff >= len_cur or len_cur + diff < len_min):
        return _err(ENOTSUPP)
    if not shrink and len(data) + diff > SKB_MAX_LEN:
        return _err(ENOTSUPP)
    if flags & _ENCAP:
        if shrink:
            return _err(errno.EINVAL)
        raise VMError("bpf_skb_adjust_room with encapsulation flags (BPF_F_ADJ_ROOM_ENCAP_*) is not modelled in "
                      "the VM; grow the room without them and write the headers with bpf_skb_store_bytes")
    if shrink:
        if off - diff > len(data):
            return _err(errno.ENOMEM)
        packet.replace_data(data[:off] + data[off - diff:])
    else:
        packet.replace_data(data[:off] + bytes(diff) + data[off:])
    return 0


def _skb_protocol(rt: Runtime) -> int:
    """skb->protocol (host order) from the __sk_buff context (stored as the wire's big-endian u16)."""
    from ..memory import CTX_REGION

    raw = rt.memory.slow_load((CTX_REGION << 32) + 16, 4)
    return int.from_bytes(raw.to_bytes(4, "little")[:2], "big")


HELPERS: dict[int, Callable[..., int]] = {
    9: skb_store_bytes,
    10: l3_csum_replace,
    11: l4_csum_replace,
    38: skb_change_tail,
    39: skb_pull_data,
    43: skb_change_head,
    50: skb_adjust_room,
}
