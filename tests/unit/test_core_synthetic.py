"""CO-RE resolution on hand-built local/target BTF pairs: every kind, and every way to fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import (
    BTF, Array, Enum, Enum64, EnumValue, FuncProto, Fwd, Int, IntEncoding, Member, Param, Pointer,
    Struct, Typedef, Union_,
)
from pybpf.btf.core import CoreResult, resolve_relocation
from pybpf.btf.core_spec import FieldSpec, field_layout
from pybpf.btf.core_types import essential_name
from pybpf.btf.types import CoreRelocation
from pybpf.btf.types import CoreRelocKind as K
from pybpf.errors import BTFError, CORError


class Types:
    """Builds a BTF from types added in order (ids from 1); ``add`` returns the new id."""

    def __init__(self) -> None:
        self.types: list[object] = []
        self.int = self.add(Int("int", 4, IntEncoding.SIGNED, 32))
        self.uint = self.add(Int("unsigned int", 4, IntEncoding.NONE, 32))
        self.long = self.add(Int("long", 8, IntEncoding.SIGNED, 64))
        self.ulong = self.add(Int("unsigned long", 8, IntEncoding.NONE, 64))
        self.char = self.add(Int("char", 1, IntEncoding.SIGNED, 8))

    @property
    def next_id(self) -> int:
        return len(self.types) + 1

    def add(self, t: object) -> int:
        self.types.append(t)
        return len(self.types)

    def struct(self, name: str, size: int, *members: tuple[str, int, int] | tuple[str, int, int, int]) -> int:
        """members: (name, type id, bit offset[, bitfield size])."""
        return self.add(Struct(name, size, tuple(Member(*m) for m in members)))

    def btf(self) -> BTF:
        return BTF.from_types(self.types)


def relo(type_id: int, access: str, kind: K) -> CoreRelocation:
    return CoreRelocation(insn_off=0, type_id=type_id, access=access, relo_kind=kind)


def resolve(local: Types, target: Types, type_id: int, access: str, kind: K, **kw: bool) -> CoreResult:
    return resolve_relocation(local.btf(), target.btf(), relo(type_id, access, kind), **kw)


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, essential", [
    ("task_struct", "task_struct"), ("task_struct___old", "task_struct"),
    ("task_struct___v5_10", "task_struct"), ("a___b___c", "a"), ("___x", "___x"),
    ("x____y", "x____y"), ("x___", "x___"), ("__u32", "__u32"),
])
def test_essential_name_strips_the_flavor(name: str, essential: str) -> None:
    assert essential_name(name) == essential


# --- fields ----------------------------------------------------------------------------------


def test_field_offset_follows_the_target_layout() -> None:
    local, target = Types(), Types()
    lid = local.struct("task", 16, ("pid", local.int, 0), ("tgid", local.int, 32))
    target.struct("task", 64, ("state", target.long, 0), ("tgid", target.int, 64), ("pid", target.int, 96))
    r = resolve(local, target, lid, "0:1", K.FIELD_BYTE_OFFSET)
    assert (r.local_value, r.value, r.target_access, r.failed) == (4, 8, "0:1", False)
    assert resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET).value == 12
    # a root array index scales with the target's size
    assert resolve(local, target, lid, "2:0", K.FIELD_BYTE_OFFSET).value == 2 * 64 + 12


def test_field_found_through_anonymous_members_both_ways() -> None:
    local, target = Types(), Types()
    anon = local.add(Union_("", 4, (Member("b", local.int, 0), Member("c", local.int, 0))))
    lid = local.struct("s", 8, ("a", local.int, 0), ("", anon, 32))
    # in the target, c moved out of the union and a moved into an anonymous struct
    t_anon = target.add(Struct("", 16, (Member("x", target.long, 0), Member("a", target.int, 64))))
    target.struct("s", 40, ("pad", target.long, 0), ("", t_anon, 64), ("c", target.int, 256))
    r = resolve(local, target, lid, "0:1:1", K.FIELD_BYTE_OFFSET)
    assert (r.local_value, r.value, r.target_access) == (4, 32, "0:2")
    assert r.description == "struct s: field 'c' (access 0:1:1)"
    r = resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)
    assert (r.local_value, r.value, r.target_access) == (0, 16, "0:1:1")


def test_array_accesses_use_target_element_sizes_and_bounds() -> None:
    local, target = Types(), Types()
    l_arr = local.add(Array(local.int, local.int, 4))
    l_inner = local.struct("inner", 20, ("y", l_arr, 0), ("z", local.int, 128))
    l_inner_arr = local.add(Array(l_inner, local.int, 3))
    lid = local.struct("s", 64, ("x", local.int, 0), ("arr", l_inner_arr, 32))
    t_arr = target.add(Array(target.long, target.int, 8))  # y became long[8]
    t_inner = target.struct("inner", 72, ("z", target.int, 0), ("y", t_arr, 64))
    t_inner_arr = target.add(Array(t_inner, target.int, 3))
    target.struct("s", 300, ("pad", target.long, 0), ("x", target.int, 64), ("arr", t_inner_arr, 128))
    # s->arr[2].y[3]: local 4 + 2*20 + 0 + 3*4 = 56; target 16 + 2*72 + 8 + 3*8 = 192
    r = resolve(local, target, lid, "0:1:2:0:3", K.FIELD_BYTE_OFFSET)
    assert (r.local_value, r.value) == (56, 192)
    assert r.description == "struct s: field 'arr[2].y[3]' (access 0:1:2:0:3)"
    assert resolve(local, target, lid, "0:1:2:0:3", K.FIELD_BYTE_SIZE).value == 8
    # an index past the end of the target array does not exist
    small = Types()
    small.struct("s", 8, ("x", small.int, 0), ("arr", small.add(Array(small.add(
        Struct("inner", 4, (Member("y", small.int, 0),))), small.int, 1)), 32))
    assert resolve(local, small, lid, "0:1:2:0:3", K.FIELD_EXISTS).value == 0


def test_missing_field_is_a_cor_error_naming_type_and_field() -> None:
    local, target = Types(), Types()
    lid = local.struct("task_struct___x", 8, ("pid", local.int, 0), ("pid_x", local.int, 32))
    target.struct("task_struct", 8, ("pid", target.int, 0))
    with pytest.raises(CORError, match=r"struct task_struct___x: field 'pid_x' \(access 0:1\) "
                                       r"not found in target: struct task_struct has no field 'pid_x'"):
        resolve(local, target, lid, "0:1", K.FIELD_BYTE_OFFSET)


def test_missing_type_is_a_cor_error() -> None:
    local, target = Types(), Types()
    lid = local.struct("no_such_thing", 4, ("a", local.int, 0))
    with pytest.raises(CORError, match="the target has no struct no_such_thing"):
        resolve(local, target, lid, "0:0", K.FIELD_BYTE_SIZE)


@pytest.mark.parametrize("kind", [K.FIELD_EXISTS, K.TYPE_EXISTS, K.TYPE_MATCHES])
def test_optional_kinds_give_zero_when_missing(kind: K) -> None:
    local, target = Types(), Types()
    lid = local.struct("gone", 8, ("a", local.int, 0), ("b", local.int, 32))
    target.struct("other", 8, ("a", target.int, 0))
    r = resolve(local, target, lid, "0:1" if kind == K.FIELD_EXISTS else "0", kind)
    assert (r.local_value, r.value, r.failed, r.poison) == (1, 0, True, False)


def test_non_strict_required_failure_poisons_or_zeroes() -> None:
    local, target = Types(), Types()
    lid = local.struct("gone", 8, ("a", local.int, 0))
    r = resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET, strict=False)
    assert (r.value, r.failed, r.poison) == (0, True, True)
    r = resolve(local, target, lid, "0", K.TYPE_SIZE, strict=False)
    assert (r.value, r.failed, r.poison) == (0, True, False)  # libbpf: a missing type's size is 0


def test_incompatible_field_kind_does_not_match() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 8, ("a", local.int, 0))
    inner = target.struct("inner", 4, ("x", target.int, 0))
    target.struct("s", 8, ("a", inner, 0))
    with pytest.raises(CORError, match="field 'a' is int locally but struct inner in the target"):
        resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)


def test_ambiguous_candidates_are_an_error_naming_them() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    first = target.struct("s", 8, ("a", target.int, 0))
    second = target.struct("s___v2", 8, ("b", target.int, 0), ("a", target.int, 32))
    with pytest.raises(CORError, match=rf"ambiguous.*struct s \(id {first}\) gives 0; struct s___v2 \(id {second}\) gives 4"):
        resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)


def test_candidates_that_agree_are_fine_and_non_matching_ones_are_skipped() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    target.struct("s", 8, ("b", target.int, 0))  # no field a: not a match
    second = target.struct("s___v2", 8, ("b", target.int, 0), ("a", target.int, 32))
    target.struct("s___v3", 8, ("c", target.int, 0), ("a", target.int, 32))
    r = resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)
    assert (r.value, r.target_type_id) == (4, second)


def test_field_signed_size_and_enum_fields() -> None:
    local, target = Types(), Types()
    l_enum = local.add(Enum("state", 4, (EnumValue("A", 0),), signed=False))
    lid = local.struct("s", 12, ("n", local.uint, 0), ("st", l_enum, 32), ("p", local.add(Pointer(local.int)), 64))
    t_enum = target.add(Enum64("state", 8, (EnumValue("A", -1),), signed=True))
    target.struct("s", 24, ("n", target.long, 0), ("st", t_enum, 64), ("p", target.add(Pointer(target.int)), 128))
    assert resolve(local, target, lid, "0:0", K.FIELD_SIGNED).value == 1
    assert resolve(local, target, lid, "0:0", K.FIELD_BYTE_SIZE).value == 8
    assert resolve(local, target, lid, "0:1", K.FIELD_SIGNED).value == 1
    assert resolve(local, target, lid, "0:1", K.FIELD_BYTE_SIZE).value == 8
    assert resolve(local, target, lid, "0:2", K.FIELD_BYTE_OFFSET).value == 16
    assert resolve(local, target, lid, "0:2", K.FIELD_SIGNED).value == 0


def test_bitfield_values_in_a_wider_target() -> None:
    local, target = Types(), Types()
    lid = local.struct("flags", 4, ("a", local.uint, 0, 3), ("b", local.uint, 3, 5))
    target.struct("flags", 16, ("x", target.ulong, 0), ("b", target.uint, 64 + 30, 5), ("a", target.int, 100, 3))
    get = {k: resolve(local, target, lid, "0:1", k).value for k in
           (K.FIELD_BYTE_OFFSET, K.FIELD_BYTE_SIZE, K.FIELD_LSHIFT_U64, K.FIELD_RSHIFT_U64, K.FIELD_SIGNED)}
    # b: bits 94..98 straddle the 4-byte unit at 8, so the load widens to 8 bytes at 8
    assert get == {K.FIELD_BYTE_OFFSET: 8, K.FIELD_BYTE_SIZE: 8, K.FIELD_LSHIFT_U64: 64 - (30 + 5),
                   K.FIELD_RSHIFT_U64: 59, K.FIELD_SIGNED: 0}
    assert resolve(local, target, lid, "0:0", K.FIELD_SIGNED).value == 1
    assert resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET).value == 12


@settings(max_examples=300, deadline=None)
@given(
    size=st.sampled_from([1, 2, 4, 8]),
    bits=st.integers(1, 64),
    bit_off=st.integers(0, 8 * 32),
    pattern=st.integers(0, (1 << 64) - 1),
)
def test_bitfield_layout_extracts_any_bitfield(size: int, bits: int, bit_off: int, pattern: int) -> None:
    bits = min(bits, size * 8)
    pattern &= (1 << bits) - 1
    types = Types()
    base = types.add(Int(f"u{size * 8}", size, IntEncoding.NONE, size * 8))
    sid = types.struct("s", 48, ("f", base, bit_off, bits))
    btf = types.btf()
    spec = FieldSpec(sid, (), (0, 0), bit_off, base, bits)
    try:
        lay = field_layout(btf, spec)
    except CORError:
        # only when no aligned 8-byte load can hold the bits
        assert bit_off // 64 != (bit_off + bits - 1) // 64
        return
    assert lay.byte_offset % lay.byte_size == 0 and lay.byte_size >= size
    whole = ((1 << (48 * 8)) - 1) & ~(((1 << bits) - 1) << bit_off) | (pattern << bit_off)
    mem = whole.to_bytes(48, "little")
    loaded = int.from_bytes(mem[lay.byte_offset:lay.byte_offset + lay.byte_size], "little")
    assert ((loaded << lay.lshift_u64) & ((1 << 64) - 1)) >> lay.rshift_u64 == pattern


# --- types -----------------------------------------------------------------------------------


def test_type_relocations() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    l_td = local.add(Typedef("s_t", lid))
    target.add(Struct("pad", 0, ()))
    tid = target.struct("s", 40, ("zz", target.long, 0))
    t_td = target.add(Typedef("s_t", tid))
    assert resolve(local, target, lid, "0", K.TYPE_EXISTS).value == 1
    assert resolve(local, target, lid, "0", K.TYPE_SIZE).value == 40
    r = resolve(local, target, lid, "0", K.TYPE_ID_TARGET)
    assert (r.local_value, r.value) == (lid, tid)
    assert resolve(local, target, lid, "0", K.TYPE_ID_LOCAL).value == lid
    assert resolve(local, target, l_td, "0", K.TYPE_ID_TARGET).value == t_td
    assert resolve(local, target, l_td, "0", K.TYPE_SIZE).value == 40


def test_type_exists_needs_the_same_kind() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    target.add(Union_("s", 4, (Member("a", target.int, 0),)))
    assert resolve(local, target, lid, "0", K.TYPE_EXISTS).value == 0
    with pytest.raises(CORError, match="struct s: type size not found in target"):
        resolve(local, target, lid, "0", K.TYPE_SIZE)


def test_type_exists_compares_pointer_and_proto_shapes() -> None:
    local, target = Types(), Types()
    l_fn = local.add(FuncProto(local.int, (Param("x", local.long),)))
    l_td = local.add(Typedef("cb_t", local.add(Pointer(l_fn))))
    t_fn = target.add(FuncProto(target.int, (Param("x", target.long), Param("y", target.int))))
    target.add(Typedef("cb_t", target.add(Pointer(t_fn))))
    assert resolve(local, target, l_td, "0", K.TYPE_EXISTS).value == 0  # 1 vs 2 parameters
    ok = Types()
    ok_fn = ok.add(FuncProto(ok.uint, (Param("z", ok.int),)))
    ok.add(Typedef("cb_t", ok.add(Pointer(ok_fn))))
    assert resolve(local, ok, l_td, "0", K.TYPE_EXISTS).value == 1


def _matches(local: Types, target: Types, type_id: int) -> int:
    return resolve(local, target, type_id, "0", K.TYPE_MATCHES).value


def test_type_matches_positive() -> None:
    local, target = Types(), Types()
    l_other = local.add(Struct("other", 4, (Member("q", local.int, 0),)))
    lid = local.struct("m___mine", 16, ("a", local.int, 0), ("o", local.add(Pointer(l_other)), 64))
    t_fwd = target.add(Fwd("other"))
    target.struct("m", 24, ("x", target.long, 0), ("o", target.add(Pointer(t_fwd)), 64), ("a", target.int, 128))
    # members matched by name in any order, a struct behind a pointer matches a forward declaration
    assert _matches(local, target, lid) == 1


def test_type_matches_negative() -> None:
    local = Types()
    lid = local.struct("m", 8, ("a", local.int, 0), ("b", local.long, 0))
    unsigned = Types()
    unsigned.struct("m", 16, ("a", unsigned.uint, 0), ("b", unsigned.long, 64))
    assert _matches(local, unsigned, lid) == 0  # signedness differs
    missing = Types()
    missing.struct("m", 16, ("a", missing.int, 0), ("c", missing.long, 64))
    assert _matches(local, missing, lid) == 0  # no member b
    assert resolve(local, missing, lid, "0", K.TYPE_EXISTS).value == 1  # exists is shallower


def test_type_matches_enums_by_enumerator_names() -> None:
    local = Types()
    lid = local.add(Enum("e", 4, (EnumValue("A", 1), EnumValue("B", 2))))
    wider = Types()
    wider.add(Enum64("e", 4, (EnumValue("C", 0), EnumValue("B", 9), EnumValue("A", 7))))
    assert _matches(local, wider, lid) == 1  # values may differ, enum64 matches enum
    fewer = Types()
    fewer.add(Enum("e", 4, (EnumValue("A", 1),)))
    assert _matches(local, fewer, lid) == 0
    bigger = Types()
    bigger.add(Enum("e", 8, (EnumValue("A", 1), EnumValue("B", 2))))
    assert _matches(local, bigger, lid) == 0


# --- enumerators -----------------------------------------------------------------------------


def test_enum_value_and_exists() -> None:
    local, target = Types(), Types()
    lid = local.add(Enum("bpf_map_type", 4, (EnumValue("BPF_MAP_TYPE_RINGBUF", 1), EnumValue("GONE", 2))))
    target.add(Enum64("bpf_map_type", 8, (EnumValue("BPF_MAP_TYPE_HASH", 1), EnumValue("BPF_MAP_TYPE_RINGBUF", 1 << 40))))
    r = resolve(local, target, lid, "0", K.ENUMVAL_VALUE)
    assert (r.local_value, r.value) == (1, 1 << 40)
    assert resolve(local, target, lid, "0", K.ENUMVAL_EXISTS).value == 1
    assert resolve(local, target, lid, "1", K.ENUMVAL_EXISTS).value == 0
    with pytest.raises(CORError, match="enum bpf_map_type: enumerator 'GONE' .* has no enumerator 'GONE'"):
        resolve(local, target, lid, "1", K.ENUMVAL_VALUE)


def test_enum_value_candidates_must_agree() -> None:
    local, target = Types(), Types()
    lid = local.add(Enum("e", 4, (EnumValue("X", 1),)))
    target.add(Enum("e", 4, (EnumValue("X", 5),)))
    target.add(Enum("e___b", 4, (EnumValue("X", 6),)))
    with pytest.raises(CORError, match="ambiguous"):
        resolve(local, target, lid, "0", K.ENUMVAL_VALUE)
    assert resolve(local, target, lid, "0", K.ENUMVAL_EXISTS).value == 1


# --- malformed relocations -------------------------------------------------------------------


@pytest.mark.parametrize("access, match", [
    ("0:x", "malformed CO-RE access string"),
    ("", "malformed CO-RE access string"),
    ("0:5", "has 1 members, the access string asks for member 5"),
    ("0:0:1", "neither a struct, a union nor an array"),
])
def test_malformed_access_strings(access: str, match: str) -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    target.struct("s", 4, ("a", target.int, 0))
    with pytest.raises(CORError, match=match):
        resolve(local, target, lid, access, K.FIELD_BYTE_OFFSET, strict=False)


def test_anonymous_local_type_cannot_be_matched() -> None:
    local, target = Types(), Types()
    lid = local.struct("", 4, ("a", local.int, 0))
    target.struct("", 4, ("a", target.int, 0))
    with pytest.raises(CORError, match="anonymous"):
        resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)


# --- robustness ----------------------------------------------------------------------------


def _zoo(flavor: str, wide: bool) -> Types:
    """A small type zoo; the target variant differs in sizes, order and nesting."""
    t = Types()
    n = t.long if wide else t.int
    e = t.add(Enum("mode" + flavor, 8 if wide else 4, (EnumValue("M_A", 0), EnumValue("M_B", -3)), signed=True))
    arr = t.add(Array(n, t.int, 3 if wide else 4))
    u = t.add(Union_("", 8, (Member("u1", n, 0), Member("u2", t.char, 0))))
    inner = t.struct("inner" + flavor, 24, ("i", n, 0), ("arr", arr, 64))
    ptr = t.add(Pointer(inner))
    fp = t.add(Pointer(t.add(FuncProto(t.int, (Param("a", ptr),)))))
    t.add(Typedef("inner_t", inner))
    t.struct("outer" + flavor, 96, ("", u, 0), ("flags", t.uint, 64, 3), ("m", e, 96), ("in", inner, 128),
             ("p", ptr, 384), ("fn", fp, 448), ("tail", t.add(Array(t.char, t.int, 0)), 512))
    t.add(Fwd("inner" + flavor))
    return t


@settings(max_examples=1000, deadline=None)
@given(
    type_id=st.integers(0, 22),
    access=st.one_of(
        st.lists(st.integers(0, 6), min_size=1, max_size=6).map(lambda xs: ":".join(map(str, xs))),
        st.text(max_size=6),
    ),
    kind=st.sampled_from(list(K)),
    strict=st.booleans(),
    target_flavor=st.sampled_from(["", "___v2"]),
)
def test_any_relocation_resolves_or_raises_a_pybpf_error(
    type_id: int, access: str, kind: K, strict: bool, target_flavor: str
) -> None:
    local, target = _LOCAL_ZOO, _TARGETS[target_flavor]
    try:
        r = resolve_relocation(local, target, relo(type_id, access, kind), strict=strict)
    except (CORError, BTFError):
        return
    assert isinstance(r.value, int) and isinstance(r.local_value, int)
    assert r.failed or not r.poison


_LOCAL_ZOO = _zoo("___mine", False).btf()
_TARGETS = {flavor: _zoo(flavor, True).btf() for flavor in ("", "___v2")}


def test_candidates_come_from_base_and_split_btf() -> None:
    base = Types()
    base_id = base.struct("s", 8, ("a", base.int, 0))
    base_btf = base.btf()
    split_types = [Struct("s___mod", 16, (Member("pad", base.long, 0), Member("a", base.int, 64)))]
    split = BTF.from_types(split_types, base=base_btf)
    split_id = len(base_btf)
    local = Types()
    lid = local.struct("s", 4, ("a", local.int, 0))
    with pytest.raises(CORError, match=rf"struct s \(id {base_id}\) gives 0; struct s___mod \(id {split_id}\) gives 8"):
        resolve_relocation(local.btf(), split, relo(lid, "0:0", K.FIELD_BYTE_OFFSET))
    with pytest.raises(CORError, match="struct s: type size: ambiguous"):  # also when not strict
        resolve_relocation(local.btf(), split, relo(lid, "0", K.TYPE_SIZE), strict=False)
    assert resolve_relocation(local.btf(), split, relo(lid, "0", K.TYPE_EXISTS)).value == 1  # both agree


def test_existence_of_a_bitfield_no_single_load_can_read() -> None:
    local, target = Types(), Types()
    lid = local.struct("s", 8, ("f", local.ulong, 0, 4))
    target.struct("s", 16, ("f", target.ulong, 62, 4))  # bits 62..65 straddle two 8-byte words
    assert resolve(local, target, lid, "0:0", K.FIELD_EXISTS).value == 1
    with pytest.raises(CORError, match="cannot be read with one 8-byte load"):
        resolve(local, target, lid, "0:0", K.FIELD_BYTE_OFFSET)
