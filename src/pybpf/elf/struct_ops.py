"""``struct_ops`` maps: kernel operation tables (``struct tcp_congestion_ops``, ``sched_ext_ops``)
that the object fills with its programs.

Each variable in ``.struct_ops`` (or ``.struct_ops.link``, created with ``BPF_F_LINK`` and attached
through a link) is one STRUCT_OPS map named after the variable. Its value is the struct's bytes as
initialised in the object; its function-pointer members are ``.rel.struct_ops*`` relocations
against programs, recorded as member name -> program name. Matching the struct to the running
kernel's (by name, in its BTF) is left to the loader.
"""

from __future__ import annotations

from ..btf import BTF, Datasec, Kind, Pointer, Struct, Var
from ..enums import MapFlags, MapType
from ..errors import ELFError
from ..spec import MapSpec
from .maps import MapSlot
from .reader import ElfObject, SymbolType

__all__ = ["STRUCT_OPS_SECTIONS", "parse_struct_ops"]

#: section -> the map flags its maps are created with
STRUCT_OPS_SECTIONS: dict[str, MapFlags] = {".struct_ops": MapFlags.NONE, ".struct_ops.link": MapFlags.LINK}


def parse_struct_ops(obj: ElfObject, btf: BTF | None) -> tuple[dict[str, MapSpec], dict[int, list[MapSlot]]]:
    """STRUCT_OPS maps of the object, and where each lives (section index -> slots)."""
    maps: dict[str, MapSpec] = {}
    where: dict[int, list[MapSlot]] = {}
    for sec_name, flags in STRUCT_OPS_SECTIONS.items():
        sec = obj.sections.get(sec_name)
        if sec is None or sec.size == 0:
            continue
        if btf is None:
            raise ELFError(f"{obj.name}: section {sec_name} needs BTF to be read; compile with -g")
        ids = btf.find(sec_name, Kind.DATASEC)
        datasec = btf[ids[0]] if ids else None
        if not isinstance(datasec, Datasec):
            raise ELFError(f"{obj.name}: the .BTF has no DATASEC for {sec_name}")
        if len(sec.data) != sec.size:
            raise ELFError(f"{obj.name}: section {sec_name} has no contents")
        symbols = {s.name: s for s in obj.symbols_in(sec_name) if s.type in (SymbolType.OBJECT, SymbolType.NOTYPE)}
        relocs = obj.relocations(sec_name)
        for info in datasec.vars:
            var = btf[info.type_id]
            if not isinstance(var, Var):
                raise ELFError(f"{obj.name}: {sec_name} DATASEC entry {info.type_id} is not a variable")
            label = f"{obj.name}: struct_ops map {var.name!r}"
            sym = symbols.get(var.name)
            if sym is None:
                raise ELFError(f"{label}: no ELF symbol in {sec_name}")
            type_id = btf.resolve(var.type_id)
            st = btf[type_id]
            if not isinstance(st, Struct):
                raise ELFError(f"{label}: must be a struct, found {st.kind.name}")
            size = st.size
            if sym.value + size > sec.size:
                raise ELFError(f"{label}: at offset {sym.value} size {size} lies outside {sec_name} ({sec.size} bytes)")
            spec = MapSpec(name=var.name, type=MapType.STRUCT_OPS, key_size=4, value_size=size, max_entries=1,
                           flags=flags, value_type_id=type_id, data=bytearray(sec.data[sym.value:sym.value + size]),
                           section=sec_name)
            members = {m.bit_offset // 8: m for m in st.members if not m.bitfield_size}
            for r in relocs:
                if not sym.value <= r.offset < sym.value + size:
                    continue
                member = members.get(r.offset - sym.value)
                if member is None:
                    raise ELFError(f"{label}: relocation at {sec_name} offset {r.offset} is not at a member")
                ptr = btf[btf.resolve(member.type_id)]
                if not (isinstance(ptr, Pointer) and btf[btf.resolve(ptr.type_id)].kind == Kind.FUNC_PROTO):
                    raise ELFError(f"{label}: member {member.name!r} is set to {r.symbol_name!r} but is not "
                                   "a function pointer")
                if r.symbol_type != SymbolType.FUNC:
                    raise ELFError(f"{label}: member {member.name!r} must point to a program, not {r.symbol_name!r}")
                spec.struct_ops_programs[member.name] = r.symbol_name
            if var.name in maps:
                raise ELFError(f"{label}: defined twice")
            maps[var.name] = spec
            where.setdefault(sec.index, []).append(MapSlot(var.name, sym.value, size))
    return maps, where
