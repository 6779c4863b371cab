"""User-space symbolisation: a process's address -> :class:`Symbol` through /proc/PID/maps.

An address ``a`` in a file-backed mapping ``start-end perms offset dev inode path`` is at
byte ``a - start + offset`` of the file; the file's ``PT_LOAD`` program headers turn that
into the virtual address its symbol tables use (see :mod:`pybpf.stacks.elfsyms`). This is
the same for PIE and ``-no-pie`` executables and shared libraries.

:class:`ProcessSymbols` snapshots the maps when it is created, so stacks sampled from a
process that has exited since still resolve (create it while the process runs: at sample
time). Anonymous executable memory resolves through a JIT's ``/tmp/perf-PID.map`` when there
is one. C++ names are demangled when the ``cxxfilt`` package is installed.

>>> from pybpf.stacks import ProcessSymbols, usym  # doctest: +SKIP
>>> syms = ProcessSymbols(pid)          # while the process runs  # doctest: +SKIP
>>> [syms.lookup(a).name for a in stack_map.stack(user_stack_id)]  # doctest: +SKIP
['level3', 'level2', 'level1', 'main', '__libc_start_call_main', ...]
>>> str(usym(pid, addr))  # doctest: +SKIP
'level2+0x1c [/tmp/target]'
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .._lru import LRUCache
from ._symbol import UNKNOWN, StackError, Symbol
from .elfsyms import ElfSymbols, elf_symbols, read_build_id
from .ksyms import kernel_symbols

log = logging.getLogger("pybpf.stacks")

_DELETED = " (deleted)"
PERF_MAP = "/tmp/perf-{pid}.map"
#: seconds between re-reads of a process's maps caused by addresses outside them
REFRESH_INTERVAL = 1.0


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    path: str  # "" for anonymous memory, "[vdso]", "[stack]", ... for special ones

    @property
    def file_backed(self) -> bool:
        """True for a mapping of a file (an inode), not of anonymous or special memory."""
        return self.inode != 0 and self.path.startswith("/")

    @property
    def deleted(self) -> bool:
        return self.path.endswith(_DELETED)

    @property
    def file_path(self) -> str:
        """The path without a `` (deleted)`` suffix."""
        return self.path[: -len(_DELETED)] if self.deleted else self.path

    def file_offset(self, address: int) -> int:
        """The file offset of ``address`` (which must be in this mapping)."""
        return address - self.start + self.offset


def parse_maps(text: str) -> list[Mapping]:
    """The lines of a /proc/PID/maps text, sorted by start address."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        start, _, end = parts[0].partition("-")
        try:
            out.append(Mapping(int(start, 16), int(end, 16), parts[1], int(parts[2], 16), parts[3], int(parts[4]),
                               parts[5].strip() if len(parts) > 5 else ""))
        except ValueError:
            continue
    out.sort(key=lambda m: m.start)
    return out


def demangler() -> Callable[[str], str] | None:
    """``cxxfilt.demangle`` when that package is importable, else None (pybpf does not depend on it)."""
    try:
        import cxxfilt  # type: ignore[import-not-found]
    except ImportError:
        return None

    def demangle(name: str) -> str:
        if not name.startswith("_Z"):
            return name
        try:
            return str(cxxfilt.demangle(name))
        except Exception:  # noqa: BLE001 - cxxfilt raises its own InvalidName; keep the raw name
            return name

    return demangle


def read_perf_map(path: str | os.PathLike[str]) -> list[tuple[int, int, str]]:
    """The ``START SIZE name`` lines (hex) of a JIT's perf map file, sorted by start."""
    entries = []
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            try:
                entries.append((int(parts[0], 16), int(parts[1], 16), parts[2]))
            except ValueError:
                continue
    entries.sort()
    return entries


