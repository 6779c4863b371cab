"""BTF of clang-compiled objects: parsed values, lookups, marshalling and the builder."""

from __future__ import annotations

import pytest
from btf_data import compiled, section

from pybpf.btf import (
    BTF, Array, Const, Datasec, DeclTag, Enum, Enum64, EnumValue, Float, Func, FuncLinkage,
    FuncProto, Fwd, Int, IntEncoding, Kind, Member, Param, Pointer, Struct, Typedef, TypeTag,
    Union_, Var, VarLinkage, VarSecInfo, Volatile,
)
from pybpf.errors import BTFError


@pytest.fixture(scope="module")
def raw() -> bytes:
    return section(compiled("kinds"), ".BTF")


@pytest.fixture(scope="module")
def btf(raw: bytes) -> BTF:
    return BTF.from_bytes(raw)


def member(btf: BTF, struct_name: str, name: str) -> Member:
    s = btf[btf.find_one(struct_name, Kind.STRUCT)]
    assert isinstance(s, (Struct, Union_))
    return next(m for m in s.members if m.name == name)


def test_from_file_reads_the_btf_section_of_an_elf(btf: BTF) -> None:
    other = BTF.from_file(compiled("kinds"))
    assert list(other.types()) == list(btf.types())


def test_struct_members_and_sizes(btf: BTF) -> None:
    ev = btf[btf.find_one("event", Kind.STRUCT)]
    assert isinstance(ev, Struct) and ev.size == 152 == btf.size_of(btf.find_one("event"))
    names = [m.name for m in ev.members]
    assert names[:4] == ["pid", "uid", "comm", "color"]
    comm = member(btf, "event", "comm")
    arr = btf[comm.type_id]
    assert isinstance(arr, Array) and arr.nelems == 16 and btf.name_of(arr.elem_type_id) == "char"
    assert comm.byte_offset == 8
    uid_t = btf[member(btf, "event", "uid").type_id]
    assert isinstance(uid_t, Typedef) and uid_t.name == "__u32"
    assert btf[btf.resolve(member(btf, "event", "uid").type_id)] == Int("unsigned int", 4, IntEncoding.NONE, 32, 0)
    matrix = member(btf, "event", "matrix")
    assert btf.size_of(matrix.type_id) == 48


def test_bitfields_use_kind_flag_encoding(btf: BTF) -> None:
    flags = btf[btf.find_one("flags", Kind.STRUCT)]
    assert isinstance(flags, Struct)
    got = [(m.name, m.bit_offset, m.bitfield_size) for m in flags.members]
    assert got == [("a", 0, 3), ("b", 3, 5), ("c", 8, 7), ("d", 16, 0), ("e", 24, 40)]


def test_enums_signed_unsigned_and_64(btf: BTF) -> None:
    color = btf[btf.find_one("color", Kind.ENUM)]
    assert color == Enum("color", 4, (EnumValue("RED", 1), EnumValue("GREEN", 2), EnumValue("BLUE", 4)), False)
    sign = btf[btf.find_one("sign", Kind.ENUM)]
    assert isinstance(sign, Enum) and sign.signed and sign.values[0] == EnumValue("NEG", -3)
    big = btf[btf.find_one("big", Kind.ENUM64)]
    assert isinstance(big, Enum64) and big.size == 8 and big.values[1].value == 0x1234567890


def test_fwd_struct_and_union(btf: BTF) -> None:
    assert btf[btf.find_one("opaque", Kind.FWD)] == Fwd("opaque", False)
    assert btf[btf.find_one("opaque_u", Kind.FWD)] == Fwd("opaque_u", True)


def test_modifiers_float_bool_and_type_tag(btf: BTF) -> None:
    cv = btf[member(btf, "event", "cv").type_id]
    assert isinstance(cv, Const)
    assert isinstance(btf[cv.type_id], Volatile)
    assert btf.resolve(member(btf, "event", "cv").type_id) == btf.find_one("short", Kind.INT)
    assert btf[btf.find_one("double", Kind.FLOAT)] == Float("double", 8)
    assert btf[btf.resolve(member(btf, "event", "ok").type_id)].encoding == IntEncoding.BOOL  # type: ignore[union-attr]
    ptr = btf[member(btf, "event", "tagged").type_id]
    assert isinstance(ptr, Pointer)
    tag = btf[ptr.type_id]
    assert tag == TypeTag("user", btf.find_one("int", Kind.INT), attribute=False)
    assert btf.resolve(ptr.type_id) == btf.find_one("int", Kind.INT)


