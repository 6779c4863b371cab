"""decode_value / encode_value / format_value over the types of a compiled object and vmlinux."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from btf_data import compiled

from pybpf.btf import BTF, Kind, kernel_btf
from pybpf.btf.values import EnumInt, StructValue
from pybpf.errors import BTFError

EVENT = {
    "pid": -5, "uid": 7, "comm": b"bash", "color": "BLUE", "sign": -3, "big": 0x1234567890,
    "flags": {"a": 5, "b": 31, "c": -64, "d": 200, "e": (1 << 40) - 1}, "num": {"u": 0x41424344},
    "ratio": 0.5, "ok": True, "cv": -2, "op": 0xFFFF888812345678, "small": [1, -2, 3],
    "matrix": [[1, 2, 3], [4, 5, 6]],
}


@pytest.fixture(scope="module")
def btf() -> BTF:
    return BTF.from_file(compiled("kinds"))


@pytest.fixture(scope="module")
def event_id(btf: BTF) -> int:
    return btf.find_one("event", Kind.STRUCT)


def test_encode_lays_out_bytes_like_c(btf: BTF, event_id: int) -> None:
    raw = btf.encode_value(event_id, EVENT)
    assert len(raw) == 152
    assert struct.unpack_from("<iI16s", raw, 0) == (-5, 7, b"bash" + bytes(12))
    assert struct.unpack_from("<I", raw, 24) == (4,)  # color = BLUE
    assert struct.unpack_from("<i", raw, 28) == (-3,)
    assert struct.unpack_from("<Q", raw, 32) == (0x1234567890,)
    # flags: a:3 @0, b:5 @3, c:7 @8 (signed), d @16 (byte), e:40 @24
    word = int.from_bytes(raw[40:48], "little")
    assert word & 0x7 == 5 and (word >> 3) & 0x1F == 31 and (word >> 8) & 0x7F == (-64 & 0x7F)
    assert (word >> 16) & 0xFF == 200 and word >> 24 == (1 << 40) - 1
    assert raw[48:52] == b"DCBA"
    assert struct.unpack_from("<d", raw, 56) == (0.5,)
    assert raw[64] == 1
    assert struct.unpack_from("<Q", raw, 72) == (0xFFFF888812345678,)


def test_decode_gives_attribute_and_mapping_access(btf: BTF, event_id: int) -> None:
    value = btf.decode_value(event_id, btf.encode_value(event_id, EVENT))
    assert isinstance(value, StructValue)
    assert value.pid == value["pid"] == -5
    assert value.comm == b"bash"
    assert value.color == 4 and isinstance(value.color, EnumInt) and value.color.name == "BLUE"
    assert value.sign == -3 and value.sign.name == "NEG"
    assert value.flags.c == -64 and value.flags["e"] == (1 << 40) - 1
    assert value.num.u == 0x41424344 and value.num.bytes == b"DCBA"
    assert value.ok is True and value.ratio == 0.5
    assert value.small == [1, -2, 3] and value.matrix == [[1, 2, 3], [4, 5, 6]]
    assert value.op == 0xFFFF888812345678 and value.opu == 0
    assert list(value)[:3] == ["pid", "uid", "comm"] and len(value) == 16
    with pytest.raises(AttributeError, match="no member 'nope'"):
        value.nope  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        value.pid = 1


def test_decoded_value_encodes_back_identically(btf: BTF, event_id: int) -> None:
    raw = btf.encode_value(event_id, EVENT)
    value = btf.decode_value(event_id, raw)
    assert btf.encode_value(event_id, value) == raw
    assert btf.encode_value(event_id, value.to_dict()) == raw
    assert value == value.to_dict()


def test_format_value(btf: BTF, event_id: int) -> None:
    text = btf.format_value(event_id, btf.encode_value(event_id, EVENT))
    assert text.startswith('{ .pid = -5, .uid = 7, .comm = "bash", .color = BLUE, .sign = NEG, .big = BIG_HUGE, ')
    assert ".flags = { .a = 5, .b = 31, .c = -64, .d = 200, .e = 1099511627775 }" in text
    assert ".ok = true" in text and ".op = 0xffff888812345678" in text
    assert text.endswith(".small = [1, -2, 3], .matrix = [[1, 2, 3], [4, 5, 6]] }")


def test_datasec_value(btf: BTF) -> None:
    bss = btf.find_one(".bss", Kind.DATASEC)
    raw = btf.encode_value(bss, {"hidden_total": 42, "last_event": {"pid": 9}})
    assert len(raw) == 160 and struct.unpack_from("<Q", raw, 152) == (42,)
    value = btf.decode_value(bss, raw)
    assert value.hidden_total == 42 and value.last_event.pid == 9
    assert btf.decode_value(btf.find_one("hidden_total", Kind.VAR), raw[152:]) == 42


def test_encode_errors_name_the_problem(btf: BTF, event_id: int) -> None:
    with pytest.raises(BTFError, match=r"no member\(s\) \['nope'\]"):
        btf.encode_value(event_id, {"nope": 1})
    with pytest.raises(BTFError, match="does not fit"):
        btf.encode_value(event_id, {"pid": 1 << 40})
    with pytest.raises(BTFError, match="does not fit bitfield 'a'"):
        btf.encode_value(event_id, {"flags": {"a": 8}})
    with pytest.raises(BTFError, match="17 bytes do not fit char"):
        btf.encode_value(event_id, {"comm": b"x" * 17})
    with pytest.raises(BTFError, match="no enumerator 'PURPLE'"):
        btf.encode_value(event_id, {"color": "PURPLE"})
    with pytest.raises(BTFError, match="needs 152 bytes, got 3"):
        btf.decode_value(event_id, b"abc")
    with pytest.raises(BTFError, match="no data layout"):
        btf.decode_value(btf.find_one("entry_fn", Kind.FUNC), b"")


def test_raw_bytes_pass_through(btf: BTF, event_id: int) -> None:
    raw = bytes(range(152))
    assert btf.encode_value(event_id, raw) == raw
    with pytest.raises(BTFError, match="must be 152 bytes"):
        btf.encode_value(event_id, raw[:-1])


@pytest.mark.skipif(not Path("/sys/kernel/btf/vmlinux").exists(), reason="kernel without BTF")
def test_vmlinux_anonymous_members_are_flattened() -> None:
    vmlinux = kernel_btf()
    tid = vmlinux.find_one("task_struct", Kind.STRUCT)
    value = {"pid": 1234, "tgid": 1200, "comm": b"bash", "__state": 1}
    decoded = vmlinux.decode_value(tid, vmlinux.encode_value(tid, value))
    assert (decoded.pid, decoded.tgid, decoded.comm, decoded["__state"]) == (1234, 1200, b"bash", 1)
    text = vmlinux.format_value(tid, vmlinux.encode_value(tid, value))
    assert '.pid = 1234' in text and '.comm = "bash"' in text


def test_decoded_values_copy_and_pickle(btf: BTF, event_id: int) -> None:
    import copy
    import pickle

    value = btf.decode_value(event_id, btf.encode_value(event_id, EVENT))
    for clone in (copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert clone == value and clone.flags.c == -64 and clone.color.name == "BLUE"
        assert btf.encode_value(event_id, clone) == btf.encode_value(event_id, value)


def _fixed_data_section(obj: Path, btf: BTF) -> tuple[BTF, int, bytes]:
    """The object's .data DATASEC with the offsets clang leaves to the loader filled in from symbols."""
    from elftools.elf.elffile import ELFFile

    from pybpf.btf import Datasec, VarSecInfo

    with open(obj, "rb") as f:
        elf = ELFFile(f)
        data = elf.get_section_by_name(".data")
        offsets = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()
                   if s["st_shndx"] == elf.get_section_index(".data")}
        raw = bytes(data.data())
    sec_id = btf.find_one(".data", Kind.DATASEC)
    sec = btf[sec_id]
    assert isinstance(sec, Datasec)
    fixed = Datasec(".data", len(raw), tuple(VarSecInfo(v.type_id, offsets[btf.name_of(v.type_id)], v.size)
                                              for v in sec.vars))
    return btf.with_types({sec_id: fixed}), sec_id, raw