class ProcessSymbols:
    """Symbols of one process, from a snapshot of its /proc/PID/maps taken on creation.

    ``demangle`` (default: when ``cxxfilt`` is importable) turns ``_ZN3foo3barEv`` into
    ``foo::bar()``. ``maps_text`` replaces reading /proc (tests, or maps saved elsewhere);
    ``root`` is where the process's paths are found (default ``/proc/PID/root`` while the
    process lives, so files of other mount namespaces resolve; then ``/``). ``perf_map`` is
    the JIT symbol file for anonymous code (default ``/tmp/perf-PID.map``). ``preload`` reads
    the symbols of every executable mapping now, not on first use: for processes whose files
    may be deleted or replaced before their stacks are symbolised.
    """

    def __init__(self, pid: int, *, demangle: bool | None = None, maps_text: str | None = None,
                 root: str | None = None, perf_map: str | os.PathLike[str] | None = None,
                 preload: bool = False) -> None:
        self.pid = pid
        self._root = root
        self._perf_map_path = perf_map if perf_map is not None else PERF_MAP.format(pid=pid)
        self._demangle = demangler() if demangle in (None, True) else None
        if demangle is True and self._demangle is None:
            log.debug("cxxfilt is not installed: C++ names stay mangled")
        self._lock = threading.Lock()
        self._files: dict[tuple[int, str], ElfSymbols | None] = {}
        self._perf_map: list[tuple[int, int, str]] | None = None
        self.maps: list[Mapping] = []
        self._starts: list[int] = []
        self._fixed = maps_text is not None
        self._vdso: ElfSymbols | None | bool = False  # False: not read yet
        self._missed_at = float("-inf")  # when an address outside the maps last caused a re-read
        self._set_maps(parse_maps(maps_text) if maps_text is not None else self._read_maps())
        if preload:
            for m in self.maps:
                if "x" in m.perms and m.file_backed:
                    self.file_symbols(m)
                elif m.path == "[vdso]":
                    self._vdso_symbols(m)

    def _read_maps(self) -> list[Mapping]:
        try:
            return parse_maps(Path(f"/proc/{self.pid}/maps").read_text())
        except FileNotFoundError:
            raise StackError(f"process {self.pid} does not exist (any more): its maps cannot be read; create "
                             "ProcessSymbols while it runs (at sample time) to symbolise it after it exits") from None
        except PermissionError:
            raise StackError(f"no permission to read /proc/{self.pid}/maps: run as root or as the process's "
                             "user (ptrace access mode)") from None

    def _set_maps(self, maps: list[Mapping]) -> None:
        with self._lock:
            self.maps = maps
            self._starts = [m.start for m in maps]

    def refresh(self) -> bool:
        """Read the maps again (new libraries loaded since); False if the process is gone."""
        if self._fixed:
            return False
        try:
            self._set_maps(self._read_maps())
        except StackError:
            return False
        return True

    def mapping_of(self, address: int) -> Mapping | None:
        """The mapping containing ``address`` in the snapshot."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self.maps[i].end:
            return self.maps[i]
        return None

    # ---- files ------------------------------------------------------------------------

    def _open_path(self, mapping: Mapping) -> str:
        """The path to read ``mapping``'s file through (its mount namespace; deleted files too)."""
        candidates = []
        if self._root is not None:
            candidates.append(os.path.join(self._root, mapping.file_path.lstrip("/")))
        else:
            proc = f"/proc/{self.pid}"
            if mapping.deleted:
                candidates.append(f"{proc}/map_files/{mapping.start:x}-{mapping.end:x}")
            candidates.append(f"{proc}/root{mapping.file_path}")
            candidates.append(mapping.file_path)
        for path in candidates:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_ino == mapping.inode or path == candidates[-1]:
                return path
        return candidates[-1]

    def file_symbols(self, mapping: Mapping) -> ElfSymbols | None:
        """The (cached) symbols of a file-backed mapping; None when its file cannot be read."""
        key = (mapping.inode, mapping.file_path)
        if key in self._files:
            return self._files[key]
        syms: ElfSymbols | None
        try:
            syms = elf_symbols(self._open_path(mapping))
        except StackError as exc:
            log.debug("pid %d: %s", self.pid, exc)
            syms = None
        self._files[key] = syms
        return syms

    def build_ids(self) -> dict[str, str]:
        """Build id (hex) -> path, for every ELF file the process maps."""
        out: dict[str, str] = {}
        seen: set[tuple[int, str]] = set()
        for m in self.maps:
            if not m.file_backed or (m.inode, m.file_path) in seen:
                continue
            seen.add((m.inode, m.file_path))
            path = self._open_path(m)
            syms = self._files.get((m.inode, m.file_path))
            bid = syms.build_id if syms is not None else read_build_id(path)
            if bid:
                out.setdefault(bid, path)
        return out

    # ---- lookups ----------------------------------------------------------------------

    def _name(self, name: str) -> str:
        return self._demangle(name) if self._demangle is not None else name

    def lookup(self, address: int) -> Symbol:
        """The symbol of ``address``: ``name+offset [path]``, else ``[unknown]`` with the module.

        An address outside the snapshot triggers a re-read of the maps (a library loaded
        after the snapshot) while the process lives, at most once per ``REFRESH_INTERVAL``.
        """
        mapping = self.mapping_of(address)
        if mapping is None and time.monotonic() - self._missed_at >= REFRESH_INTERVAL:
            self._missed_at = time.monotonic()
            if self.refresh():
                mapping = self.mapping_of(address)
        if mapping is None:
            return Symbol(UNKNOWN, address, None, address)
        if mapping.file_backed:
            return self._in_file(mapping, address)
        if mapping.path == "[vdso]":
            vdso = self._vdso_symbols(mapping)
            hit = vdso.lookup(address - mapping.start) if vdso is not None else None
            if hit is not None:
                return Symbol(self._name(hit[0]), hit[1], "[vdso]", address)
        if mapping.path in ("", "[anon]") or mapping.path.startswith("[anon:"):
            jit = self._in_perf_map(address)
            if jit is not None:
                return jit
        return Symbol(UNKNOWN, address - mapping.start, mapping.path or "[anon]", address)

    def _in_file(self, mapping: Mapping, address: int) -> Symbol:
        file_offset = mapping.file_offset(address)
        module = mapping.file_path
        syms = self.file_symbols(mapping)
        if syms is not None:
            vaddr = syms.vaddr_of_offset(file_offset)
            hit = syms.lookup(vaddr) if vaddr is not None else None
            if hit is not None:
                return Symbol(self._name(hit[0]), hit[1], module, address)
        return Symbol(UNKNOWN, file_offset, module, address)

    def _vdso_symbols(self, mapping: Mapping) -> ElfSymbols | None:
        """The vDSO's symbols, read from the process's memory (or, once it has exited, from ours:
        the kernel maps the same image into every process of one ABI, so a same-size one is it)."""
        if self._vdso is False:
            self._vdso = None
            size = mapping.end - mapping.start
            data = _read_memory(self.pid, mapping.start, size)
            if data is None:
                own = next((m for m in parse_maps(Path("/proc/self/maps").read_text()) if m.path == "[vdso]"), None)
                if own is not None and own.end - own.start == size:
                    data = _read_memory(os.getpid(), own.start, size)
            if data is not None:
                self._vdso = _vdso_cache.get(data)
                if self._vdso is None:
                    try:
                        self._vdso = _vdso_cache[data] = ElfSymbols.from_bytes(data, "[vdso]")
                    except StackError as exc:
                        log.debug("pid %d: %s", self.pid, exc)
        return self._vdso if isinstance(self._vdso, ElfSymbols) else None

    def _in_perf_map(self, address: int) -> Symbol | None:
        if self._perf_map is None:
            self._perf_map = read_perf_map(self._perf_map_path)
        if not self._perf_map:
            return None
        i = bisect.bisect_right(self._perf_map, (address, 1 << 64, "")) - 1
        if i >= 0:
            start, size, name = self._perf_map[i]
            if address < start + size:
                return Symbol(self._name(name), address - start, "[perf-map]", address)
        return None

    def symbolize(self, addresses: Iterable[int]) -> list[Symbol]:
        """:meth:`lookup` of each address."""
        return [self.lookup(a) for a in addresses]


