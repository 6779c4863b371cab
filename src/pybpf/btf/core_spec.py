"""CO-RE access specs: what a relocation's access string reaches, in the local and target BTF.

An access string such as ``"0:1:2"`` is a list of indices starting at the relocation's root
type. The first index is an array index over the root (a pointer to the root indexed like
an array; almost always 0); each further index is a member index when the current type is
a struct or union, and an element index when it is an array. Anonymous structs and unions
embedded in the path take an index of their own in the local string.

Against the target, only what has a *name* carries over: the named members and the array
indices (:class:`Accessor`). Each named member is looked up by name in the target type,
descending into anonymous members as needed, so a field that moved into (or out of) an
anonymous union is still found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BTFError, CORError
from .core_types import COMPOSITE_KINDS, describe_type, essential_name, fields_are_compat
from .types import Array, Enum, Enum64, EnumValue, Int, Member, Struct, Union_

if TYPE_CHECKING:
    from .container import BTF

__all__ = ["Accessor", "FieldSpec", "parse_access", "local_field_spec", "match_field_spec",
           "FieldLayout", "field_layout", "local_enumerator", "match_enumerator"]


@dataclass(frozen=True)
class Accessor:
    """One named step of a field access: a member by name, or an array element by index."""

    index: int
    name: str | None  # the member's name; None for an array element


@dataclass(frozen=True)
class FieldSpec:
    """Where a field access lands in one BTF."""

    root_id: int  # the relocation's type (unresolved)
    accessors: tuple[Accessor, ...]  # the first one is the array index over the root
    raw: tuple[int, ...]  # the full access string, anonymous members included
    bit_offset: int  # from the start of the root object
    field_type_id: int  # type of what the access reaches (member type or element type)
    bitfield_size: int  # 0 unless the last step is a bitfield member

    @property
    def access(self) -> str:
        return ":".join(map(str, self.raw))

    @property
    def path(self) -> str:
        """The field path in C-like syntax: ``"real_parent"``, ``"thread.sp"``, ``"comm[2]"``."""
        out = "" if self.accessors[0].index == 0 else f"[{self.accessors[0].index}]"
        for acc in self.accessors[1:]:
            out += f"[{acc.index}]" if acc.name is None else (f".{acc.name}" if out else acc.name)
        return out or "<whole object>"


def parse_access(access: str) -> tuple[int, ...]:
    """``"0:1:2"`` -> ``(0, 1, 2)``; CORError on anything else."""
    try:
        raw = tuple(int(part) for part in access.split(":"))
    except ValueError:
        raise CORError(f"malformed CO-RE access string {access!r}: expected indices like '0:1:2'") from None
    if not raw or any(i < 0 for i in raw):
        raise CORError(f"malformed CO-RE access string {access!r}: expected indices like '0:1:2'")
    return raw


def local_field_spec(local: BTF, root_id: int, access: str) -> FieldSpec:
    """Walk ``access`` through the local BTF. The object is at fault if this fails: CORError."""
    raw = parse_access(access)
    root = local.resolve(root_id)
    where = f"{describe_type(local, root_id)} (access {access})"
    try:
        bit_offset = raw[0] * local.size_of(root) * 8
    except BTFError as e:  # the root has no size (a function, void...)
        raise CORError(f"invalid CO-RE relocation on {where}: {e}") from e
    accessors = [Accessor(raw[0], None)]
    field_type_id, bitfield_size, cur = root_id, 0, root
    for idx in raw[1:]:
        t = local[cur]
        if isinstance(t, (Struct, Union_)):
            if idx >= len(t.members):
                raise CORError(
                    f"invalid CO-RE relocation on {where}: {describe_type(local, cur)} has "
                    f"{len(t.members)} members, the access string asks for member {idx}"
                )
            m = t.members[idx]
            bit_offset += m.bit_offset
            if m.name:
                accessors.append(Accessor(idx, m.name))
            field_type_id, bitfield_size = m.type_id, m.bitfield_size
        elif isinstance(t, Array):
            elem = local.resolve(t.elem_type_id)
            bit_offset += idx * local.size_of(elem) * 8
            accessors.append(Accessor(idx, None))
            field_type_id, bitfield_size = t.elem_type_id, 0
        else:
            raise CORError(
                f"invalid CO-RE relocation on {where}: index {idx} steps into "
                f"{describe_type(local, cur)}, which is neither a struct, a union nor an array"
            )
        cur = local.resolve(field_type_id)
    return FieldSpec(root_id, tuple(accessors), raw, bit_offset, field_type_id, bitfield_size)


def _find_member(btf: BTF, comp_id: int, name: str) -> tuple[list[int], int, Member] | None:
    """Member ``name`` of a composite, descending into anonymous members.

    Returns the member-index path, the bit offset from the composite's start, the member.
    """
    t = btf[comp_id]
    assert isinstance(t, (Struct, Union_))
    for i, m in enumerate(t.members):
        if m.name == name:
            return [i], m.bit_offset, m
    for i, m in enumerate(t.members):
        if m.name:
            continue
        inner = btf.resolve(m.type_id)
        if btf.kind_of(inner) in COMPOSITE_KINDS:
            found = _find_member(btf, inner, name)
            if found is not None:
                path, off, member = found
                return [i, *path], m.bit_offset + off, member
    return None


def match_field_spec(local: BTF, lspec: FieldSpec, target: BTF, cand_id: int) -> FieldSpec | str:
    """The local spec's named path in the target candidate; a reason string when it is not there."""
    cur = target.resolve(cand_id)
    shown = describe_type(target, cand_id)
    if not fields_are_compat(local, lspec.root_id, target, cand_id):
        local_root = describe_type(local, local.resolve(lspec.root_id))
        return f"{shown} is {describe_type(target, cur)} in the target, not {local_root}"
    raw = [lspec.accessors[0].index]
    try:
        bit_offset = lspec.accessors[0].index * target.size_of(cur) * 8
    except BTFError as e:
        return f"{shown} in the target has no size ({e})"
    field_type_id, bitfield_size = cand_id, 0
    # the local types along the way, to check each field's compatibility
    local_types = _local_step_types(local, lspec)
    for acc, local_type in zip(lspec.accessors[1:], local_types):
        t = target[cur]
        if acc.name is not None:
            if not isinstance(t, (Struct, Union_)):
                return f"{shown}: {describe_type(target, cur)} has no members (looking for {acc.name!r})"
            found = _find_member(target, cur, acc.name)
            if found is None:
                return f"{describe_type(target, cur)} has no field {acc.name!r}"
            path, off, m = found
            if not fields_are_compat(local, local_type, target, m.type_id):
                return (
                    f"field {acc.name!r} is {describe_type(local, local.resolve(local_type))} locally "
                    f"but {describe_type(target, target.resolve(m.type_id))} in the target"
                )
            raw.extend(path)
            bit_offset += off
            field_type_id, bitfield_size = m.type_id, m.bitfield_size
        else:
            if not isinstance(t, Array):
                return f"{describe_type(target, cur)} is not an array (index [{acc.index}])"
            if t.nelems and acc.index >= t.nelems:
                return f"index [{acc.index}] is out of bounds of the target array ({t.nelems} elements)"
            raw.append(acc.index)
            bit_offset += acc.index * target.size_of(t.elem_type_id) * 8
            field_type_id, bitfield_size = t.elem_type_id, 0
        cur = target.resolve(field_type_id)
    return FieldSpec(cand_id, lspec.accessors, tuple(raw), bit_offset, field_type_id, bitfield_size)