def test_values_laid_out_by_clang_decode_and_encode_back() -> None:
    """Globals initialised in C, read from the object's .data: clang is the reference layout."""
    obj = compiled("values")
    btf, sec_id, raw = _fixed_data_section(obj, BTF.from_file(obj))
    value = btf.decode_value(sec_id, raw)
    assert value.counter == 7
    rec = value.rec
    assert (rec.pid, rec.comm, rec.d, rec.d.name) == (-42, b"bash", -1, "DOWN")
    assert rec.b.to_dict() == {"lo": 5, "neg": -9, "st": 4, "flag": True, "wide": 0x1234567891, "tail": -300}
    assert rec.b.st.name == "STOPPED"
    assert (rec.raw, rec.lo16, rec.hi16) == (0xBEEF1234, 0x1234, 0xBEEF)  # anonymous union + struct, flattened
    assert (rec.sc, rec.uc, rec.big, rec.ratio, rec.next) == ([-1, 2, -3], [200, 7], -1234567890123, 2.5, 0)
    assert rec.grid == [[1, -2], [3, -4]]
    assert btf.encode_value(sec_id, value) == raw  # and back, byte for byte (padding is zero in .data)
    expected = {"counter": 7, "rec": {
        "pid": -42, "comm": "bash", "b": {"lo": 5, "neg": -9, "st": "STOPPED", "flag": True,
                                          "wide": 0x1234567891, "tail": -300},
        "raw": 0xBEEF1234, "d": "DOWN", "sc": [-1, 2, -3], "uc": b"\xc8\x07", "big": -1234567890123,
        "ratio": 2.5, "grid": [[1, -2], [3, -4]]}}
    assert btf.encode_value(sec_id, expected) == raw  # from plain Python values too
    halves = btf.decode_value(sec_id, btf.encode_value(sec_id, {"rec": {"lo16": 0x1234, "hi16": 0xBEEF}}))
    assert halves.rec.raw == 0xBEEF1234  # the anonymous struct inside the anonymous union
    text = btf.format_value(sec_id, raw)
    assert text.startswith('{ .rec = { .pid = -42, .comm = "bash", .b = { .lo = 5, .neg = -9, .st = STOPPED, ')
    assert text.endswith(".next = 0x0, .grid = [[1, -2], [3, -4]] }, .counter = 7 }")
