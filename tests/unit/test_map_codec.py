"""Keys and values of a live map: the codecs (pure, no kernel)."""

from __future__ import annotations

import ctypes
import ipaddress
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.btf import BTF, Array, Int, IntEncoding, Member, Struct
from pybpf.errors import MapEncodingError
from pybpf.maps.codec import BTFCodec, FdCodec, LPMKey, LPMKeyCodec, PerCPUCodec, PerCPUValues, RawCodec

ORDER = sys.byteorder


def test_raw_codec_ints_for_power_of_two_sizes_bytes_otherwise() -> None:
    assert RawCodec(4).decode((7).to_bytes(4, ORDER)) == 7
    assert RawCodec(8).decode(b"\xff" * 8) == (1 << 64) - 1
    assert RawCodec(3).decode(b"abc") == b"abc"
    assert RawCodec(16).decode(bytes(16)) == bytes(16)
    assert RawCodec(4).encode(-1) == b"\xff" * 4  # negative ints as two's complement
    assert RawCodec(16).encode(1) == (1).to_bytes(16, ORDER)
    assert RawCodec(3).encode(bytearray(b"xyz")) == b"xyz"


def test_raw_codec_accepts_ctypes_structures_of_the_right_size() -> None:
    class Pair(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]

    assert RawCodec(8).encode(Pair(1, 2)) == (1).to_bytes(4, ORDER) + (2).to_bytes(4, ORDER)


def test_raw_codec_errors_say_the_expected_size() -> None:
    with pytest.raises(MapEncodingError, match=r"key must be 4 bytes \(u32\), got 2 bytes"):
        RawCodec(4, what="key").encode(b"ab")
    with pytest.raises(MapEncodingError, match="does not fit in 2 bytes"):
        RawCodec(2).encode(70000)
    with pytest.raises(MapEncodingError, match="must be an int or 4 bytes"):
        RawCodec(4).encode("text")


@given(st.lists(st.integers(0, (1 << 32) - 1), max_size=50))
def test_raw_codec_batch_round_trip(values: list[int]) -> None:
    c = RawCodec(4)
    packed = c.encode_many(values)
    assert packed == b"".join(c.encode(v) for v in values)
    assert c.decode_many(packed, len(values)) == values


def test_raw_codec_batch_with_negative_values_goes_per_item() -> None:
    c = RawCodec(8)
    assert c.encode_many([-1, 2]) == b"\xff" * 8 + (2).to_bytes(8, ORDER)
    with pytest.raises(MapEncodingError):
        c.encode_many([1 << 70])


def test_lpm_key_codec_from_networks_tuples_and_bytes() -> None:
    c = LPMKeyCodec(8)
    raw = c.encode(ipaddress.ip_network("10.1.0.0/16"))
    assert raw == (16).to_bytes(4, ORDER) + bytes([10, 1, 0, 0])
    assert c.decode(raw) == LPMKey(16, bytes([10, 1, 0, 0]))
    assert c.encode((8, b"\x0a")) == (8).to_bytes(4, ORDER) + bytes([10, 0, 0, 0])
    assert c.encode(ipaddress.ip_address("1.2.3.4")) == (32).to_bytes(4, ORDER) + bytes([1, 2, 3, 4])
    assert c.encode(raw) == raw
    with pytest.raises(MapEncodingError, match="does not fit"):
        c.encode(ipaddress.ip_network("::/0"))
    with pytest.raises(MapEncodingError, match="prefixlen"):
        c.encode(("8", b"\x0a"))


def test_fd_codec_takes_fds_and_objects_with_fd_and_reads_ids() -> None:
    class Prog:
        def __init__(self, fd: int) -> None:
            self.fd = fd

    class HasFileno:
        def fileno(self) -> int:
            return 9

    c = FdCodec(4, "program")
    assert c.encode(5) == (5).to_bytes(4, ORDER)
    assert c.encode(Prog(6)) == (6).to_bytes(4, ORDER)
    assert c.encode(HasFileno()) == (9).to_bytes(4, ORDER)
    assert c.decode((77).to_bytes(4, ORDER)) == 77
    with pytest.raises(MapEncodingError, match="stores programs"):
        c.encode("prog_name")


def test_percpu_codec_list_broadcast_and_padding() -> None:
    c = PerCPUCodec(RawCodec(4), 3)
    assert c.size == 24  # each CPU slot is rounded up to 8 bytes
    raw = c.encode([1, 2, 3])
    assert raw == b"".join((v).to_bytes(4, ORDER) + bytes(4) for v in (1, 2, 3))
    assert c.decode(raw) == [1, 2, 3] and isinstance(c.decode(raw), PerCPUValues)
    assert c.decode(c.encode(5)) == [5, 5, 5]
    with pytest.raises(MapEncodingError, match=r"one item per possible CPU \(3\), got 2"):
        c.encode([1, 2])


def test_percpu_sum_of_numbers_and_of_structs() -> None:
    assert PerCPUValues([1, 2, 3]).sum() == 6
    assert PerCPUValues([]).sum() == 0
    assert PerCPUValues([{"n": 1, "b": 2}, {"n": 3, "b": 4}]).sum() == {"n": 4, "b": 6}
    assert PerCPUValues([[1, 2], [3, 4]]).sum() == [4, 6]
    with pytest.raises(TypeError, match="cannot be summed"):
        PerCPUValues([b"a", b"b"]).sum()


def _btf() -> BTF:
    return BTF.from_types([
        Int("unsigned int", 4, IntEncoding.NONE, 32, 0),  # 1
        Int("char", 1, IntEncoding.SIGNED, 8, 0),  # 2
        Array(2, 1, 8),  # 3: char[8]
        Struct("rec", 12, (Member("n", 1, 0), Member("name", 3, 32))),  # 4
        Int("int", 4, IntEncoding.SIGNED, 32, 0),  # 5
        Array(1, 1, 2),  # 6: unsigned int[2]
    ])


def test_btf_codec_structs_round_trip_with_attribute_access() -> None:
    c = BTFCodec(_btf(), 4, 12)
    raw = c.encode({"n": 3, "name": b"abc"})
    value = c.decode(raw)
    assert value.n == 3 and value.name == b"abc"
    assert c.encode(value) == raw
    assert c.description == "struct rec"
    assert c.format(raw) == '{ .n = 3, .name = "abc" }'


def test_btf_codec_errors_name_the_type() -> None:
    c = BTFCodec(_btf(), 4, 12)
    with pytest.raises(MapEncodingError, match="struct rec"):
        c.encode({"missing": 1})
    with pytest.raises(MapEncodingError, match=r"must be 12 bytes \(struct rec\)"):
        c.encode(b"short")
    with pytest.raises(MapEncodingError, match="is 12 bytes but the map's value size is 16"):
        BTFCodec(_btf(), 4, 16)


def test_btf_codec_signed_int_batch_fast_path() -> None:
    c = BTFCodec(_btf(), 5, 4)
    packed = c.encode_many([-1, 5])
    assert c.decode_many(packed, 2) == [-1, 5]


def test_btf_array_values_are_not_mistaken_for_per_cpu_lists() -> None:
    elem = BTFCodec(_btf(), 6, 8)
    assert elem.sequence
    c = PerCPUCodec(elem, 2)
    assert c.decode(c.encode([1, 2])) == [[1, 2], [1, 2]]  # one array, broadcast
    assert c.decode(c.encode([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
