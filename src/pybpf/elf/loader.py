"""``load_object``: an eBPF ELF object, as clang builds it, into an :class:`~pybpf.spec.ObjectSpec`.

The stages, each in its own module: the checked ELF view (:mod:`.reader`), BTF and .BTF.ext,
map definitions (:mod:`.maps`), global data and externs (:mod:`.data`), then programs with
their relocations and subprograms (:mod:`.programs`). Nothing here makes a syscall.

Not read yet: BPF arena globals (``.addr_space.1``; a reference to one raises ELFError naming the
section and offset).

    >>> spec = load_object("prog.bpf.o")                       # doctest: +SKIP
    >>> spec.programs["handle_exec"].attach_to                  # doctest: +SKIP
    'syscalls/sys_enter_execve'
"""

from __future__ import annotations

import dataclasses
import logging
import os
import struct
from collections.abc import Mapping
from pathlib import Path

from ..btf import BTF, Datasec, Var
from ..btf.ext import BTFExt
from ..errors import ELFError
from ..spec import ExternKind, ExternSpec, MapSpec, ObjectSpec
from .data import KCONFIG_SECTION, object_name, parse_data_sections, parse_externs
from .maps import parse_btf_maps, parse_legacy_maps
from .programs import CodeTargets, load_programs
from .reader import ElfObject
from .struct_ops import parse_struct_ops

__all__ = ["load_object", "load_object_bytes"]

log = logging.getLogger("pybpf.elf")

BTF_SECTION = ".BTF"
BTF_EXT_SECTION = ".BTF.ext"
LICENSE_SECTION = "license"
VERSION_SECTION = "version"


