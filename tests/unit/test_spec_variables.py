"""Encoding and decoding global variables: one rule for the spec, the kernel and the VM collections."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF
from pybpf.btf.types import Int, IntEncoding
from pybpf.errors import BPFError, VariableEncodingError
from pybpf.spec import VariableSpec, decode_variable, encode_variable


def test_typed_variable_round_trips_through_btf() -> None:
    btf = BTF.from_types([Int("int", 4, IntEncoding.SIGNED, 32)])
    var = VariableSpec("min_us", ".rodata", 0, 4, 1)
    raw = encode_variable(btf, var, -7)
    assert raw == (-7).to_bytes(4, "little", signed=True)
    assert decode_variable(btf, var, raw) == -7


def test_untyped_variable_takes_and_gives_bytes_only() -> None:
    var = VariableSpec("blob", ".data", 0, 4, 0)
    assert encode_variable(None, var, b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    assert decode_variable(None, var, b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    with pytest.raises(VariableEncodingError, match="'blob' has no BTF type.*assign bytes") as info:
        encode_variable(None, var, 5)
    assert isinstance(info.value, TypeError) and isinstance(info.value, BPFError)
    with pytest.raises(ValueError, match="'blob' is 4 bytes, got 2"):
        encode_variable(None, var, b"\x01\x02")