def test_decl_tags(btf: BTF) -> None:
    tags = {t.name: t for _, t in btf.types() if isinstance(t, DeclTag)}
    assert tags["event_tag"].type_id == btf.find_one("event", Kind.STRUCT)
    assert tags["event_tag"].component_idx == -1
    assert tags["ctx_tag"].type_id == btf.find_one("entry_fn", Kind.FUNC)
    assert tags["ctx_tag"].component_idx == 0


def test_funcs_protos_vars_and_datasecs(btf: BTF) -> None:
    entry = btf[btf.find_one("entry_fn", Kind.FUNC)]
    assert isinstance(entry, Func) and entry.linkage is FuncLinkage.GLOBAL
    proto = btf[entry.type_id]
    assert isinstance(proto, FuncProto) and btf.name_of(proto.return_type_id) == "int"
    assert [p.name for p in proto.params] == ["ctx", "o"]
    helper = btf[btf.find_one("helper", Kind.FUNC)]
    assert isinstance(helper, Func) and helper.linkage is FuncLinkage.STATIC

    secs = {t.name: t for _, t in btf.types() if isinstance(t, Datasec)}
    assert set(secs) == {".bss", ".data", ".maps", ".rodata", "license"}
    bss_vars = {btf.name_of(v.type_id): (v.offset, v.size) for v in secs[".bss"].vars}
    assert bss_vars == {"last_event": (0, 152), "hidden_total": (152, 8)}
    hidden = btf[btf.find_one("hidden_total", Kind.VAR)]
    assert isinstance(hidden, Var) and hidden.linkage is VarLinkage.STATIC
    limit = btf[btf.find_one("limit", Kind.VAR)]
    assert isinstance(limit, Var) and limit.linkage is VarLinkage.GLOBAL_ALLOCATED
    assert isinstance(btf[limit.type_id], Const)
    events = btf[btf.find_one("events", Kind.VAR)]
    assert isinstance(events, Var)
    map_def = btf[events.type_id]
    assert isinstance(map_def, Struct) and [m.name for m in map_def.members] == ["type", "max_entries", "key", "value"]


def test_find_by_kind_filters(btf: BTF) -> None:
    assert btf.find("event") == [btf.find_one("event", Kind.STRUCT), *btf.find("event", Kind.VAR)]
    assert btf.find("event", Kind.UNION) == []
    assert btf.find("") == []  # anonymous types are not indexed
    with pytest.raises(BTFError, match="no type STRUCT 'nope'"):
        btf.find_one("nope", Kind.STRUCT)


def test_size_of_rejects_unsized_kinds(btf: BTF) -> None:
    with pytest.raises(BTFError, match="has no size"):
        btf.size_of(btf.find_one("entry_fn", Kind.FUNC))
    with pytest.raises(BTFError, match="has no size"):
        btf.size_of(btf.find_one("opaque", Kind.FWD))


def test_to_bytes_is_byte_identical(raw: bytes, btf: BTF) -> None:
    assert btf.to_bytes() == raw
    again = BTF.from_bytes(btf.to_bytes())
    assert list(again.types()) == list(btf.types())


def test_big_endian_round_trip(btf: BTF) -> None:
    big = btf.to_bytes(byteorder="big")
    assert big[:2] == b"\xeb\x9f"
    parsed = BTF.from_bytes(big)
    assert list(parsed.types()) == list(btf.types())
    assert parsed.to_bytes(byteorder="little") == btf.to_bytes(byteorder="little")


def test_from_types_builder_assigns_ids_from_one() -> None:
    types = [
        Int("int", 4, IntEncoding.SIGNED, 32),                       # 1
        Int("char", 1, IntEncoding.SIGNED, 8),                       # 2
        Array(2, 1, 16),                                             # 3
        Struct("point", 24, (Member("x", 1, 0), Member("y", 1, 32), Member("name", 3, 64))),  # 4
        Pointer(4),                                                  # 5
        FuncProto(1, (Param("p", 5),)),                              # 6
        Func("get_x", 6, FuncLinkage.GLOBAL),                        # 7
        Var("origin", 4, VarLinkage.GLOBAL_ALLOCATED),               # 8
        Datasec(".data", 24, (VarSecInfo(8, 0, 24),)),               # 9
        Enum64("e64", 8, (EnumValue("A", -1),), signed=True),        # 10
        Struct("bits", 4, (Member("lo", 1, 0, 3), Member("hi", 1, 3, 29))),  # 11
        TypeTag("address_space(1)", 1, attribute=True),              # 12
    ]
    built = BTF.from_types(types)
    assert len(built) == len(types) + 1
    assert [t for _, t in built.types()] == types
    assert built.find_one("point", Kind.STRUCT) == 4
    assert built.size_of(9) == 24
    assert BTF.from_bytes(built.to_bytes()).to_bytes() == built.to_bytes()