def _local_step_types(local: BTF, lspec: FieldSpec) -> list[int]:
    """For each accessor after the first, the local type id of what it reaches."""
    out: list[int] = []
    cur = local.resolve(lspec.root_id)
    for idx in lspec.raw[1:]:
        t = local[cur]
        if isinstance(t, (Struct, Union_)):
            m = t.members[idx]
            nxt = m.type_id
            if m.name:
                out.append(nxt)
        else:
            assert isinstance(t, Array)
            nxt = t.elem_type_id
            out.append(nxt)
        cur = local.resolve(nxt)
    return out


# --- field values --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldLayout:
    """How to read a field: load ``byte_size`` bytes at ``byte_offset`` then shift (bitfields)."""

    byte_offset: int
    byte_size: int
    signed: bool
    lshift_u64: int
    rshift_u64: int
    is_bitfield: bool


def field_layout(btf: BTF, spec: FieldSpec) -> FieldLayout:
    """Offsets, sizes and shifts of a field (little-endian target, as eBPF on x86/arm64 is).

    A plain field is loaded whole. A bitfield is loaded through the smallest naturally
    aligned integer (starting at its declared type's size, doubling up to 8 bytes) that
    holds all its bits; the shifts then isolate it in a u64:
    ``value = (load << lshift) >> rshift`` (arithmetic shift when signed).
    """
    resolved = btf[btf.resolve(spec.field_type_id)]
    signed = bool(getattr(resolved, "signed", False)) if isinstance(resolved, (Int, Enum, Enum64)) else False
    size = btf.size_of(spec.field_type_id)
    if not spec.bitfield_size:
        if spec.bit_offset % 8:
            raise CORError(f"field at bit offset {spec.bit_offset} is not byte aligned")
        byte_offset, bit_size = spec.bit_offset // 8, size * 8
        lshift = rshift = 64 - bit_size  # negative for fields over 8 bytes: checked when used
        return FieldLayout(byte_offset, size, signed, lshift, rshift, False)
    bit_off, bit_size = spec.bit_offset, spec.bitfield_size
    load = max(size, 1)
    start = bit_off // 8 // load * load
    while bit_off + bit_size > (start + load) * 8:
        if load >= 8:
            raise CORError(
                f"bitfield of {bit_size} bits at bit offset {bit_off} cannot be read with one 8-byte load"
            )
        load *= 2
        start = bit_off // 8 // load * load
    lshift = 64 - (bit_off + bit_size - start * 8)
    return FieldLayout(start, load, signed, lshift, 64 - bit_size, True)


# --- enumerators ----------------------------------------------------------------------------


def local_enumerator(local: BTF, root_id: int, access: str) -> EnumValue:
    """The enumerator an enum relocation names: the access string is its index in the enum."""
    raw = parse_access(access)
    t = local[local.resolve(root_id)]
    if not isinstance(t, (Enum, Enum64)) or len(raw) != 1:
        raise CORError(
            f"invalid CO-RE enum relocation on {describe_type(local, root_id)} (access {access}): "
            "expected an enum and a single enumerator index"
        )
    if raw[0] >= len(t.values):
        raise CORError(
            f"invalid CO-RE enum relocation: {describe_type(local, root_id)} has {len(t.values)} "
            f"enumerators, the access string asks for number {raw[0]}"
        )
    return t.values[raw[0]]


def match_enumerator(target: BTF, cand_id: int, enumerator: EnumValue) -> EnumValue | None:
    """The target enumerator with the same essential name, if the candidate has one."""
    t = target[target.resolve(cand_id)]
    if not isinstance(t, (Enum, Enum64)):
        return None
    want = essential_name(enumerator.name)
    for v in t.values:
        if essential_name(v.name) == want:
            return v
    return None

