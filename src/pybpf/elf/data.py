"""Global data (``.rodata``, ``.data``, ``.bss`` and their ``.*`` variants) and externs.

Each global-data section becomes a one-element ARRAY map whose value is the whole section:
``data`` holds the initial bytes (zeros for ``.bss``), ``.rodata`` maps are frozen after they are
written. The variables in them are located through the object's BTF DATASEC of the same name;
clang writes DATASECs with size 0 and every offset 0, so (like every loader must) we take the
offsets and the section size from the ELF symbol table when the DATASEC says 0.

Map names follow libbpf's convention, so tools such as ``bpftool map`` show the same names:
the object name (the file's base name up to its first ``.``) as a prefix, then the section
name, in at most 15 characters (``BPF_OBJ_NAME_LEN - 1``): the section name keeps at least 7
characters (all of them up to 15), the prefix fills what is left (``myprog.rodata`` ->
``myprog.rodata``, ``very_long_name.bss`` -> ``very_lo.bss``... see :func:`internal_map_name`).
Custom sections (``.data.foo``, ``.rodata.str1.1``) are named by the section name alone.
Characters the kernel does not accept in a name become ``_``.

Externs: ``extern ... __kconfig`` variables (DATASEC ``.kconfig``) are laid out in one
``.kconfig`` map (by descending alignment, then ascending size, then name, each at its natural
alignment); ``extern ... __ksym`` variables and functions (DATASEC ``.ksyms``) become KSYM and
KFUNC externs resolved against the kernel's BTF at load time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from ..btf import BTF, Array, Datasec, Func, Kind, Var
from ..enums import MapFlags, MapType
from ..errors import ELFError
from ..spec import ExternKind, ExternSpec, MapSpec, VariableSpec
from .reader import ElfObject, ElfSection, SectionFlags, SectionType, SymbolBind, SymbolType

__all__ = [
    "DataLayout", "KCONFIG_SECTION", "KSYMS_SECTION", "internal_map_name", "is_data_section",
    "object_name", "parse_data_sections", "parse_externs",
]

log = logging.getLogger("pybpf.elf")

KCONFIG_SECTION = ".kconfig"
KSYMS_SECTION = ".ksyms"
_OBJ_NAME_LEN = 16  # BPF_OBJ_NAME_LEN, including the NUL
_STANDARD_DATA = (".rodata", ".data", ".bss")
#: the largest global-data section we accept (the kernel's limit for a map value is far lower)
MAX_DATA_SIZE = 1 << 28
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.]")


def object_name(path_or_name: str) -> str:
    """The object name libbpf derives from a path: the base name up to its first ``.``."""
    base = PurePath(path_or_name).name or path_or_name
    return base.split(".", 1)[0] or base


def internal_map_name(obj_name: str, section: str) -> str:
    """The kernel-visible name of a global-data map (see the module docstring)."""
    max_len = _OBJ_NAME_LEN - 1
    sfx_len = min(max(7, len(section)), max_len)
    if "." in section[1:]:  # a custom section such as .data.foo: no prefix
        pfx_len = 0
    else:
        pfx_len = min(max_len - sfx_len, len(obj_name))
    return _BAD_NAME_CHARS.sub("_", obj_name[:pfx_len] + section[:sfx_len])


def is_data_section(sec: ElfSection) -> bool:
    """True for ``.rodata``, ``.data``, ``.bss`` and ``.rodata.*``, ``.data.*``, ``.bss.*``."""
    if sec.type not in (SectionType.PROGBITS, SectionType.NOBITS) or sec.is_executable:
        return False
    name = sec.name
    return name in _STANDARD_DATA or name.startswith(tuple(p + "." for p in _STANDARD_DATA))


@dataclass
class DataLayout:
    """What the global-data sections turn into."""

    maps: dict[str, MapSpec] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    by_section: dict[int, str] = field(default_factory=dict)  # ELF section index -> map name


def _datasec(btf: BTF | None, name: str) -> Datasec | None:
    if btf is None:
        return None
    ids = btf.find(name, Kind.DATASEC)
    if not ids:
        return None
    t = btf[ids[0]]
    return t if isinstance(t, Datasec) else None


def parse_data_sections(obj: ElfObject, btf: BTF | None, obj_name: str) -> DataLayout:
    """One ARRAY map per global-data section, with its variables."""
    out = DataLayout()
    for sec in obj.sections_by_index:
        if not is_data_section(sec) or sec.size == 0:
            continue
        if sec.size > MAX_DATA_SIZE:
            raise ELFError(f"{obj.name}: section {sec.name!r} is {sec.size} bytes, more than the "
                           f"{MAX_DATA_SIZE} a global-data map can hold")
        name = internal_map_name(obj_name, sec.name)
        if name in out.maps:
            raise ELFError(f"{obj.name}: sections {out.maps[name].section!r} and {sec.name!r} both "
                           f"map to the name {name!r}; rename one of them")
        readonly = sec.name == ".rodata" or sec.name.startswith(".rodata.")
        if not sec.flags & SectionFlags.WRITE and not readonly:
            log.debug("%s: %s is not writable, treated as data anyway", obj.name, sec.name)
        data = bytearray(sec.size) if sec.is_nobits else bytearray(sec.data)
        out.maps[name] = MapSpec(
            name=name, type=MapType.ARRAY, key_size=4, value_size=sec.size, max_entries=1,
            flags=MapFlags.RDONLY_PROG if readonly else MapFlags.NONE, data=data,
            section=sec.name, freeze=readonly,
        )
        out.by_section[sec.index] = name
        for var in _section_variables(obj, btf, sec, name):
            key = var.name if var.name not in out.variables else f"{name}/{var.name}"
            out.variables[key] = var
    return out


def _section_variables(obj: ElfObject, btf: BTF | None, sec: ElfSection, map_name: str) -> list[VariableSpec]:
    symbols = {s.name: s for s in obj.symbols_in(sec.name)
               if s.type in (SymbolType.OBJECT, SymbolType.NOTYPE) and s.name}
    datasec = _datasec(btf, sec.name)
    out: list[VariableSpec] = []
    if datasec is None or btf is None:
        for each in symbols.values():
            out.append(_checked(obj, sec, VariableSpec(each.name, map_name, each.value, each.size, 0)))
        return out
    for info in datasec.vars:
        var = btf[info.type_id]
        if not isinstance(var, Var):
            raise ELFError(f"{obj.name}: DATASEC {sec.name} entry {info.type_id} is a {var.kind.name}, not a variable")
        offset, size = info.offset, info.size
        if datasec.size == 0:  # as clang writes it: the linker's job is left to us
            sym = symbols.get(var.name)
            if sym is None:
                log.debug("%s: variable %s of %s has no symbol; skipped", obj.name, var.name, sec.name)
                continue
            offset = sym.value
        out.append(_checked(obj, sec, VariableSpec(var.name, map_name, offset, size, var.type_id)))
    return out


def _checked(obj: ElfObject, sec: ElfSection, var: VariableSpec) -> VariableSpec:
    if var.offset < 0 or var.offset + var.size > sec.size:
        raise ELFError(f"{obj.name}: variable {var.name!r} at offset {var.offset} size {var.size} "
                       f"lies outside {sec.name} ({sec.size} bytes)")
    return var


def _alignment(btf: BTF, type_id: int) -> int:
    """Natural alignment of a kconfig value: its (element) size, a power of two up to 8."""
    tid = btf.resolve(type_id)
    t = btf[tid]
    while isinstance(t, Array):
        tid = btf.resolve(t.elem_type_id)
        t = btf[tid]
    size = min(btf.size_of(tid), 8)
    align = 1
    while align * 2 <= size:
        align *= 2
    return align


def parse_externs(obj: ElfObject, btf: BTF | None, obj_name: str) -> tuple[dict[str, ExternSpec], MapSpec | None]:
    """Externs declared ``__kconfig`` or ``__ksym``, and the ``.kconfig`` map if there are any."""
    undefined = {s.name: s for s in obj.symbols
                 if s.section_index == 0 and s.name and s.bind in (SymbolBind.GLOBAL, SymbolBind.WEAK)}
    externs: dict[str, ExternSpec] = {}
    if not undefined or btf is None:
        return externs, None
    kconfig: list[tuple[int, int, str, int, bool]] = []  # (align, size, name, type_id, weak)
    for sec_name in (KCONFIG_SECTION, KSYMS_SECTION):
        datasec = _datasec(btf, sec_name)
        if datasec is None:
            continue
        for info in datasec.vars:
            t = btf[info.type_id]
            if not isinstance(t, (Var, Func)) or t.name not in undefined:
                continue
            weak = undefined[t.name].bind == SymbolBind.WEAK
            if sec_name == KCONFIG_SECTION:
                if not isinstance(t, Var):
                    raise ELFError(f"{obj.name}: __kconfig extern {t.name!r} must be a variable")
                size = btf.size_of(t.type_id)
                kconfig.append((_alignment(btf, t.type_id), size, t.name, t.type_id, weak))
            elif isinstance(t, Func):
                externs[t.name] = ExternSpec(t.name, ExternKind.KFUNC, info.type_id, weak)
            else:
                externs[t.name] = ExternSpec(t.name, ExternKind.KSYM, t.type_id, weak,
                                             size=info.size)
    if not kconfig:
        return externs, None
    offset = 0
    for align, size, name, type_id, weak in sorted(kconfig, key=lambda e: (-e[0], e[1], e[2])):
        offset = (offset + align - 1) // align * align
        externs[name] = ExternSpec(name, ExternKind.KCONFIG, type_id, weak, offset=offset, size=size)
        offset += size
    map_name = internal_map_name(obj_name, KCONFIG_SECTION)
    kmap = MapSpec(name=map_name, type=MapType.ARRAY, key_size=4, value_size=offset, max_entries=1,
                   flags=MapFlags.RDONLY_PROG, data=bytearray(offset), section=KCONFIG_SECTION,
                   freeze=True)
    return externs, kmap