#: parsed vDSO images by content (every process of one ABI maps the same one)
_vdso_cache: dict[bytes, ElfSymbols] = {}


def _read_memory(pid: int, address: int, size: int) -> bytes | None:
    """``size`` bytes at ``address`` of process ``pid`` (/proc/PID/mem), or None."""
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            data = mem.read(size)
    except (OSError, OverflowError):
        return None
    return data if len(data) == size else None


#: processes kept by :func:`usym`, most recently used last
CACHE_SIZE = 64
_procs: LRUCache[int, ProcessSymbols] = LRUCache(CACHE_SIZE)


def process_symbols(pid: int) -> ProcessSymbols:
    """The cached :class:`ProcessSymbols` of ``pid`` (created on first use)."""
    return _procs.get_or_make(pid, lambda: ProcessSymbols(pid))


def usym(pid: int, address: int) -> Symbol:
    """The symbol of user address ``address`` in process ``pid``.

    >>> str(usym(os.getpid(), some_address))  # doctest: +SKIP
    'PyObject_Call+0x2c [/usr/bin/python3.11]'
    """
    return process_symbols(pid).lookup(address)


def sym(address: int, pid: int = -1) -> Symbol:
    """One address of either space: a kernel address when ``pid`` < 0 (as bcc's ``BPF.sym``
    takes it), else a user address of process ``pid``.

    >>> sym(ksymname("vfs_read")).name                                      # doctest: +SKIP
    'vfs_read'
    """
    return kernel_symbols().lookup(address) if pid < 0 else process_symbols(pid).lookup(address)


def forget_process(pid: int | None = None) -> None:
    """Drop the cached maps of ``pid`` (all processes when None): a pid reused by a new process."""
    if pid is None:
        _procs.clear()
    else:
        _procs.forget(pid)


__all__ = ["Mapping", "ProcessSymbols", "demangler", "forget_process", "parse_maps", "process_symbols",
           "read_perf_map", "sym", "usym"]
