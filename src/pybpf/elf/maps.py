"""Map definitions: BTF-defined maps (the ``.maps`` section) and legacy ``maps`` definitions.

A BTF-defined map is a global variable in ``.maps`` whose type is a struct of pointer members
that encode the definition in their types (``__uint(max_entries, 64)`` is ``int
(*max_entries)[64]``; ``__type(key, u32)`` is ``u32 *key``; ``__array(values, struct inner)``
is ``struct inner *values[]``). The struct itself is never read as bytes, except for the
initial slots of a map-in-map or program array, which are ``.rel.maps`` relocations against
the ``values`` array.

A legacy map is a ``struct bpf_map_def`` (five u32: type, key_size, value_size, max_entries,
map_flags, optionally followed by inner_map_idx and numa_node) in the ``maps`` section.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Callable

from ..btf import BTF, Array, Datasec, Kind, Pointer, Struct, Var
from ..enums import MapFlags, MapType, PinType
from ..errors import ELFError
from ..spec import MapSpec
from .reader import ElfObject, ElfSection, Reloc, SymbolType

__all__ = ["MAPS_SECTION", "LEGACY_MAPS_SECTION", "parse_btf_maps", "parse_legacy_maps", "MapSlot"]

log = logging.getLogger("pybpf.elf")

MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
_LEGACY_DEF_MIN = 20  # struct bpf_map_def: type, key_size, value_size, max_entries, map_flags


@dataclass(frozen=True)
class MapSlot:
    """Where a map variable lives in its section (to resolve code relocations against it)."""

    name: str
    offset: int
    size: int


class _MapDef:
    """The fields of one BTF map definition as they are read, checked when complete."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.type: int | None = None
        self.max_entries = 0
        self.map_flags = 0
        self.numa_node = 0
        self.pinning = 0
        self.map_extra = 0
        self.key_size: int | None = None
        self.value_size: int | None = None
        self.key_type_id = 0
        self.value_type_id = 0
        self.inner: MapSpec | None = None
        self.values_offset: int | None = None  # byte offset of `values` in the definition
        self.values_are_programs = False


def _where(obj: ElfObject, name: str) -> str:
    return f"{obj.name}: map {name!r}"


def _uint(btf: BTF, type_id: int, where: str, field: str) -> int:
    """The N of ``int (*field)[N]``."""
    ptr = btf[btf.resolve(type_id)]
    if not isinstance(ptr, Pointer):
        raise ELFError(f"{where}: field {field!r} must be __uint(...) (a pointer to an array), "
                       f"found {ptr.kind.name}")
    arr = btf[btf.resolve(ptr.type_id)]
    if not isinstance(arr, Array):
        raise ELFError(f"{where}: field {field!r} must be __uint(...) (a pointer to an array), "
                       f"found a pointer to {arr.kind.name}")
    return arr.nelems


def _pointee(btf: BTF, type_id: int, where: str, field: str) -> int:
    """The T of ``T *field`` (``__type(field, T)``)."""
    ptr = btf[btf.resolve(type_id)]
    if not isinstance(ptr, Pointer):
        raise ELFError(f"{where}: field {field!r} must be __type(...) (a pointer), found {ptr.kind.name}")
    return ptr.type_id


