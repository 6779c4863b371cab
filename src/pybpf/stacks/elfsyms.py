"""Function symbols of one ELF file (executable or shared library), for address lookups.

:class:`ElfSymbols` reads, with pyelftools, the ``PT_LOAD`` program headers, the function
symbols of ``.symtab`` and ``.dynsym`` and the GNU build id of a file. A *file offset* (what
``/proc/PID/maps`` arithmetic and build-id stack frames give) becomes a *virtual address* as
``nm`` prints it through the segment that contains it: ``vaddr = off - p_offset + p_vaddr``.
That is the same for ``-no-pie`` executables, PIE executables and shared libraries.

A stripped file's symbols are taken from its separate debug file when one is installed
(``/usr/lib/debug/.build-id/xx/yyyy.debug``). Files are cached per (device, inode, mtime).

>>> syms = elf_symbols("/usr/bin/python3")  # doctest: +SKIP
>>> syms.lookup(syms.vaddr_of_offset(0x1234))  # doctest: +SKIP
('_start', 4)
"""

from __future__ import annotations

import bisect
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection
from elftools.elf.segments import NoteSegment

from .._lru import LRUCache
from ._symbol import StackError

log = logging.getLogger("pybpf.stacks")

DEBUG_ROOT = Path("/usr/lib/debug/.build-id")


@dataclass(frozen=True)
class Segment:
    """A ``PT_LOAD`` program header: file bytes [offset, offset+filesz) at vaddr."""

    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class _Sym:
    address: int
    size: int
    name: str
    rank: tuple[int, bool, int]  # preference at one address: global < weak < local, no '_', shorter
    limit: int  # the end of the symbol's section: a size-0 symbol never reaches past it


