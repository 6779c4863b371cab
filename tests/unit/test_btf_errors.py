"""Malformed BTF raises BTFError saying what is wrong, and only BTFError (property test)."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from btf_data import compiled, section
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, Int, IntEncoding, Kind, Struct, kernel_btf
from pybpf.btf.ext import BTFExt
from pybpf.errors import BTFError

HDR = struct.Struct("<HBBIIIII")


def blob(types: bytes, strings: bytes, **override: int) -> bytes:
    fields = dict(magic=0xEB9F, version=1, flags=0, hdr_len=24, type_off=0, type_len=len(types),
                  str_off=len(types), str_len=len(strings))
    fields.update(override)
    return HDR.pack(*fields.values()) + types + strings


INT_REC = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)  # INT "int" size 4 signed 32 bits
STRS = b"\0int\0"


def test_minimal_blob_parses() -> None:
    btf = BTF.from_bytes(blob(INT_REC, STRS))
    assert btf[1] == Int("int", 4, IntEncoding.SIGNED, 32, 0)


@pytest.mark.parametrize("data, message", [
    (b"", "too short"),
    (b"\x9f\xeb\x01\x00", "too short"),
    (blob(INT_REC, STRS, magic=0x1234), "bad BTF magic 0x1234"),
    (blob(INT_REC, STRS, version=2), "unsupported BTF version 2"),
    (blob(INT_REC, STRS, hdr_len=16), "header length 16 is shorter"),
    (blob(INT_REC, STRS, hdr_len=4096), "header length 4096 is beyond"),
    (blob(INT_REC, STRS, type_len=4000), "type section .* out of bounds"),
    (blob(INT_REC, STRS, str_len=4000), "string section .* out of bounds"),
    (blob(INT_REC, STRS, type_len=6), "not 4-byte aligned"),
    (blob(INT_REC, STRS, str_off=0), "overlap"),
    (blob(INT_REC[:12], STRS), "truncated BTF type record at byte 0"),
    (blob(struct.pack("<III", 1, 25 << 24, 4), STRS), "unknown BTF kind 25"),
    (blob(struct.pack("<III", 1, 0, 4), STRS), "unknown BTF kind 0"),
    (blob(INT_REC, b"\0int"), "does not end with a NUL"),
    (blob(INT_REC, b"int\0"), "does not start with the empty string"),
])
def test_bad_blob_at_open(data: bytes, message: str) -> None:
    with pytest.raises(BTFError, match=message):
        BTF.from_bytes(data)


@pytest.mark.parametrize("types, message", [
    (struct.pack("<IIII", 99, 1 << 24, 4, 32), "string offset 99 is out of bounds"),
    (struct.pack("<III", 0, 2 << 24, 7), "PTR refers to type id 7, out of range"),
    (struct.pack("<IIII", 1, 1 << 24, 3, 32), "INT 'int' has an invalid layout"),
    (struct.pack("<IIIIII", 1, (4 << 24) | 1, 4, 1, 9, 0), "member .int. of struct int refers to type id 9"),
    (struct.pack("<III", 1, (12 << 24) | 7, 0), "FUNC 'int' has unknown linkage 7"),
])
def test_bad_record_on_access(types: bytes, message: str) -> None:
    btf = BTF.from_bytes(blob(types, STRS))  # lazy: records are checked when decoded
    with pytest.raises(BTFError, match=message):
        btf[1]
    with pytest.raises(BTFError, match=message):
        btf.validate()


def test_missing_file_and_non_btf_elf(tmp_path: Path) -> None:
    with pytest.raises(BTFError, match="cannot read BTF"):
        BTF.from_file(tmp_path / "missing")
    obj = tmp_path / "nobtf.o"
    from pybpf.cc import compile as cc

    cc("int x;\n", output=obj, cflags=["-g0"])
    with pytest.raises(BTFError, match="no .BTF section"):
        BTF.from_file(obj)


def test_reference_loop_is_reported() -> None:
    # [1] TYPEDEF a -> 2, [2] CONST -> 1
    types = struct.pack("<III", 1, 8 << 24, 2) + struct.pack("<III", 0, 10 << 24, 1)
    btf = BTF.from_bytes(blob(types, b"\0a\0"))
    with pytest.raises(BTFError, match="loop"):
        btf.resolve(1)
    with pytest.raises(BTFError, match="loop"):
        btf.size_of(1)


# --- property test -----------------------------------------------------------------------


def _vmlinux_slice(count: int = 150) -> bytes:
    """The first ``count`` types of the kernel BTF, references beyond the slice pointed at void."""
    vm = kernel_btf()
    fixed = []
    for tid in range(1, count + 1):
        t = vm[tid]
        changes = {}
        for f in ("type_id", "elem_type_id", "index_type_id", "return_type_id"):
            if getattr(t, f, 0) > count:
                changes[f] = 0
        if isinstance(t, Struct) or hasattr(t, "members"):
            changes["members"] = tuple(dataclasses.replace(m, type_id=m.type_id if m.type_id <= count else 0)
                                       for m in t.members)  # type: ignore[union-attr]
        if hasattr(t, "params"):
            changes["params"] = tuple(dataclasses.replace(p, type_id=p.type_id if p.type_id <= count else 0)
                                      for p in t.params)  # type: ignore[union-attr]
        fixed.append(dataclasses.replace(t, **changes) if changes else t)
    return BTF.from_types(fixed).to_bytes()


def _seed_blobs() -> list[bytes]:
    seeds = [section(compiled("kinds"), ".BTF"), section(compiled("core"), ".BTF")]
    if Path("/sys/kernel/btf/vmlinux").exists():
        seeds.append(_vmlinux_slice())
    return seeds


SEEDS = _seed_blobs()


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    how = draw(st.sampled_from(["truncate", "flip", "header", "splice"]))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "header":
        fields = list(HDR.unpack_from(data))
        idx = draw(st.integers(3, 7))  # hdr_len, type_off, type_len, str_off, str_len
        fields[idx] = draw(st.one_of(st.integers(0, 64), st.integers(0, len(data) + 64), st.integers(0, 2**32 - 1)))
        if draw(st.booleans()):  # and sometimes magic / version / flags
            which = draw(st.integers(0, 2))
            fields[which] = draw(st.integers(0, 0xFFFF if which == 0 else 255))
        return HDR.pack(*fields) + bytes(data[24:])
    start = draw(st.integers(24, len(data)))
    junk = draw(st.binary(min_size=1, max_size=32))
    return bytes(data[:start]) + junk + bytes(data[start + draw(st.integers(0, 32)):])


def _exercise(btf: BTF) -> None:
    for tid, t in btf.types():
        btf.name_of(tid)
        btf.resolve(tid)
        if t.name:
            btf.find(t.name, t.kind)
        try:
            size = btf.size_of(tid)
        except BTFError:
            continue
        if 0 < size <= 512 and t.kind not in (Kind.FUNC, Kind.FUNC_PROTO):
            try:
                raw = bytes(range(256)) * 2
                value = btf.decode_value(tid, raw[:size])
                btf.format_value(tid, raw[:size])
                btf.encode_value(tid, value)
            except BTFError:
                pass
    BTF.from_bytes(btf.to_bytes())


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          database=None)
@given(corrupted())
def test_corrupted_btf_raises_only_btferror(data: bytes) -> None:
    try:
        btf = BTF.from_bytes(data)
        _exercise(btf)
    except BTFError:
        pass


EXT_SEED = section(compiled("core"), ".BTF.ext"), BTF.from_bytes(section(compiled("core"), ".BTF"))


@settings(max_examples=10_000, deadline=None, database=None)
@given(st.data())
def test_corrupted_btf_ext_raises_only_btferror(data: st.DataObject) -> None:
    raw, btf = bytearray(EXT_SEED[0]), EXT_SEED[1]
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    for _ in range(data.draw(st.integers(0, 6))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        BTFExt.from_bytes(bytes(raw), btf)
    except BTFError:
        pass


@pytest.mark.parametrize("cut", [16, 64, 500, 1000, 2000, -200, -40])
def test_truncated_elf_file_raises_btferror(tmp_path: Path, cut: int) -> None:
    data = compiled("kinds").read_bytes()
    bad = tmp_path / "bad.o"
    bad.write_bytes(data[:cut])
    with pytest.raises(BTFError):
        BTF.from_file(bad).validate()
