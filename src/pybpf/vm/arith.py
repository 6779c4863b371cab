"""Runtime functions the interpreter's generated code calls for what Python has no operator for:
signed division and modulo with eBPF's rules, byte swaps, sign extension, and packed
little-endian loads and stores by size."""

from __future__ import annotations

import struct

__all__ = ["LOAD_UNSIGNED", "LOAD_SIGNED", "STORE", "sdiv", "smod", "bswap", "sext"]

#: size in bytes -> unpack_from / pack_into of a little-endian integer of that size
LOAD_UNSIGNED = {n: struct.Struct("<" + c).unpack_from for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}
LOAD_SIGNED = {n: struct.Struct("<" + c).unpack_from for n, c in ((1, "b"), (2, "h"), (4, "i"), (8, "q"))}
STORE = {n: struct.Struct("<" + c).pack_into for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


def sdiv(a: int, b: int, bits: int) -> int:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    a &= mask
    b &= mask
    if b == 0:
        return 0
    sa, sb = (a ^ sign) - sign, (b ^ sign) - sign
    q = abs(sa) // abs(sb)
    if (sa < 0) != (sb < 0):
        q = -q
    return q & mask


def smod(a: int, b: int, bits: int) -> int:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    a &= mask
    b &= mask
    if b == 0:
        return a
    sa, sb = (a ^ sign) - sign, (b ^ sign) - sign
    r = abs(sa) % abs(sb)
    if sa < 0:
        r = -r
    return r & mask


def bswap(value: int, nbytes: int) -> int:
    return int.from_bytes((value & ((1 << (nbytes * 8)) - 1)).to_bytes(nbytes, "little"), "big")


def sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return ((value & ((1 << bits) - 1)) ^ sign) - sign
