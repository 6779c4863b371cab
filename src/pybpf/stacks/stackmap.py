"""``StackTraceMap``: the stacks a BPF program recorded with ``bpf_get_stackid()``.

A ``BPF_MAP_TYPE_STACK_TRACE`` map stores, per stack id, up to ``value_size / 8``
instruction pointers, innermost first, ending at the first zero. The program chooses kernel
or user stacks (``BPF_F_USER_STACK`` in the helper's flags), so the reader chooses the
symboliser: :meth:`StackTraceMap.kernel_stack` (kallsyms) or :meth:`StackTraceMap.user_stack`
(the process's maps; pass a :class:`ProcessSymbols` made at sample time for processes that
may have exited).

A map created with ``BPF_F_STACK_BUILD_ID`` stores ``struct bpf_stack_build_id`` entries
instead (32 bytes: ``s32 status; u8 build_id[20]; u64 offset_or_ip``): read them with
:meth:`StackTraceMap.build_id_stack` and symbolise them through a :class:`BuildIdIndex`.

The helper returns a negative errno instead of an id when it cannot store a stack;
:func:`check_stack_id` turns those into a :class:`StackIdError` that says why.

    >>> stacks = StackTraceMap(obj.maps["stacks"])  # doctest: +SKIP
    >>> [s.name for s in stacks.kernel_stack(kstack_id)][-2:]  # doctest: +SKIP
    ['do_syscall_64', 'entry_SYSCALL_64_after_hwframe']
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from ..enums import MapFlags, MapType
from ._symbol import UNKNOWN, StackError, Symbol
from .ksyms import KernelSymbols, kernel_symbols

if TYPE_CHECKING:
    from ..map import Map
    from .usyms import ProcessSymbols

log = logging.getLogger("pybpf.stacks")

_IP = struct.Struct("<Q")
#: struct bpf_stack_build_id: s32 status, u8 build_id[20], u64 offset/ip (at offset 24, already aligned)
_BUILD_ID_ENTRY = struct.Struct("<i20sQ")
BUILD_ID_SIZE = 20


class BuildIdStatus(IntEnum):
    """``enum bpf_stack_build_id_status``: what a build-id stack frame holds."""

    EMPTY = 0  # no frame (the stack ended)
    VALID = 1  # build_id + file offset
    IP = 2  # the kernel could not read the build id: a raw instruction pointer


class StackIdError(StackError):
    """``bpf_get_stackid()`` returned an error instead of a stack id."""

    def __init__(self, stack_id: int, message: str) -> None:
        self.stack_id = stack_id
        self.errno = -stack_id if stack_id < 0 else 0
        super().__init__(message)


#: errno -> why bpf_get_stackid() returned it and what to do
_STACK_ID_ERRORS: dict[int, str] = {
    errno.EFAULT: "the stack could not be walked (no user stack: a kernel thread; or the code has no frame "
                  "pointers; compile it with -fno-omit-frame-pointer)",
    errno.EEXIST: "another stack had the same hash bucket and the program did not pass BPF_F_REUSE_STACKID: "
                  "make the stack map larger (max_entries), or pass BPF_F_REUSE_STACKID to keep the newest",
    errno.ENOMEM: "the stack map is full: make it larger (max_entries) or clear() it between reads",
    errno.EINVAL: "invalid flags passed to bpf_get_stackid()",
    errno.ENOENT: "no such stack id in the map (cleared, or replaced by a colliding stack)",
}


def normalize_stack_id(stack_id: int) -> int:
    """A stack id read back as unsigned 32 bits (0xfffffff2) becomes the signed errno (-14)."""
    stack_id = int(stack_id)
    if stack_id >= 1 << 31:
        stack_id -= 1 << 32
    return stack_id


def stack_id_error(stack_id: int) -> str | None:
    """Why ``stack_id`` is not a stack id (None when it is one)."""
    stack_id = normalize_stack_id(stack_id)
    if stack_id >= 0:
        return None
    err = -stack_id
    name = errno.errorcode.get(err, str(err))
    why = _STACK_ID_ERRORS.get(err, os.strerror(err))
    return f"bpf_get_stackid() returned -{name}: {why}"


def check_stack_id(stack_id: int) -> int:
    """``stack_id`` as a valid (non-negative) id, or :class:`StackIdError` explaining the errno."""
    stack_id = normalize_stack_id(stack_id)
    message = stack_id_error(stack_id)
    if message is not None:
        raise StackIdError(stack_id, message)
    return stack_id


@dataclass(frozen=True)
class BuildIdFrame:
    """One frame of a build-id stack: the file's ``build_id`` (hex) and the file ``offset``,
    or (status IP) only the instruction pointer ``ip``."""

    status: BuildIdStatus
    build_id: str = ""
    offset: int = 0
    ip: int = 0


class StackTraceMap:
    """A read view of a ``STACK_TRACE`` :class:`~pybpf.map.Map` (it does not own the map)."""

    def __init__(self, map: Map) -> None:
        if map.type is not MapType.STACK_TRACE:
            raise StackError(f"{map!r} is a {map.type.name} map, not STACK_TRACE: a stack map is declared as "
                             "__uint(type, BPF_MAP_TYPE_STACK_TRACE) with __uint(key_size, 4) and "
                             "__uint(value_size, DEPTH * sizeof(__u64))")
        self.map = map
        self.build_id_mode = bool(map.flags & MapFlags.STACK_BUILD_ID)
        entry = _BUILD_ID_ENTRY.size if self.build_id_mode else _IP.size
        if map.value_size % entry:
            raise StackError(f"{map!r}: value_size {map.value_size} is not a multiple of {entry}")
        #: how many frames one stack holds
        self.depth = map.value_size // entry

    def __repr__(self) -> str:
        mode = ", build ids" if self.build_id_mode else ""
        return f"<StackTraceMap {self.map.name!r} depth={self.depth}{mode}>"

    def _raw(self, stack_id: int) -> bytes:
        stack_id = check_stack_id(stack_id)
        value = self.map.lookup(stack_id)
        if value is None:
            raise StackIdError(stack_id, f"stack id {stack_id} is not in {self.map.name!r}: "
                               + _STACK_ID_ERRORS[errno.ENOENT])
        if isinstance(value, int):  # a depth-1 map: the codec decoded 8 bytes as an integer
            return _IP.pack(value)
        return bytes(value)

    def stack(self, stack_id: int) -> list[int]:
        """The instruction pointers of stack ``stack_id``, innermost first, up to the first zero.

        :class:`StackIdError` for a negative id (the helper's errno) or a missing one. In
        build-id mode use :meth:`build_id_stack`.
        """
        if self.build_id_mode:
            raise StackError(f"{self.map.name!r} stores build ids (BPF_F_STACK_BUILD_ID), not addresses: "
                             "read it with build_id_stack()")
        raw = self._raw(stack_id)
        out = []
        for (ip,) in _IP.iter_unpack(raw):
            if ip == 0:
                break
            out.append(ip)
        return out

    def build_id_stack(self, stack_id: int) -> list[BuildIdFrame]:
        """The frames of a ``BPF_F_STACK_BUILD_ID`` map's stack, innermost first, up to the first EMPTY."""
        if not self.build_id_mode:
            raise StackError(f"{self.map.name!r} stores addresses: read it with stack(); build-id stacks need "
                             "__uint(map_flags, BPF_F_STACK_BUILD_ID) and a user stack")
        out = []
        for status, build_id, value in _BUILD_ID_ENTRY.iter_unpack(self._raw(stack_id)):
            try:
                kind = BuildIdStatus(status)
            except ValueError:  # a status this module does not know: treat as the end
                kind = BuildIdStatus.EMPTY
            if kind is BuildIdStatus.EMPTY:
                break
            if kind is BuildIdStatus.VALID:
                out.append(BuildIdFrame(kind, build_id.hex(), offset=value))
            else:
                out.append(BuildIdFrame(kind, ip=value))
        return out

    def ids(self) -> list[int]:
        """The stack ids in the map now."""
        return [int(k) for k in self.map.keys()]

    def walk(self) -> Iterator[tuple[int, list[int]]]:
        """``(stack_id, addresses)`` for every stack in the map (ids removed meanwhile are skipped)."""
        for stack_id in self.ids():
            try:
                yield stack_id, self.stack(stack_id)
            except StackIdError:
                continue

    def __contains__(self, stack_id: object) -> bool:
        return isinstance(stack_id, int) and normalize_stack_id(stack_id) >= 0 and stack_id in self.map

    def __len__(self) -> int:
        return len(self.map)

    def delete(self, stack_id: int) -> None:
        """Remove one stack (its id may then be given to another stack)."""
        del self.map[check_stack_id(stack_id)]

    def clear(self) -> None:
        """Remove every stack (between reporting intervals, so the map does not fill up)."""
        self.map.clear()

    # ---- symbolised -----------------------------------------------------------------------

    def kernel_stack(self, stack_id: int, *, symbols: KernelSymbols | None = None) -> list[Symbol]:
        """Stack ``stack_id`` (recorded without BPF_F_USER_STACK) through kallsyms."""
        ks = symbols if symbols is not None else kernel_symbols()
        return [ks.lookup(ip) for ip in self.stack(stack_id)]

    def user_stack(self, stack_id: int, process: int | ProcessSymbols) -> list[Symbol]:
        """Stack ``stack_id`` (recorded with BPF_F_USER_STACK) of a process (pid or snapshot)."""
        from .usyms import ProcessSymbols, process_symbols  # user symbols need pyelftools: imported when used

        syms = process if isinstance(process, ProcessSymbols) else process_symbols(process)
        return syms.symbolize(self.stack(stack_id))

    def build_id_symbols(self, stack_id: int, index: BuildIdIndex) -> list[Symbol]:
        """A build-id stack symbolised through ``index`` (see :class:`BuildIdIndex`)."""
        return [index.lookup(frame) for frame in self.build_id_stack(stack_id)]


class BuildIdIndex:
    """Build id -> ELF file, to symbolise build-id stack frames.

    Files come from ``paths`` given by the user, from the files mapped by ``pids`` (or
    :class:`ProcessSymbols` snapshots), and last from the debug directory
    (``/usr/lib/debug/.build-id/xx/yyyy.debug``). Frames with status IP (no build id) are
    resolved through ``ip_symbols`` when given.

        >>> index = BuildIdIndex(pids=[child.pid])  # doctest: +SKIP
        >>> [s.name for s in stacks.build_id_symbols(stack_id, index)][:2]  # doctest: +SKIP
        ['level3', 'level2']
    """

    def __init__(self, *, paths: Iterable[str | os.PathLike[str]] = (),
                 pids: Iterable[int | ProcessSymbols] = (), ip_symbols: ProcessSymbols | None = None,
                 debug_root: str | os.PathLike[str] | None = "/usr/lib/debug/.build-id") -> None:
        self.files: dict[str, str] = {}
        self.ip_symbols = ip_symbols
        self.debug_root = debug_root
        for path in paths:
            self.add_path(path)
        for pid in pids:
            self.add_process(pid)

    def add_path(self, path: str | os.PathLike[str]) -> str | None:
        """Index one file; returns its build id (None if it has none)."""
        from .elfsyms import read_build_id

        bid = read_build_id(path)
        if bid is None:
            log.debug("%s has no GNU build id", path)
        else:
            self.files.setdefault(bid, os.fspath(path))
        return bid

    def add_process(self, process: int | ProcessSymbols) -> None:
        """Index every ELF file a process maps."""
        from .usyms import ProcessSymbols

        syms = process if isinstance(process, ProcessSymbols) else ProcessSymbols(process)
        for bid, path in syms.build_ids().items():
            self.files.setdefault(bid, path)

    def path_of(self, build_id: str) -> str | None:
        """The file with ``build_id`` (hex), or None."""
        path = self.files.get(build_id)
        if path is None and self.debug_root is not None:
            debug = os.path.join(self.debug_root, build_id[:2], f"{build_id[2:]}.debug")
            if os.path.isfile(debug):
                path = self.files[build_id] = debug
        return path

    def lookup(self, frame: BuildIdFrame) -> Symbol:
        """The symbol of one frame (``[unknown]`` with the build id as module when no file has it)."""
        if frame.status is BuildIdStatus.IP:
            if self.ip_symbols is not None:
                return self.ip_symbols.lookup(frame.ip)
            return Symbol(UNKNOWN, frame.ip, None, frame.ip)
        path = self.path_of(frame.build_id)
        if path is None:
            return Symbol(UNKNOWN, frame.offset, frame.build_id, 0)
        try:
            from .elfsyms import elf_symbols

            syms = elf_symbols(path)
        except StackError as exc:
            log.debug("%s", exc)
            return Symbol(UNKNOWN, frame.offset, path, 0)
        vaddr = syms.vaddr_of_offset(frame.offset)
        hit = syms.lookup(vaddr) if vaddr is not None else None
        if hit is None:
            return Symbol(UNKNOWN, frame.offset, path, 0)
        return Symbol(hit[0], hit[1], path, 0)


__all__ = ["BUILD_ID_SIZE", "BuildIdFrame", "BuildIdIndex", "BuildIdStatus", "StackIdError", "StackTraceMap",
           "check_stack_id", "normalize_stack_id", "stack_id_error"]
