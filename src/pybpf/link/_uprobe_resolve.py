"""Where a uprobe goes: library names -> paths, and symbols -> file offsets.

Pure file parsing (no syscalls, no kernel): the two questions a uprobe attach asks.

*Which file?* :func:`find_library` resolves a name the way the dynamic loader does:

1. a name with a ``/`` is a path (made absolute);
2. ``"c"``, ``"libc"``, ``"libc.so"`` and ``"libc.so.6"`` all mean the ELF shared object whose
   soname starts with ``libc.so`` (``libc.so`` itself is often a linker script, not an ELF);
3. the directories of ``LD_LIBRARY_PATH``, then ``/etc/ld.so.cache`` (the binary cache
   ``ldconfig`` writes: ``glibc-ld.so.cache1.1`` entries, possibly after an old
   ``ld.so-1.7.0`` table), then the standard directories (multiarch first). Only ELF files
   of this machine's class and architecture count.

*Which byte?* :class:`BinaryImage` reads ``.symtab`` and ``.dynsym`` (with the GNU symbol
versions of ``.gnu.version``/``.gnu.version_d``) and the ``PT_LOAD`` program headers of a
host executable or shared library (pyelftools), and turns

- ``"main"``, ``"malloc"`` (the default version when a name has several),
- ``"malloc@@GLIBC_2.2.5"`` (the default version) or ``"malloc@GLIBC_2.2.5"`` (that version,
  default or not),
- ``"func+0x10"`` (an offset into the function),
- an integer or ``"0x401136"`` (a virtual address as ``nm`` prints it)

into the *file offset* the kernel's uprobe wants: ``vaddr - p_vaddr + p_offset`` of the
``PT_LOAD`` segment containing the address. That arithmetic is the same for ``-no-pie``
executables (vaddrs near 0x400000), PIE executables and shared libraries (vaddrs from 0).

    >>> img = BinaryImage.open(find_library("c"))
    >>> target = img.resolve("malloc")
    >>> target.symbol.startswith("malloc@@GLIBC_"), target.offset == img.vaddr_to_offset(target.address)
    (True, True)
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import platform
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

from ..errors import BPFError, ELFError

log = logging.getLogger("pybpf.link")

LD_SO_CACHE = Path("/etc/ld.so.cache")
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_MAGIC = b"ld.so-1.7.0"
_NEW_HEADER = struct.Struct("<20sIIB3xI12x")  # magic+version, nlibs, len_strings, flags, extension_offset
_NEW_ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap
_OLD_HEADER = struct.Struct("<12sI")  # magic (padded), nlibs
_OLD_ENTRY = struct.Struct("<iII")

#: Machine name -> (ELF class, e_machine) that a library must have to be used by this process.
_MACHINES: dict[str, tuple[int, str]] = {
    "x86_64": (64, "EM_X86_64"),
    "aarch64": (64, "EM_AARCH64"),
    "arm64": (64, "EM_AARCH64"),
    "riscv64": (64, "EM_RISCV"),
    "s390x": (64, "EM_S390"),
    "ppc64le": (64, "EM_PPC64"),
    "i686": (32, "EM_386"),
    "armv7l": (32, "EM_ARM"),
}
_MULTIARCH: dict[str, str] = {
    "x86_64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
}
_FUNC_TYPES = frozenset({"STT_FUNC", "STT_GNU_IFUNC", "STT_LOOS"})  # pyelftools names type 10 STT_LOOS
_IFUNC_TYPES = frozenset({"STT_GNU_IFUNC", "STT_LOOS"})
_VER_HIDDEN = 0x8000


class UprobeTargetError(BPFError, LookupError):
    """A uprobe target (library, symbol, address, USDT probe) does not exist in the binary."""


# -- library names -> paths ----------------------------------------------------------------


def parse_ld_so_cache(data: bytes) -> list[tuple[str, str]]:
    """The ``(soname, path)`` entries of an ``/etc/ld.so.cache`` image, in cache order.

    Reads the ``glibc-ld.so.cache1.1`` format, alone or after the old ``ld.so-1.7.0`` table.
    Raises :class:`~pybpf.errors.ELFError` for anything else.
    """
    start = 0
    if data.startswith(_OLD_MAGIC):
        if len(data) < _OLD_HEADER.size:
            raise ELFError("ld.so.cache: truncated old-format header")
        _, nlibs = _OLD_HEADER.unpack_from(data)
        start = _OLD_HEADER.size + nlibs * _OLD_ENTRY.size
        start = (start + 7) & ~7
        if not data.startswith(_NEW_MAGIC, start):
            raise ELFError("ld.so.cache: only the old ld.so-1.7.0 format is present; run ldconfig to rebuild it")
    if not data.startswith(_NEW_MAGIC, start) or len(data) < start + _NEW_HEADER.size:
        raise ELFError("ld.so.cache: not a glibc-ld.so.cache1.1 file")
    _, nlibs, _, _, _ = _NEW_HEADER.unpack_from(data, start)
    if start + _NEW_HEADER.size + nlibs * _NEW_ENTRY.size > len(data):
        raise ELFError(f"ld.so.cache: {nlibs} entries do not fit in {len(data)} bytes")

    def string(off: int) -> str:
        pos = start + off
        end = data.find(b"\0", pos)
        if pos >= len(data) or end < 0:
            raise ELFError(f"ld.so.cache: string offset {off} is outside the file")
        return data[pos:end].decode("utf-8", "surrogateescape")

    out = []
    for i in range(nlibs):
        _, key, value, _, _ = _NEW_ENTRY.unpack_from(data, start + _NEW_HEADER.size + i * _NEW_ENTRY.size)
        out.append((string(key), string(value)))
    return out


@functools.lru_cache(maxsize=4)
def _cache_entries(path: str, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    del mtime_ns  # part of the cache key only
    return tuple(parse_ld_so_cache(Path(path).read_bytes()))


def ld_so_cache(path: str | os.PathLike[str] = LD_SO_CACHE) -> tuple[tuple[str, str], ...]:
    """The entries of the loader cache at ``path`` (empty when it is missing or unreadable)."""
    try:
        st = os.stat(path)
        return _cache_entries(os.fspath(path), st.st_mtime_ns)
    except (OSError, ELFError) as exc:
        log.debug("ld.so.cache %s not used: %s", path, exc)
        return ()


def default_library_dirs(machine: str | None = None) -> list[str]:
    """The directories the loader searches after its cache (multiarch, lib64, lib)."""
    machine = machine or platform.machine()
    multi = _MULTIARCH.get(machine)
    dirs = [f"/lib/{multi}", f"/usr/lib/{multi}"] if multi else []
    return dirs + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def _is_native_elf(path: str, machine: str | None = None) -> bool:
    want = _MACHINES.get(machine or platform.machine())
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return False
    if want is None:
        return True
    elf_class = 64 if head[4] == 2 else 32
    e_machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    names = {62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV", 22: "EM_S390", 21: "EM_PPC64", 3: "EM_386",
             40: "EM_ARM"}
    return (elf_class, names.get(e_machine, "")) == want


def _soname_matches(candidate: str, name: str) -> bool:
    """``name`` is ``libX.so``-style: the candidate is that or a versioned ``libX.so.N``."""
    return candidate == name or candidate.startswith(name + ".")


def find_library(name: str | os.PathLike[str], *, cache: str | os.PathLike[str] = LD_SO_CACHE,
                 ld_library_path: str | None = None) -> str:
    """The absolute path of the binary or library ``name`` (see the module docstring).

    ``ld_library_path`` defaults to ``$LD_LIBRARY_PATH``. Raises :class:`UprobeTargetError`
    with the places searched when nothing matches.

        >>> find_library("c")                                              # doctest: +SKIP
        '/lib/x86_64-linux-gnu/libc.so.6'
    """
    text = os.fspath(name)
    if "/" in text:
        path = os.path.abspath(text)
        if not os.path.isfile(path):
            raise UprobeTargetError(f"uprobe target {path}: no such file")
        return path
    base = text if text.startswith("lib") else f"lib{text}"
    soname = base if ".so" in base else f"{base}.so"
    exact = ".so." in soname  # "libc.so.6": only that soname
    dirs = (os.environ.get("LD_LIBRARY_PATH", "") if ld_library_path is None else ld_library_path).split(":")

    def ok(candidate: str) -> bool:
        return _soname_matches(candidate, soname) and (not exact or candidate == soname)

    for d in filter(None, dirs):
        for path in _dir_candidates(d, ok):
            return path
    for key, path in ld_so_cache(cache):
        if ok(key) and _is_native_elf(path):
            return path
    searched = [d for d in filter(None, dirs)] + default_library_dirs()
    for d in default_library_dirs():
        for path in _dir_candidates(d, ok):
            return path
    raise UprobeTargetError(
        f"library {text!r}: no {soname}* in LD_LIBRARY_PATH, {os.fspath(cache)} or {', '.join(searched)}; "
        "pass the path of the binary instead")


def _dir_candidates(directory: str, ok: Callable[[str], bool]) -> Iterator[str]:
    try:
        names = sorted(os.listdir(directory), key=lambda n: (len(n), n))
    except OSError:
        return
    for n in names:
        if ok(n):
            path = os.path.join(directory, n)
            if _is_native_elf(path):
                yield os.path.realpath(path)


# -- symbols -> file offsets ---------------------------------------------------------------


@dataclass(frozen=True)
class ElfSymbol:
    """One defined function symbol of a host binary."""

    name: str
    address: int  # st_value: the virtual address nm shows
    size: int
    version: str  # GNU symbol version ("" if none)
    default: bool  # True for name@@VERSION (or unversioned), False for a hidden name@VERSION
    table: str  # ".symtab" or ".dynsym"
    ifunc: bool

    @property
    def versioned_name(self) -> str:
        if not self.version:
            return self.name
        return f"{self.name}{'@@' if self.default else '@'}{self.version}"


@dataclass(frozen=True)
class ProbeTarget:
    """Where a uprobe goes in ``path``: ``offset`` is the file offset the kernel wants."""

    path: str
    symbol: str  # what was asked for, as resolved ("malloc@@GLIBC_2.2.5+0x4", "0x401136")
    address: int  # virtual address in the ELF
    offset: int  # file offset


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    executable: bool


def split_symbol(spec: str) -> tuple[str, int]:
    """``"func+0x10"`` -> ``("func", 16)``; ``"func"`` -> ``("func", 0)``."""
    name, plus, off = spec.rpartition("+")
    if not plus or not name:
        return spec, 0
    try:
        return name, int(off, 0)
    except ValueError:
        return spec, 0


def _parse_address(spec: str) -> int | None:
    try:
        return int(spec, 16) if spec.lower().startswith("0x") else None
    except ValueError:
        return None


class BinaryImage:
    """The symbols and loadable segments of one host ELF binary, for uprobe placement.

    Use :meth:`open` (cached per path and modification time).
    """

    def __init__(self, path: str, symbols: Sequence[ElfSymbol], segments: Sequence[Segment], *, pie: bool) -> None:
        self.path = path
        self.symbols = list(symbols)
        self.segments = list(segments)
        self.pie = pie
        self._by_name: dict[str, list[ElfSymbol]] = {}
        for s in self.symbols:
            self._by_name.setdefault(s.name, []).append(s)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> BinaryImage:
        """Read ``path`` (:class:`~pybpf.errors.ELFError` if it is not a valid ELF file)."""
        p = os.path.realpath(path)
        try:
            st = os.stat(p)
        except OSError as exc:
            raise UprobeTargetError(f"uprobe target {p}: {exc.strerror}") from None
        return _open_image(p, st.st_mtime_ns, st.st_ino)

    # -- lookups -------------------------------------------------------------------------

    def vaddr_to_offset(self, address: int) -> int:
        """The file offset of virtual address ``address`` (through its PT_LOAD segment)."""
        for seg in self.segments:
            if seg.vaddr <= address < seg.vaddr + max(seg.memsz, seg.filesz):
                return address - seg.vaddr + seg.offset
        raise UprobeTargetError(f"{self.path}: address {address:#x} is in no PT_LOAD segment")

    def lookup(self, name: str) -> ElfSymbol:
        """The function symbol ``name`` (``malloc``, ``malloc@@GLIBC_2.2.5``, ``malloc@GLIBC_2.2.5``)."""
        base, at, version = name.partition("@")
        default_only = version.startswith("@")
        version = version.lstrip("@")
        candidates = self._by_name.get(name, []) if at else []  # a .symtab name with the suffix inline
        if not candidates:
            found = self._by_name.get(base, [])
            if at:
                candidates = [s for s in found if s.version == version and (s.default or not default_only)]
            else:
                candidates = [s for s in found if s.default] or found
        if not candidates:
            near = sorted({s.versioned_name for s in self._by_name.get(base, [])})
            hint = f" (it has {', '.join(near)})" if near else " (check the name with nm -D / readelf -Ws)"
            raise UprobeTargetError(f"{self.path} has no function symbol {name!r}{hint}")
        addresses = {s.address for s in candidates}
        if len(addresses) > 1:
            choices = ", ".join(sorted({f"{s.versioned_name}={s.address:#x}" for s in candidates}))
            raise UprobeTargetError(f"{self.path}: {name!r} is ambiguous ({choices}); name the version "
                                    "(name@@VERSION) or pass the address")
        best = next((s for s in candidates if s.table == ".dynsym" and s.version), candidates[0])
        if best.ifunc:
            log.warning("%s: %s is an IFUNC: the probe sits on its resolver, which runs once at load time",
                        self.path, best.versioned_name)
        return best

    def resolve(self, symbol: str | int, offset: int = 0) -> ProbeTarget:
        """The :class:`ProbeTarget` of ``symbol`` (name, ``name+off``, or a virtual address) plus ``offset``."""
        if isinstance(symbol, int):
            address, label = symbol + offset, f"{symbol:#x}"
        else:
            name, extra = split_symbol(symbol)
            literal = _parse_address(name)
            if literal is not None:
                address, label = literal + extra + offset, name
            else:
                sym = self.lookup(name)
                inside = extra + offset
                if sym.size and inside >= sym.size:
                    raise UprobeTargetError(f"{self.path}: offset {inside:#x} is past the end of {sym.versioned_name} "
                                            f"({sym.size} bytes)")
                address, label = sym.address + inside, sym.versioned_name
                if inside:
                    label += f"+{inside:#x}"
        return ProbeTarget(self.path, label, address, self.vaddr_to_offset(address))

    def match(self, pattern: str) -> list[ProbeTarget]:
        """Every function whose name matches the glob ``pattern`` (one target per distinct
        address, default versions preferred), sorted by name."""
        seen: dict[int, ElfSymbol] = {}
        for name in sorted(self._by_name):
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            for s in self._by_name[name]:
                if s.address and s.address not in seen:
                    seen[s.address] = s
        return sorted((ProbeTarget(self.path, s.versioned_name, s.address, self.vaddr_to_offset(s.address))
                       for s in seen.values()), key=lambda t: t.symbol)


def _versions(elf: ELFFile) -> tuple[dict[int, str], GNUVerSymSection | None]:
    names: dict[int, str] = {}
    versym: GNUVerSymSection | None = None
    for sec in elf.iter_sections():
        if isinstance(sec, GNUVerDefSection):
            for verdef, auxiter in sec.iter_versions():
                aux = next(iter(auxiter), None)
                if aux is not None and not verdef["vd_flags"] & 1:  # VER_FLG_BASE names the file itself
                    names[verdef["vd_ndx"]] = aux.name
        elif isinstance(sec, GNUVerSymSection):
            versym = sec
    return names, versym


def _read_symbols(elf: ELFFile) -> Iterator[ElfSymbol]:
    versions, versym = _versions(elf)
    for table in (".symtab", ".dynsym"):
        sec = elf.get_section_by_name(table)
        if not isinstance(sec, SymbolTableSection):
            continue
        for i, sym in enumerate(sec.iter_symbols()):
            kind = sym["st_info"]["type"]
            if kind not in _FUNC_TYPES or sym["st_shndx"] == "SHN_UNDEF" or not sym.name:
                continue
            version, default = "", True
            if table == ".dynsym" and versym is not None and i < versym.num_symbols():
                ndx = versym.get_symbol(i)["ndx"]
                raw = ndx if isinstance(ndx, int) else 1
                version, default = versions.get(raw & ~_VER_HIDDEN, ""), not raw & _VER_HIDDEN
            yield ElfSymbol(sym.name, sym["st_value"], sym["st_size"], version, default, table,
                            kind in _IFUNC_TYPES)


@functools.lru_cache(maxsize=32)
def _open_image(path: str, mtime_ns: int, inode: int) -> BinaryImage:
    del mtime_ns, inode  # cache key only
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            segments = [
                Segment(seg["p_vaddr"], seg["p_memsz"], seg["p_offset"], seg["p_filesz"], bool(seg["p_flags"] & 1))
                for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"
            ]
            symbols = list(_read_symbols(elf))
            pie = elf.header["e_type"] == "ET_DYN"
    except (_PyElfError, struct.error, ValueError) as exc:
        raise ELFError(f"{path}: not a readable ELF binary ({exc})") from None
    except OSError as exc:
        raise UprobeTargetError(f"uprobe target {path}: {exc.strerror}") from None
    if not segments:
        raise ELFError(f"{path}: no PT_LOAD program headers (an object file, not a binary or library)")
    # executable segments first, so an address is mapped through the code segment it is in
    segments.sort(key=lambda s: not s.executable)
    return BinaryImage(path, symbols, segments, pie=pie)


__all__ = [
    "BinaryImage", "ElfSymbol", "ProbeTarget", "Segment", "UprobeTargetError", "default_library_dirs",
    "find_library", "ld_so_cache", "parse_ld_so_cache", "split_symbol",
]