def _set_type(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.type = _uint(btf, tid, where, "type")


def _set_max_entries(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.max_entries = _uint(btf, tid, where, "max_entries")


def _set_map_flags(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.map_flags = _uint(btf, tid, where, "map_flags")


def _set_numa_node(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.numa_node = _uint(btf, tid, where, "numa_node")


def _set_pinning(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.pinning = _uint(btf, tid, where, "pinning")


def _set_map_extra(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.map_extra = _uint(btf, tid, where, "map_extra")


def _set_key_size(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    _check_size(d, "key", _uint(btf, tid, where, "key_size"), where)


def _set_value_size(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    _check_size(d, "value", _uint(btf, tid, where, "value_size"), where)


def _check_size(d: _MapDef, which: str, size: int, where: str) -> None:
    attr = f"{which}_size"
    old = getattr(d, attr)
    if old is not None and old != size:
        raise ELFError(f"{where}: {which} size {size} conflicts with {old} given elsewhere in the definition")
    setattr(d, attr, size)


def _set_key(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.key_type_id = _pointee(btf, tid, where, "key")
    _check_size(d, "key", btf.size_of(d.key_type_id), where)


def _set_value(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    d.value_type_id = _pointee(btf, tid, where, "value")
    _check_size(d, "value", btf.size_of(d.value_type_id), where)


def _set_values(d: _MapDef, btf: BTF, tid: int, where: str) -> None:
    """``__array(values, struct inner)`` (map-in-map) or ``__array(values, int (void *))`` (prog array)."""
    arr = btf[btf.resolve(tid)]
    if not isinstance(arr, Array):
        raise ELFError(f"{where}: field 'values' must be __array(...), found {arr.kind.name}")
    ptr = btf[btf.resolve(arr.elem_type_id)]
    if not isinstance(ptr, Pointer):
        raise ELFError(f"{where}: 'values' must be an array of pointers, found {ptr.kind.name}")
    target_id = btf.resolve(ptr.type_id)
    target = btf[target_id]
    if isinstance(target, Struct):
        d.inner = _parse_def(btf, target_id, f"{d.name}.inner", where + " (inner map)", inner=True)[0]
    elif target.kind == Kind.FUNC_PROTO:
        d.values_are_programs = True
    else:
        raise ELFError(f"{where}: 'values' must point to a map definition struct or a function "
                       f"prototype, found {target.kind.name}")


_FIELDS: dict[str, Callable[[_MapDef, BTF, int, str], None]] = {
    "type": _set_type,
    "max_entries": _set_max_entries,
    "map_flags": _set_map_flags,
    "numa_node": _set_numa_node,
    "pinning": _set_pinning,
    "map_extra": _set_map_extra,
    "key_size": _set_key_size,
    "value_size": _set_value_size,
    "key": _set_key,
    "value": _set_value,
    "values": _set_values,
}


def _map_type(value: int | None, where: str) -> MapType:
    if value is None:
        raise ELFError(f"{where}: the definition has no 'type' field; add __uint(type, BPF_MAP_TYPE_...)")
    try:
        return MapType(value)
    except ValueError:
        raise ELFError(f"{where}: unknown map type {value}") from None


def _parse_def(btf: BTF, struct_id: int, name: str, where: str, *, inner: bool = False) -> tuple[MapSpec, _MapDef]:
    st = btf[struct_id]
    if not isinstance(st, Struct):
        raise ELFError(f"{where}: a map definition must be a struct, found {st.kind.name}")
    d = _MapDef(name)
    for member in st.members:
        setter = _FIELDS.get(member.name)
        if setter is None:
            raise ELFError(f"{where}: unknown field {member.name!r} in the map definition "
                           f"(known: {', '.join(_FIELDS)})")
        if member.name == "values":
            if inner:
                raise ELFError(f"{where}: an inner map definition cannot have 'values'")
            d.values_offset = member.bit_offset // 8
        setter(d, btf, member.type_id, where)
    try:
        pinning = PinType(d.pinning)
    except ValueError:
        raise ELFError(f"{where}: unknown pinning {d.pinning} (0: none, 1: by name)") from None
    spec = MapSpec(
        name=name, type=_map_type(d.type, where), key_size=d.key_size or 0,
        value_size=d.value_size or 0, max_entries=d.max_entries, flags=MapFlags(d.map_flags),
        numa_node=d.numa_node, map_extra=d.map_extra, pinning=pinning,
        key_type_id=d.key_type_id, value_type_id=d.value_type_id, inner_map=d.inner,
        section=MAPS_SECTION,
    )
    if d.inner is not None or d.values_are_programs:
        # a map of maps or programs holds 4-byte ids (fds at update time)
        spec.value_size = spec.value_size or 4
    return spec, d


def _symbol_offsets(obj: ElfObject, sec: ElfSection) -> dict[str, tuple[int, int]]:
    """name -> (offset, size) of the object symbols defined in ``sec``."""
    out: dict[str, tuple[int, int]] = {}
    for sym in obj.symbols_in(sec.name):
        if sym.type in (SymbolType.OBJECT, SymbolType.NOTYPE) and sym.name:
            out.setdefault(sym.name, (sym.value, sym.size))
    return out


def parse_btf_maps(obj: ElfObject, btf: BTF | None) -> tuple[dict[str, MapSpec], list[MapSlot]]:
    """Maps of the ``.maps`` section, and where each lives in it (for code relocations)."""
    sec = obj.sections.get(MAPS_SECTION)
    if sec is None:
        return {}, []
    if btf is None:
        raise ELFError(f"{obj.name}: the object has a .maps section but no .BTF; compile with -g")
    datasec_ids = btf.find(MAPS_SECTION, Kind.DATASEC)
    if not datasec_ids:
        raise ELFError(f"{obj.name}: the .BTF has no DATASEC for .maps; compile with -g")
    datasec = btf[datasec_ids[0]]
    assert isinstance(datasec, Datasec)
    symbols = _symbol_offsets(obj, sec)
    relocs = obj.relocations(MAPS_SECTION)
    maps: dict[str, MapSpec] = {}
    slots: list[MapSlot] = []
    for info in datasec.vars:
        var = btf[info.type_id]
        if not isinstance(var, Var):
            raise ELFError(f"{obj.name}: .maps DATASEC entry {info.type_id} is a {var.kind.name}, not a variable")
        where = _where(obj, var.name)
        if var.name not in symbols:
            raise ELFError(f"{where}: no ELF symbol for the map in section .maps")
        offset, size = symbols[var.name]
        size = size or info.size
        if offset + size > sec.size:
            raise ELFError(f"{where}: at offset {offset} size {size} lies outside .maps ({sec.size} bytes)")
        spec, d = _parse_def(btf, btf.resolve(var.type_id), var.name, where)
        if d.values_offset is not None:
            _initial_slots(spec, d, relocs, offset, size, btf.pointer_size, where)
        if var.name in maps:
            raise ELFError(f"{where}: defined twice in .maps")
        maps[var.name] = spec
        slots.append(MapSlot(var.name, offset, size))
    return maps, slots


def _initial_slots(spec: MapSpec, d: _MapDef, relocs: list[Reloc], offset: int, size: int,
                   ptr_size: int, where: str) -> None:
    """Initial contents of a map-in-map / program array from ``.rel.maps``."""
    assert d.values_offset is not None
    start = offset + d.values_offset
    nslots = 0
    for r in relocs:
        if not start <= r.offset < offset + size:
            continue
        rel = r.offset - start
        if rel % ptr_size:
            raise ELFError(f"{where}: relocation at .maps offset {r.offset} is not aligned to a 'values' slot")
        slot = rel // ptr_size
        if not r.symbol_name:
            raise ELFError(f"{where}: 'values' slot {slot} refers to an unnamed symbol")
        spec.contents[slot] = r.symbol_name
        nslots = max(nslots, slot + 1)
    if spec.max_entries == 0 and nslots:
        spec.max_entries = nslots
    elif nslots > spec.max_entries:
        raise ELFError(f"{where}: 'values' initialises slot {nslots - 1} but max_entries is {spec.max_entries}")


def parse_legacy_maps(obj: ElfObject) -> tuple[dict[str, MapSpec], list[MapSlot]]:
    """Maps of the legacy ``maps`` section (``struct bpf_map_def``)."""
    sec = obj.sections.get(LEGACY_MAPS_SECTION)
    if sec is None:
        return {}, []
    syms = sorted(((off, name) for name, (off, _size) in _symbol_offsets(obj, sec).items()))
    if not syms:
        if sec.size:
            raise ELFError(f"{obj.name}: section 'maps' has {sec.size} bytes but no map symbols")
        return {}, []
    if len(sec.data) != sec.size:
        raise ELFError(f"{obj.name}: section 'maps' has no contents (type {sec.type}); it must hold "
                       "struct bpf_map_def entries")
    def_size = sec.size // len(syms)
    if def_size < _LEGACY_DEF_MIN or def_size % 4 or def_size * len(syms) != sec.size:
        raise ELFError(f"{obj.name}: section 'maps' ({sec.size} bytes, {len(syms)} maps) does not hold "
                       f"whole struct bpf_map_def entries of at least {_LEGACY_DEF_MIN} bytes")
    order = "<" if obj.little_endian else ">"
    maps: dict[str, MapSpec] = {}
    slots: list[MapSlot] = []
    for off, name in syms:
        where = _where(obj, name)
        if off % def_size or off + def_size > sec.size:
            raise ELFError(f"{where}: offset {off} in section 'maps' is not a struct bpf_map_def boundary")
        nwords = min(def_size // 4, 7)
        words = struct.unpack_from(f"{order}{nwords}I", sec.data, off)
        mtype, key_size, value_size, max_entries, flags = words[:5]
        spec = MapSpec(name=name, type=_map_type(mtype, where), key_size=key_size,
                       value_size=value_size, max_entries=max_entries, flags=MapFlags(flags),
                       section=LEGACY_MAPS_SECTION)
        if nwords >= 7:
            spec.numa_node = words[6]
        maps[name] = spec
        slots.append(MapSlot(name, off, def_size))
    return maps, slots