class ElfSymbols:
    """The function symbols, load segments and build id of one ELF file (read on creation)."""

    def __init__(self, path: str | os.PathLike[str], *, debug_root: Path | None = DEBUG_ROOT,
                 data: bytes | None = None) -> None:
        self.path = str(path)
        try:
            with (open(self.path, "rb") if data is None else io.BytesIO(data)) as fh:
                elf = ELFFile(fh)
                self.segments: tuple[Segment, ...] = tuple(
                    Segment(seg["p_offset"], seg["p_vaddr"], seg["p_filesz"], seg["p_memsz"])
                    for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD")
                self.build_id: str | None = _build_id(elf)
                has_symtab = elf.get_section_by_name(".symtab") is not None
                syms = list(_function_symbols(elf))
        except (OSError, _PyElfError, ValueError, KeyError, IndexError) as exc:  # pyelftools raises several kinds
            raise StackError(f"cannot read the symbols of {self.path}: {exc}") from exc
        self.debug_file: str | None = None
        if not has_symtab and self.build_id and debug_root is not None:
            debug = debug_root / self.build_id[:2] / f"{self.build_id[2:]}.debug"
            if debug.is_file():
                try:
                    with open(debug, "rb") as fh:
                        syms.extend(_function_symbols(ELFFile(fh)))
                    self.debug_file = str(debug)
                except (OSError, _PyElfError, ValueError, KeyError, IndexError) as exc:
                    log.debug("ignoring debug file %s: %s", debug, exc)
        self._set_symbols(syms)
        log.debug("%s: %d function symbols, %d load segments, build id %s", self.path, len(self._names),
                  len(self.segments), self.build_id)

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> ElfSymbols:
        """The symbols of an ELF image in memory (the ``[vdso]`` read from a process), called ``name``."""
        return cls(name, debug_root=None, data=data)

    def _set_symbols(self, syms: Iterable[_Sym]) -> None:
        best: dict[int, _Sym] = {}
        for sym in syms:
            old = best.get(sym.address)
            if old is None or sym.rank < old.rank or (sym.rank == old.rank and sym.size > old.size):
                best[sym.address] = sym
        ordered = sorted(best.values(), key=lambda s: s.address)
        self._starts = [s.address for s in ordered]
        self._names = [s.name for s in ordered]
        ends = []
        for i, sym in enumerate(ordered):
            if sym.size:
                ends.append(sym.address + sym.size)
            else:  # no size: up to the next symbol, within its section
                following = ordered[i + 1].address if i + 1 < len(ordered) else sym.limit
                ends.append(max(min(following, sym.limit), sym.address + 1))
        self._ends = ends

    def __len__(self) -> int:
        return len(self._names)

    def vaddr_of_offset(self, file_offset: int) -> int | None:
        """The virtual address of byte ``file_offset`` of the file (None outside every PT_LOAD)."""
        for seg in self.segments:
            if seg.offset <= file_offset < seg.offset + max(seg.filesz, 1):
                return file_offset - seg.offset + seg.vaddr
        return None

    def offset_of_vaddr(self, vaddr: int) -> int | None:
        """The file offset of virtual address ``vaddr`` (None if no segment has file bytes there)."""
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        return None

    def lookup(self, vaddr: int) -> tuple[str, int] | None:
        """``(name, offset)`` of the function containing ``vaddr``, or None."""
        i = bisect.bisect_right(self._starts, vaddr) - 1
        if i < 0 or vaddr >= self._ends[i]:
            return None
        return self._names[i], vaddr - self._starts[i]

    def address_of(self, name: str) -> int | None:
        """The virtual address of function ``name`` (None if there is none)."""
        for start, sym in zip(self._starts, self._names):
            if sym == name:
                return start
        return None


def _build_id(elf: ELFFile) -> str | None:
    """The GNU build id (hex) from the note sections, else the PT_NOTE segments."""
    containers: list[Iterable[Any]] = [
        sec.iter_notes() for sec in elf.iter_sections() if isinstance(sec, NoteSection)]
    if not containers:
        containers = [seg.iter_notes() for seg in elf.iter_segments() if isinstance(seg, NoteSegment)]
    for notes in containers:
        for note in notes:
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return str(note["n_desc"])
    return None


def read_build_id(path: str | os.PathLike[str]) -> str | None:
    """The GNU build id of an ELF file as lowercase hex (None if it has none or is no ELF)."""
    try:
        with open(path, "rb") as fh:
            return _build_id(ELFFile(fh))
    except (OSError, _PyElfError, ValueError, KeyError):
        return None


#: Elf64_Sym / Elf32_Sym as numpy records (the byte order is set per file)
_SYM64 = [("name", "u4"), ("info", "u1"), ("other", "u1"), ("shndx", "u2"), ("value", "u8"), ("size", "u8")]
_SYM32 = [("name", "u4"), ("value", "u4"), ("size", "u4"), ("info", "u1"), ("other", "u1"), ("shndx", "u2")]
_STT_FUNC, _STT_GNU_IFUNC = 2, 10
_SHN_LORESERVE = 0xFF00
_BIND_RANK = (2, 0, 1) + (3,) * 13  # by STB_*: LOCAL, GLOBAL, WEAK, others


def _function_symbols(elf: ELFFile) -> Iterable[_Sym]:
    """The defined, named functions of .symtab and .dynsym.

    The tables are decoded with numpy (pyelftools' per-symbol parsing takes ~1 s for libc's
    debug symbols); pyelftools only locates the sections.
    """
    import numpy as np  # here, not at import: loading a program with a stack map does not read ELF symbols

    order = "<" if elf.little_endian else ">"
    fields = _SYM64 if elf.elfclass == 64 else _SYM32
    dtype = np.dtype([(name, order + code) for name, code in fields])
    section_ends: dict[int, int] = {}
    for name in (".symtab", ".dynsym"):
        section = elf.get_section_by_name(name)
        if not isinstance(section, SymbolTableSection) or section["sh_type"] == "SHT_NOBITS":
            continue
        strtab = elf.get_section(section["sh_link"]).data()
        table = np.frombuffer(section.data(), dtype=dtype)
        kind = table["info"] & 0xF
        keep = ((kind == _STT_FUNC) | (kind == _STT_GNU_IFUNC)) & (table["shndx"] != 0) & (table["value"] != 0)
        keep &= (table["name"] != 0) & (table["shndx"] < _SHN_LORESERVE)
        kept = table[keep]
        columns = zip(kept["name"].tolist(), kept["info"].tolist(), kept["shndx"].tolist(), kept["value"].tolist(),
                      kept["size"].tolist())
        for offset, info, shndx, value, size in columns:
            stop = strtab.find(b"\0", offset)
            sym_name = strtab[offset:stop if stop >= 0 else len(strtab)].decode(errors="replace")
            if not sym_name:
                continue
            if shndx not in section_ends:
                header = elf.get_section(shndx).header
                section_ends[shndx] = header["sh_addr"] + header["sh_size"]
            rank = (_BIND_RANK[info >> 4], sym_name.startswith("_"), len(sym_name))
            yield _Sym(value, size, sym_name, rank, section_ends[shndx] or value + 1)


#: files kept parsed, most recently used last
CACHE_SIZE = 256
_cache: LRUCache[tuple[int, int, int], ElfSymbols] = LRUCache(CACHE_SIZE)


def elf_symbols(path: str | os.PathLike[str]) -> ElfSymbols:
    """The (cached) :class:`ElfSymbols` of ``path``.

    The cache key is the file's (device, inode, mtime): the same file reached through another
    path (``/proc/PID/root/...``) is parsed once, and a rebuilt file is read again.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise StackError(f"cannot read the symbols of {path}: {exc.strerror}") from exc
    return _cache.get_or_make((st.st_dev, st.st_ino, st.st_mtime_ns), lambda: ElfSymbols(path))


def clear_cache() -> None:
    """Forget every cached file."""
    _cache.clear()


__all__ = ["DEBUG_ROOT", "ElfSymbols", "Segment", "clear_cache", "elf_symbols", "read_build_id"]
