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
from elftools.elf.enums import ENUM_SH_TYPE_BASE

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


#: section types by the names pyelftools gives them
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
        if self.elfclass != 64:
            raise ELFError(f"{self.name}: a {self.elfclass}-bit ELF file; eBPF objects are 64-bit")
        self._order = "<" if self.little_endian else ">"
        self.e_type: str = str(elf["e_type"])
        self._check_header(elf)
        self.sections_by_index: list[ElfSection] = []
        self.sections: dict[str, ElfSection] = {}
        for index in range(elf.num_sections()):
            parsed = self._section(elf.get_section(index), index)
            self.sections_by_index.append(parsed)
            if parsed.name and parsed.name not in self.sections:
                self.sections[parsed.name] = parsed
        self.symbols: list[Symbol] = []
        symtab = next((s for s in self.sections_by_index if s.type == SectionType.SYMTAB), None)
        if symtab is not None:
            self.symbols = self._read_symbols(symtab)
        self._relocs: dict[int, list[Reloc]] = {}
        for sec in self.sections_by_index:
            if sec.type in (SectionType.REL, SectionType.RELA):
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

    def _check_table(self, sec: ElfSection, entsize: int, what: str) -> None:
        if sec.entsize != entsize:
            raise ELFError(f"{self.name}: {what} {sec.name!r} has entry size {sec.entsize} "
                           f"(expected {entsize})")
        if sec.size % entsize or len(sec.data) != sec.size:
            raise ELFError(f"{self.name}: {what} {sec.name!r} size {sec.size} is not a whole number "
                           f"of {entsize}-byte entries")

    def _section_name(self, shndx: int) -> str:
        if 0 < shndx < len(self.sections_by_index):
            return self.sections_by_index[shndx].name
        return ""

    def _string(self, strtab: bytes, offset: int, what: str) -> str:
        if offset >= len(strtab) and offset:
            raise ELFError(f"{self.name}: {what} has name offset {offset}, past the end of its "
                           f"string table ({len(strtab)} bytes)")
        end = strtab.find(b"\0", offset)
        raw = strtab[offset:end if end >= 0 else len(strtab)]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ELFError(f"{self.name}: {what} has a name that is not UTF-8: {raw!r}") from None

    def _read_symbols(self, symtab: ElfSection) -> list[Symbol]:
        self._check_table(symtab, _SYM.size, "symbol table")
        if not 0 < symtab.link < len(self.sections_by_index):
            raise ELFError(f"{self.name}: symbol table links to string table {symtab.link}, which does not exist")
        strtab = self.sections_by_index[symtab.link].data
        nsections = len(self.sections_by_index)
        out = []
        fmt = struct.Struct(self._order + _SYM.format[1:])
        for index, (name_off, info, other, shndx, value, size) in enumerate(fmt.iter_unpack(symtab.data)):
            bind, stype = info >> 4, info & 0xF
            bind_e = _BINDS.get(bind, bind)
            type_e = _STYPES.get(stype, stype)
            name = self._string(strtab, name_off, f"symbol {index}")
            if 0 < shndx < 0xFF00 and shndx >= nsections:
                raise ELFError(f"{self.name}: symbol {index} ({name!r}) refers to section {shndx}, "
                               f"but the object has {nsections} sections")
            section = self._section_name(shndx)
            if type_e == SymbolType.SECTION and not name:
                name = section
            out.append(Symbol(index=index, name=name, value=value, size=size, bind=bind_e, type=type_e,
                              visibility=_VISIBILITY.get(other & 3, "STV_DEFAULT"),
                              section_index=shndx, section=section))
        return out

    def _read_relocations(self, sec: ElfSection) -> None:
        rela = sec.type == SectionType.RELA
        entry = _RELA if rela else _REL
        self._check_table(sec, entry.size, "relocation section")
        target = sec.info
        if not 0 < target < len(self.sections_by_index):
            raise ELFError(f"{self.name}: relocation section {sec.name!r} applies to section {target}, "
                           f"which does not exist")
        target_sec = self.sections_by_index[target]
        out = self._relocs.setdefault(target, [])
        fmt = struct.Struct(self._order + entry.format[1:])
        for n, fields in enumerate(fmt.iter_unpack(sec.data)):
            r_offset, r_info = fields[0], fields[1]
            sym_index, rtype = r_info >> 32, r_info & 0xFFFFFFFF
            if sym_index >= len(self.symbols):
                raise ELFError(f"{self.name}: relocation {n} of {target_sec.name!r} (offset "
                               f"{r_offset}) refers to symbol {sym_index}, but the symbol "
                               f"table has {len(self.symbols)} entries")
            sym = self.symbols[sym_index]
            out.append(Reloc(
                offset=r_offset, symbol_name=sym.name, symbol_section=sym.section,
                symbol_value=sym.value, type=_RELOC_TYPES.get(rtype, rtype), symbol_type=sym.type,
                symbol_bind=sym.bind, symbol_index=sym_index, addend=fields[2] if rela else 0,
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
_BINDS = {b.value: b for b in SymbolBind}
_STYPES = {t.value: t for t in SymbolType}
_VISIBILITY = {0: "STV_DEFAULT", 1: "STV_INTERNAL", 2: "STV_HIDDEN", 3: "STV_PROTECTED"}
_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym
_REL = struct.Struct("<QQ")  # Elf64_Rel
_RELA = struct.Struct("<QQq")  # Elf64_Rela
_RELOC_TYPES = {t.value: t for t in RelocType}
