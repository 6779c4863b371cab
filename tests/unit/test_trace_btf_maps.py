"""Maps of compiled bpftrace scripts are BTF-defined (``.maps``, libbpf's convention): each map's
key and value types are in the object's BTF, so tools (and pybpf's own map codecs) decode them."""

from __future__ import annotations

import struct

from test_trace_codegen import compile_

from pybpf.btf.types import Datasec
from pybpf.enums import MapType
from pybpf.maps.codec import BTFCodec
from pybpf.trace.codegen.maps import RINGBUF_SIZE
from pybpf.trace.codegen import btfmaps as B

PROGRAM = ('tracepoint:syscalls:sys_enter_openat { @c[comm, pid] = count(); @lo = min(pid); @h[comm] = hist(pid); '
           '@s[pid] = comm; @a = avg(pid); @k[kstack] = count(); }')


def test_every_map_is_in_the_maps_datasec_not_the_legacy_section() -> None:
    cs = compile_(PROGRAM)
    btf = cs.object_spec.btf
    assert btf is not None
    sections = {t.name: t for _, t in btf.types() if isinstance(t, Datasec)}
    assert ".maps" in sections and "maps" not in sections
    assert b"\x00maps\x00" not in cs.elf  # no legacy section name in the string table
    described = {btf.name_of(v.type_id) for v in sections[".maps"].vars}
    assert set(cs.object_spec.maps) == described


def _decode(cs, map_name: str, which: str, raw: bytes):  # type: ignore[no-untyped-def]
    ms = cs.object_spec.maps[map_name]
    tid, size = (ms.key_type_id, ms.key_size) if which == "key" else (ms.value_type_id, ms.value_size)
    assert tid, f"{map_name} has no BTF {which} type"
    return BTFCodec(cs.object_spec.btf, tid, size, what=which).decode(raw)


def test_keys_and_values_decode_through_their_btf_types() -> None:
    cs = compile_(PROGRAM)
    b = cs.maps
    # a (comm, pid) tuple key: a struct of a char[16] and the pid
    key = _decode(cs, b["@c"].bpf_name, "key", b"cat".ljust(16, b"\0") + struct.pack("<Q", 42))
    assert key["e0"] in ("cat", b"cat") and key["e1"] == 42
    assert _decode(cs, b["@c"].bpf_name, "value", struct.pack("<Q", 7)) == 7
    assert _decode(cs, b["@lo"].bpf_name, "value", struct.pack("<qQ", -5, 1)) == {"value": -5, "set": 1}
    assert _decode(cs, b["@a"].bpf_name, "value", struct.pack("<Qq", 2, 10)) == {"count": 2, "total": 10}
    hkey = _decode(cs, b["@h"].bpf_name, "key", b"sh".ljust(16, b"\0") + struct.pack("<Q", 3))
    assert hkey["bucket"] == 3
    assert _decode(cs, b["@s"].bpf_name, "value", b"x".ljust(16, b"\0")) in ("x", b"x")


def test_maps_the_kernel_takes_no_types_for_are_described_by_size() -> None:
    cs = compile_(PROGRAM)
    kinds = {ms.type: ms for ms in cs.object_spec.maps.values()}
    ring, stack = kinds[MapType.RINGBUF], kinds[MapType.STACK_TRACE]
    assert (ring.key_type_id, ring.value_type_id, ring.max_entries) == (0, 0, RINGBUF_SIZE)
    assert (stack.key_type_id, stack.value_type_id, stack.key_size, stack.value_size) == (0, 0, 4, 8 * 127)
    scratch = cs.object_spec.maps["scratch"]
    assert scratch.value_size >= 16 and scratch.key_type_id  # grown after code generation, u32 index key


def test_shapes_fall_back_to_bytes_of_the_stored_size() -> None:
    from pybpf.trace.types import IntType, StringType

    assert B.shape_of(IntType(32, False), 4) == B.U32
    assert B.shape_of(StringType(16), 16) == B.Bytes(16, text=True)
    assert B.shape_of(IntType(32, False), 8) == B.Bytes(8)  # stored wider than the type: raw bytes