def test_from_types_rejects_unencodable_values() -> None:
    with pytest.raises(BTFError, match="does not fit 32 bits"):
        BTF.from_types([Enum("e", 4, (EnumValue("X", 1 << 40),))])
    with pytest.raises(BTFError, match="does not fit"):
        BTF.from_types([Int("int", 4, IntEncoding.SIGNED, 32), Pointer(-1)])
    with pytest.raises(BTFError, match="out of range"):
        BTF.from_types([Pointer(5)])


def test_with_types_keeps_string_offsets(btf: BTF) -> None:
    from btf_data import compiled, section

    from pybpf.btf.ext import BTFExt

    ext = BTFExt.from_bytes(section(compiled("kinds"), ".BTF.ext"), btf)
    bss_id = btf.find_one(".bss", Kind.DATASEC)
    bss = btf[bss_id]
    assert isinstance(bss, Datasec) and bss.size == 0  # clang leaves DATASEC sizes to the loader
    fixed = btf.with_types({bss_id: Datasec(".bss", 160, bss.vars)}, append=[Float("pybpf_new_float", 4)])
    assert fixed[bss_id] == Datasec(".bss", 160, bss.vars)
    assert fixed.find_one("pybpf_new_float") == len(btf)
    unchanged = [t for tid, t in btf.types() if tid != bss_id]
    assert [t for tid, t in fixed.types() if tid not in (bss_id, len(btf))] == unchanged
    li = ext.line_info["tracepoint/syscalls/sys_enter_write"][1]
    assert fixed.string_offset(li.line_text) == btf.string_offset(li.line_text)  # .BTF.ext offsets stay valid
    with pytest.raises(BTFError, match="cannot replace type id 999"):
        btf.with_types({999: Float("f", 4)})


def test_kinds_lists_the_kind_of_every_id(raw: bytes, btf: BTF) -> None:
    kinds = BTF.from_bytes(raw).kinds()
    assert len(kinds) == len(btf) and kinds[0] == Kind.UNKNOWN
    assert [Kind(k) for k in kinds[1:]] == [t.kind for _, t in btf.types()]


def test_record_rows_match_the_member_dataclasses(raw: bytes, btf: BTF) -> None:
    fresh = BTF.from_bytes(raw)  # rows read from the records, nothing decoded yet
    records = [tid for tid, t in btf.types() if isinstance(t, (Struct, Union_))]
    assert records
    for tid in records:
        t = btf[tid]
        assert isinstance(t, (Struct, Union_))
        expected = (t.name, t.size, [(m.name, m.type_id, m.bit_offset, m.bitfield_size) for m in t.members])
        assert fresh.record_rows(tid) == expected  # from the raw records
        assert btf.record_rows(tid) == expected  # from the decoded dataclasses
    with pytest.raises(BTFError, match="not a struct or union"):
        fresh.record_rows(fresh.find_one("color", Kind.ENUM))


def test_record_rows_many_equals_one_by_one(raw: bytes, btf: BTF) -> None:
    records = [tid for tid, t in btf.types() if isinstance(t, (Struct, Union_))]
    expected = [btf.record_rows(tid) for tid in records]
    fresh = BTF.from_bytes(raw)
    fresh[records[0]]  # one decoded already: its rows come from the dataclass, the same
    assert fresh.record_rows_many(reversed(records)) == expected[::-1]
    split = BTF.from_types([Struct("mod_s", 4, (Member("x", records[0], 0),))], base=BTF.from_bytes(raw))
    assert split.record_rows_many([records[0], len(btf)]) == [expected[0], ("mod_s", 4, [("x", records[0], 0, 0)])]
    with pytest.raises(BTFError, match="not a struct or union"):
        fresh.record_rows_many([records[0], fresh.find_one("color", Kind.ENUM)])
    with pytest.raises(BTFError, match="out of range"):
        fresh.record_rows_many([len(btf)])


def test_decode_many_equals_one_by_one(raw: bytes, btf: BTF) -> None:
    ids = [0, *range(len(btf) - 1, 0, -1)]
    assert BTF.from_bytes(raw).decode_many(ids) == [btf[i] for i in ids]
    with pytest.raises(BTFError, match="out of range"):
        BTF.from_bytes(raw).decode_many([len(btf)])
