"""A safe, eager view of an eBPF ELF object, built on pyelftools.

:class:`ElfObject` reads the section headers, the symbol table and the relocation tables of an
object once, checks that every section lies inside the file, and turns every error the
underlying parser can raise on malformed input (pyelftools, ``struct``, index and key errors)
into :class:`pybpf.errors.ELFError` naming what was wrong. Nothing is parsed lazily after the
constructor returns, so later use of the object cannot raise a parser error.

    obj = ElfObject(Path("prog.bpf.o").read_bytes(), "prog.bpf.o")
    for reloc in obj.relocations("xdp"):
        print(reloc.offset, reloc.symbol_name)
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Iterator

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.construct import ConstructError as _ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_SH_TYPE_BASE, ENUM_ST_SHNDX
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..errors import ELFError

__all__ = [
    "EM_BPF", "ElfObject", "ElfSection", "Reloc", "RelocType", "SectionFlags", "SectionType",
    "Symbol", "SymbolBind", "SymbolType",
]

log = logging.getLogger("pybpf.elf")

#: ``e_machine`` of an eBPF object
EM_BPF = 247

#: every exception a parser can raise on malformed bytes; converted to ELFError at the boundary
_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    _PyElfError, _ConstructError, struct.error, IndexError, KeyError, ValueError, TypeError,
    AttributeError, ZeroDivisionError, OverflowError, EOFError, UnicodeDecodeError, AssertionError,
    RecursionError,
)

#: readable names for the machines people most often hand us by mistake
_MACHINE_NAMES = {
    "EM_X86_64": "x86-64", "EM_386": "x86", "EM_AARCH64": "AArch64", "EM_ARM": "ARM",
    "EM_RISCV": "RISC-V", "EM_PPC64": "PowerPC64", "EM_PPC": "PowerPC", "EM_S390": "s390",
    "EM_MIPS": "MIPS", "EM_LOONGARCH": "LoongArch", "EM_SPARCV9": "SPARC V9",
}

_ELF_MAGIC = b"\x7fELF"
_MAX_SECTIONS = 1 << 16


class SectionType(IntEnum):
    """``SHT_*`` values that matter to eBPF objects."""

    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    RELA = 4
    HASH = 5
    DYNAMIC = 6
    NOTE = 7
    NOBITS = 8
    REL = 9
    DYNSYM = 11
    LLVM_ADDRSIG = 0x6FFF4C03


class SectionFlags(IntFlag):
    """``SHF_*``."""

    NONE = 0
    WRITE = 0x1
    ALLOC = 0x2
    EXECINSTR = 0x4
    MERGE = 0x10
    STRINGS = 0x20
    INFO_LINK = 0x40


class SymbolBind(IntEnum):
    """``STB_*``."""

    LOCAL = 0
    GLOBAL = 1
    WEAK = 2


class SymbolType(IntEnum):
    """``STT_*``."""

    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6


class RelocType(IntEnum):
    """``R_BPF_*`` relocation types (see the kernel's Documentation/bpf/llvm_reloc.rst)."""

    NONE = 0
    R_64_64 = 1  # ld_imm64 of a symbol address (maps, global data, externs, function pointers)
    ABS64 = 2  # 64-bit data (e.g. in .maps, .BTF)
    ABS32 = 3  # 32-bit data (e.g. in .BTF.ext, DWARF)
    NODYLD32 = 4  # 32-bit data, not for the dynamic loader
    R_64_32 = 10  # call imm: pc-relative, in instruction units


_BIND_BY_NAME = {f"STB_{b.name}": b for b in SymbolBind}
_TYPE_BY_NAME = {f"STT_{t.name}": t for t in SymbolType}
#: special section indices (``SHN_*``) and section types by the names pyelftools gives them
_SHNDX_VALUES: dict[str, int] = {k: int(v) for k, v in ENUM_ST_SHNDX.items() if isinstance(v, int)}
_SH_TYPE_VALUES: dict[str, int] = {k: int(v) for k, v in ENUM_SH_TYPE_BASE.items() if isinstance(v, int)}


@dataclass(frozen=True)
class ElfSection:
    """One section: its header fields and its bytes (``b""`` for SHT_NOBITS such as .bss)."""

    name: str
    index: int
    type: int  # SectionType value (an int when not one we name)
    flags: SectionFlags
    size: int  # sh_size (for NOBITS the size of the zero-filled area)
    offset: int  # sh_offset
    link: int
    info: int
    entsize: int
    addralign: int
    data: bytes

    @property
    def is_executable(self) -> bool:
        """True for a section with code (SHF_EXECINSTR) and bytes."""
        return bool(self.flags & SectionFlags.EXECINSTR) and self.type == SectionType.PROGBITS

    @property
    def is_nobits(self) -> bool:
        return self.type == SectionType.NOBITS


@dataclass(frozen=True)
class Symbol:
    """One symbol table entry; ``section`` is the defining section's name ("" if undefined)."""

    index: int
    name: str
    value: int
    size: int
    bind: SymbolBind | int
    type: SymbolType | int
    visibility: str
    section_index: int  # st_shndx (0 for undefined, 0xfff1 for absolute, ...)
    section: str

    @property
    def is_defined(self) -> bool:
        return 0 < self.section_index < 0xFF00


@dataclass(frozen=True)
class Reloc:
    """One relocation applied to a section.

    ``symbol_name`` is the symbol's name, or for a section symbol (STT_SECTION, which clang uses
    for static data and static functions) the name of that section, as ``llvm-objdump`` shows it.
    """

    offset: int  # r_offset: byte offset in the relocated section
    symbol_name: str
    symbol_section: str  # the section the symbol is defined in ("" for an undefined extern)
    symbol_value: int
    type: RelocType | int
    symbol_type: SymbolType | int = SymbolType.NOTYPE
    symbol_bind: SymbolBind | int = SymbolBind.LOCAL
    symbol_index: int = 0
    addend: int = 0  # RELA only; BPF objects use REL with the addend in the instruction


class ElfObject:
    """The sections, symbols and relocations of an eBPF ELF object, read eagerly and checked.

    Raises :class:`~pybpf.errors.ELFError` for malformed input or a non-eBPF object.
    """

    def __init__(self, data: bytes, name: str = "<bytes>") -> None:
        self.name = name
        self.raw = bytes(data)
        if self.raw[:4] != _ELF_MAGIC:
            raise ELFError(f"{name}: not an ELF file (bad magic {self.raw[:4]!r}); "
                           "pass an object compiled with clang -target bpf")
        try:
            self._parse()
        except ELFError:
            raise
        except _PARSE_ERRORS as exc:
            raise ELFError(f"{name}: malformed ELF object: {type(exc).__name__}: {exc}") from exc

    # -- parsing -------------------------------------------------------------------------

    def _parse(self) -> None:
        elf = ELFFile(io.BytesIO(self.raw))
        machine = elf["e_machine"]
        if machine != "EM_BPF" and machine != EM_BPF:
            shown = _MACHINE_NAMES.get(str(machine), str(machine).removeprefix("EM_"))
            raise ELFError(f"{self.name}: not an eBPF object (machine is {shown}); "
                           "compile with clang -target bpf (or pybpf.cc.compile)")
        self.little_endian: bool = bool(elf.little_endian)
        self.elfclass: int = int(elf.elfclass)
        self.e_type: str = str(elf["e_type"])
        self._check_header(elf)
        self.sections_by_index: list[ElfSection] = []
        self.sections: dict[str, ElfSection] = {}
        raw_sections = []
        for index in range(elf.num_sections()):
            sec = elf.get_section(index)
            raw_sections.append(sec)
            parsed = self._section(sec, index)
            self.sections_by_index.append(parsed)
            if parsed.name and parsed.name not in self.sections:
                self.sections[parsed.name] = parsed
        self.symbols: list[Symbol] = []
        symtab = next((s for s in raw_sections if isinstance(s, SymbolTableSection)
                       and s["sh_type"] == "SHT_SYMTAB"), None)
        if symtab is not None:
            self._check_table(symtab, 16 if self.elfclass == 32 else 24, "symbol table")
            self.symbols = [self._symbol(i, sym) for i, sym in enumerate(symtab.iter_symbols())]
        self._relocs: dict[int, list[Reloc]] = {}
        for sec in raw_sections:
            if isinstance(sec, RelocationSection):
                self._read_relocations(sec)

    def _check_header(self, elf: ELFFile) -> None:
        shnum = elf.num_sections()
        shoff = elf["e_shoff"]
        shentsize = elf["e_shentsize"]
        if shnum > _MAX_SECTIONS:
            raise ELFError(f"{self.name}: {shnum} sections is more than an ELF object can have")
        if shnum and (shentsize < (40 if self.elfclass == 32 else 64)
                      or shoff + shnum * shentsize > len(self.raw)):
            raise ELFError(f"{self.name}: section header table at offset {shoff} "
                           f"({shnum} x {shentsize} bytes) does not fit in the file ({len(self.raw)} bytes)")

    def _section(self, sec, index: int) -> ElfSection:  # type: ignore[no-untyped-def]
        name = sec.name
        if not isinstance(name, str):
            raise ELFError(f"{self.name}: section {index} has an unreadable name")
        sh_type = sec["sh_type"]
        type_ = _SH_TYPE_VALUES.get(sh_type, -1) if isinstance(sh_type, str) else int(sh_type)
        if type_ in _SECTION_TYPES:
            type_ = _SECTION_TYPES[type_]
        size, offset = int(sec["sh_size"]), int(sec["sh_offset"])
        if type_ in (SectionType.NOBITS, SectionType.NULL):
            data = b""
        else:
            if offset + size > len(self.raw):
                raise ELFError(f"{self.name}: section {name!r} (index {index}) at offset {offset} "
                               f"with size {size} extends past the end of the file ({len(self.raw)} bytes)")
            data = self.raw[offset:offset + size]
        return ElfSection(
            name=name, index=index, type=type_, flags=SectionFlags(int(sec["sh_flags"]) & 0xFFFFFFFF),
            size=size, offset=offset, link=int(sec["sh_link"]), info=int(sec["sh_info"]),
            entsize=int(sec["sh_entsize"]), addralign=int(sec["sh_addralign"]), data=data,
        )

    def _check_table(self, sec, min_entsize: int, what: str) -> None:  # type: ignore[no-untyped-def]
        entsize, size = int(sec["sh_entsize"]), int(sec["sh_size"])
        if entsize < min_entsize:
            raise ELFError(f"{self.name}: {what} {sec.name!r} has entry size {entsize} "
                           f"(expected at least {min_entsize})")
        if size % entsize:
            raise ELFError(f"{self.name}: {what} {sec.name!r} size {size} is not a multiple of "
                           f"its entry size {entsize}")

    def _section_name(self, shndx: int) -> str:
        if 0 < shndx < len(self.sections_by_index):
            return self.sections_by_index[shndx].name
        return ""

    def _symbol(self, index: int, sym) -> Symbol:  # type: ignore[no-untyped-def]
        info = sym["st_info"]
        bind = _BIND_BY_NAME.get(info["bind"], info["bind"])
        stype = _TYPE_BY_NAME.get(info["type"], info["type"])
        shndx_raw = sym["st_shndx"]
        shndx = _SHNDX_VALUES.get(shndx_raw, 0xFF00) if isinstance(shndx_raw, str) else int(shndx_raw)
        if 0 < shndx < 0xFF00 and shndx >= len(self.sections_by_index):
            raise ELFError(f"{self.name}: symbol {index} ({sym.name!r}) refers to section {shndx}, "
                           f"but the object has {len(self.sections_by_index)} sections")
        section = self._section_name(shndx)
        name = sym.name
        if not isinstance(name, str):
            raise ELFError(f"{self.name}: symbol {index} has an unreadable name")
        if stype == SymbolType.SECTION and not name:
            name = section
        return Symbol(
            index=index, name=name, value=int(sym["st_value"]), size=int(sym["st_size"]),
            bind=bind if isinstance(bind, SymbolBind) else int(bind),
            type=stype if isinstance(stype, SymbolType) else int(stype),
            visibility=str(sym["st_other"]["visibility"]), section_index=shndx, section=section,
        )

    def _read_relocations(self, sec: RelocationSection) -> None:
        rela = sec.is_RELA()
        ptr = 4 if self.elfclass == 32 else 8
        self._check_table(sec, (3 if rela else 2) * ptr, "relocation section")
        target = int(sec["sh_info"])
        if not 0 < target < len(self.sections_by_index):
            raise ELFError(f"{self.name}: relocation section {sec.name!r} applies to section {target}, "
                           f"which does not exist")
        target_sec = self.sections_by_index[target]
        out = self._relocs.setdefault(target, [])
        for n, entry in enumerate(sec.iter_relocations()):
            sym_index = int(entry["r_info_sym"])
            if sym_index >= len(self.symbols):
                raise ELFError(f"{self.name}: relocation {n} of {target_sec.name!r} (offset "
                               f"{entry['r_offset']}) refers to symbol {sym_index}, but the symbol "
                               f"table has {len(self.symbols)} entries")
            sym = self.symbols[sym_index]
            rtype = int(entry["r_info_type"])
            out.append(Reloc(
                offset=int(entry["r_offset"]), symbol_name=sym.name, symbol_section=sym.section,
                symbol_value=sym.value, type=_RELOC_TYPES.get(rtype, rtype), symbol_type=sym.type,
                symbol_bind=sym.bind, symbol_index=sym_index,
                addend=int(entry["r_addend"]) if rela else 0,
            ))

    # -- queries -------------------------------------------------------------------------

    def section(self, name: str) -> ElfSection:
        """The section called ``name``; ELFError naming the sections there are otherwise."""
        try:
            return self.sections[name]
        except KeyError:
            raise ELFError(f"{self.name}: no section {name!r} (sections: "
                           f"{', '.join(n for n in self.sections if n)})") from None

    def relocations(self, section_name: str) -> list[Reloc]:
        """The relocations that apply to ``section_name``, in file order ([] when none)."""
        sec = self.sections.get(section_name)
        if sec is None:
            return []
        return list(self._relocs.get(sec.index, ()))

    def relocations_by_index(self, index: int) -> list[Reloc]:
        """The relocations that apply to the section with header index ``index``."""
        return list(self._relocs.get(index, ()))

    def symbols_in(self, section_name: str) -> Iterator[Symbol]:
        """Symbols defined in ``section_name``, in symbol-table order."""
        sec = self.sections.get(section_name)
        if sec is None:
            return iter(())
        return (s for s in self.symbols if s.section_index == sec.index)

    def executable_sections(self) -> list[ElfSection]:
        """Sections holding code, in header order."""
        return [s for s in self.sections_by_index if s.is_executable and s.size]

    def __repr__(self) -> str:
        return f"ElfObject({self.name!r}, {len(self.sections_by_index)} sections, {len(self.symbols)} symbols)"


_SECTION_TYPES = {t.value: t for t in SectionType}
_RELOC_TYPES = {t.value: t for t in RelocType}