def load_object(path: str | os.PathLike[str]) -> ObjectSpec:
    """Read the eBPF object at ``path`` into a spec (pure data, no syscalls).

    Raises :class:`~pybpf.errors.ELFError` (or :class:`~pybpf.errors.BTFError` for bad BTF)
    naming the section and offset of what is malformed.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ELFError(f"cannot read {p}: {exc.strerror or exc}") from exc
    spec = load_object_bytes(data, name=str(p))
    spec.path = str(p)
    return spec


def load_object_bytes(data: bytes, *, name: str = "<bytes>") -> ObjectSpec:
    """Read an eBPF object held in memory; ``name`` is used in messages and map names."""
    obj = ElfObject(data, name)
    if not obj.little_endian:
        raise ELFError(f"{name}: big-endian eBPF objects are not supported; compile with -target bpfel")
    btf = _btf(obj)
    ext = _btf_ext(obj, btf)
    license = _license(obj)
    kernel_version = _kernel_version(obj)
    obj_name = object_name(name)

    maps: dict[str, MapSpec] = {}
    targets = CodeTargets(has_btf=btf is not None)
    for found, slots in (parse_btf_maps(obj, btf), parse_legacy_maps(obj)):
        _add_maps(obj, maps, found)
        if slots:
            sec_index = obj.sections[found[slots[0].name].section].index
            targets.map_slots[sec_index] = sorted(slots, key=lambda s: s.offset)
    struct_ops, struct_ops_slots = parse_struct_ops(obj, btf)
    _add_maps(obj, maps, struct_ops)
    targets.map_slots.update(struct_ops_slots)
    layout = parse_data_sections(obj, btf, obj_name)
    _add_maps(obj, maps, layout.maps)
    targets.data_maps = dict(layout.by_section)
    targets.data_sizes = {i: obj.sections_by_index[i].size for i in layout.by_section}
    externs, kconfig_map = parse_externs(obj, btf, obj_name)
    if kconfig_map is not None:
        _add_maps(obj, maps, {kconfig_map.name: kconfig_map})
        targets.kconfig_map = kconfig_map.name
    targets.externs = externs

    programs = load_programs(obj, targets, ext, license=license, kernel_version=kernel_version)
    _check_contents(obj, maps, programs)
    if btf is not None:
        btf = _fixup_datasecs(obj, btf, externs)
    log.debug("%s: %d programs, %d maps, %d externs", name, len(programs), len(maps), len(externs))
    return ObjectSpec(programs=programs, maps=maps, variables=layout.variables, externs=externs,
                      license=license, kernel_version=kernel_version, btf=btf, path="")


def _btf(obj: ElfObject) -> BTF | None:
    sec = obj.sections.get(BTF_SECTION)
    if sec is None:
        return None
    return BTF.from_bytes(sec.data)


def _btf_ext(obj: ElfObject, btf: BTF | None) -> BTFExt | None:
    sec = obj.sections.get(BTF_EXT_SECTION)
    if sec is None or btf is None:
        return None
    return BTFExt.from_bytes(sec.data, btf)


def _license(obj: ElfObject) -> str:
    sec = obj.sections.get(LICENSE_SECTION)
    if sec is None:
        return ""
    return sec.data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _kernel_version(obj: ElfObject) -> int:
    sec = obj.sections.get(VERSION_SECTION)
    if sec is None:
        return 0
    if sec.size != 4 or len(sec.data) != 4:
        raise ELFError(f"{obj.name}: section 'version' is {sec.size} bytes; it must hold one u32")
    return int(struct.unpack("<I", sec.data)[0])


def _add_maps(obj: ElfObject, maps: dict[str, MapSpec], found: dict[str, MapSpec]) -> None:
    for name, spec in found.items():
        if name in maps:
            raise ELFError(f"{obj.name}: two maps are named {name!r} (sections {maps[name].section!r} "
                           f"and {spec.section!r})")
        maps[name] = spec


def _check_contents(obj: ElfObject, maps: dict[str, MapSpec], programs: Mapping[str, object]) -> None:
    """Initial slots of map-in-map and program arrays, and struct_ops members, must name things
    the object defines."""
    for spec in maps.values():
        for member, prog in spec.struct_ops_programs.items():
            if prog not in programs:
                raise ELFError(f"{obj.name}: struct_ops map {spec.name!r} member {member!r} refers to "
                               f"{prog!r}, which is not a program of this object")
        for slot, target in spec.contents.items():
            pool = maps if spec.inner_map is not None else programs
            if not isinstance(target, str) or target not in pool:
                what = "map" if spec.inner_map is not None else "program"
                raise ELFError(f"{obj.name}: map {spec.name!r} slot {slot} refers to {target!r}, "
                               f"which is not a {what} of this object")


def _fixup_datasecs(obj: ElfObject, btf: BTF, externs: dict[str, ExternSpec]) -> BTF:
    """Fill in what clang leaves to the linker: DATASEC sizes and variable offsets.

    clang writes every DATASEC with size 0 and offsets 0; the kernel rejects that. Sizes come
    from the ELF sections, offsets from the symbol table (for ``.kconfig``, from the layout of
    the kconfig map). Returns ``btf`` itself when nothing needs fixing.
    """
    kconfig = {e.name: e for e in externs.values() if e.kind == ExternKind.KCONFIG}
    kconfig_size = max((e.offset + e.size for e in kconfig.values()), default=0)
    replace = {}
    for tid, t in btf.types():
        if tid == 0:
            continue
        if isinstance(t, Datasec) and t.size == 0:
            fixed = _fix_one(obj, btf, t, kconfig, kconfig_size)
            if fixed is not t:
                replace[tid] = fixed
    if not replace:
        return btf
    # with_types keeps the string section: .BTF.ext line info refers to strings no type names
    return btf.with_types(replace)


def _fix_one(obj: ElfObject, btf: BTF, t: Datasec, kconfig: dict[str, ExternSpec], kconfig_size: int) -> Datasec:
    if t.name == KCONFIG_SECTION:
        offsets = {name: e.offset for name, e in kconfig.items()}
        size = kconfig_size
    else:
        sec = obj.sections.get(t.name)
        if sec is None:
            return t
        size = sec.size
        offsets = {s.name: s.value for s in obj.symbols_in(t.name) if s.name}
    new_vars = []
    for v in t.vars:
        var = btf[v.type_id]
        name = var.name if isinstance(var, Var) else ""
        new_vars.append(dataclasses.replace(v, offset=offsets.get(name, v.offset)))
    return dataclasses.replace(t, size=size, vars=tuple(new_vars))

