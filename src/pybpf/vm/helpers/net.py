"""Packet helpers: xdp_adjust_head/tail/meta, skb_load_bytes, the redirect family (recorded as
the run's verdict)."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Callable

from ..memory import VMError

if TYPE_CHECKING:
    from ..contexts import Packet
    from ..runtime import Runtime

M64 = (1 << 64) - 1


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _packet(rt: Runtime) -> Packet:
    packet: Packet | None = rt.state.packet
    if packet is None:
        raise VMError("this helper needs a packet; run the program with data=")
    return packet


def xdp_adjust_head(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _packet(rt).adjust_head(_s32(r2)) & M64


def xdp_adjust_tail(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _packet(rt).adjust_tail(_s32(r2)) & M64


def xdp_adjust_meta(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _packet(rt).adjust_meta(_s32(r2)) & M64


def skb_load_bytes(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_skb_load_bytes(skb, offset, to, len)."""
    data = _packet(rt).skb_view()
    off, size = r2 & 0xFFFFFFFF, r4 & 0xFFFFFFFF
    if off + size > len(data) or size == 0:
        rt.memory.write(r3, bytes(size))
        return -errno.EFAULT & M64
    rt.memory.write(r3, bytes(data[off:off + size]))
    return 0


def redirect(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    rt.state.redirect = ("redirect", r1 & 0xFFFFFFFF, r2)
    return rt.state.redirect_ret


def redirect_map(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_redirect_map(map, key, flags): XDP_REDIRECT when the slot is filled, else the action
    in the low bits of ``flags``."""
    m = rt.map_of(r1)
    key = (r2 & 0xFFFFFFFF).to_bytes(4, "little")[:m.key_size].ljust(m.key_size, b"\0")
    raw = m.raw_get(key)
    if raw is None or not any(raw):
        return r3 & 3
    rt.state.redirect = ("redirect_map", m.name, r2 & 0xFFFFFFFF, r3)
    return 4  # XDP_REDIRECT


def redirect_other(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    rt.state.redirect = ("redirect", r1 & 0xFFFFFFFF, r2)
    return 7  # TC_ACT_REDIRECT


HELPERS: dict[int, Callable[..., int]] = {
    23: redirect,
    26: skb_load_bytes,
    44: xdp_adjust_head,
    51: redirect_map,
    54: xdp_adjust_meta,
    65: xdp_adjust_tail,
    152: redirect_other,  # redirect_neigh
    155: redirect_other,  # redirect_peer
}
