"""The VM's flat address space: regions at fixed base addresses, every access bounds-checked.

An address is a 64-bit value ``region_id << 32 | offset``. Region ids are small integers
(:data:`NULL_REGION` = 0 is never mapped, so NULL and small integers are never valid
pointers). Each region is a ``bytearray``; the interpreter (and a JIT sharing this ABI)
reaches memory through three parallel lists indexed by region id:

* ``bufs[id]``  the region's bytes (a shared empty bytearray when unmapped);
* ``rlen[id]``  how many bytes may be read on the *fast path* (0 when unmapped, or when every
  read must go through the region's :meth:`Region.load` hook, as for a context whose fields
  are pointers);
* ``wlen[id]``  the same for writes (0 for read-only regions).

An access ``[off, off + size)`` with ``off + size <= rlen[id]`` is a plain memory access; any
other access goes to :meth:`Memory.slow_load` / :meth:`Memory.slow_store`, which either serve
a special region or raise :class:`VMError` naming the instruction and the address. Because
regions are 4 GiB apart, running off either end of a region never reaches another one.

Fixed ids: :data:`CTX_REGION` (the program's context), :data:`PACKET_REGION` (packet data),
the stack frames ``STACK_REGION + depth`` (512 bytes each, ``MAX_CALL_FRAMES`` of them), then
dynamic regions (map values, ring-buffer records, registered memory) from :data:`FIRST_DYNAMIC`.
"""

from __future__ import annotations

import struct
import weakref
from typing import Callable

from ..errors import BPFError

__all__ = [
    "VMError", "Region", "Memory", "region_base", "NULL_REGION", "CTX_REGION", "PACKET_REGION",
    "STACK_REGION", "STACK_SIZE", "MAX_CALL_FRAMES", "FIRST_DYNAMIC", "OFFSET_MASK", "DEFAULT_CAPACITY",
    "EpochCache",
]


class VMError(BPFError):
    """A program did something the kernel's verifier or runtime would not allow (an
    out-of-bounds access, a bad helper argument, an unknown helper, running too long).

    ``pc`` is the instruction index (in slots, as the verifier counts) and ``address`` the
    faulting address when there is one.
    """

    def __init__(self, message: str, *, pc: int | None = None, address: int | None = None,
                 program: str = "") -> None:
        where = f"program {program!r}" if program else ""
        if pc is not None:
            where = f"{where} instruction {pc}" if where else f"instruction {pc}"
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message
        self.pc = pc
        self.address = address
        self.program = program


NULL_REGION = 0
CTX_REGION = 1
PACKET_REGION = 2
STACK_REGION = 3
MAX_CALL_FRAMES = 8
STACK_SIZE = 512
FIRST_DYNAMIC = STACK_REGION + MAX_CALL_FRAMES + 1
OFFSET_MASK = 0xFFFFFFFF
#: region ids available per Memory (each id costs three list slots)
DEFAULT_CAPACITY = 1 << 16

_PACK = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}


def region_base(region_id: int) -> int:
    """The address of byte 0 of region ``region_id``."""
    return region_id << 32


class Region:
    """One mapped range of memory.

    ``load``/``store`` hooks (``(offset, size) -> int`` and ``(offset, size, value)``) make a
    region special: its reads (writes) always go through the hook, which may compute values
    (a context field that is a pointer) or refuse the access by returning None / False.
    """

    __slots__ = ("rid", "buf", "name", "writable", "load", "store", "readable")

    def __init__(self, rid: int, buf: bytearray, name: str, *, writable: bool = True,
                 readable: bool = True,
                 load: Callable[[int, int], int | None] | None = None,
                 store: Callable[[int, int, int], bool] | None = None) -> None:
        self.rid = rid
        self.buf = buf
        self.name = name
        self.writable = writable
        self.readable = readable
        self.load = load
        self.store = store

    @property
    def base(self) -> int:
        return self.rid << 32

    def __repr__(self) -> str:
        return f"<Region {self.rid} {self.name!r} {len(self.buf)} bytes>"


_EMPTY = bytearray()


class EpochCache(dict[int, int]):
    """A dict of values computed from the regions that :class:`Memory` empties whenever its
    epoch moves (register it in ``Memory.epoch_caches`` under its ``id``)."""

    __slots__ = ("__weakref__",)


class Memory:
    """The address space of one VM (see the module docstring for the layout)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.bufs: list[bytearray] = [_EMPTY] * capacity
        self.rlen: list[int] = [0] * capacity
        self.wlen: list[int] = [0] * capacity
        self.regions: list[Region | None] = [None] * capacity
        #: the highest address + 1 that can be in a region (addresses above are never mapped)
        self.top = capacity << 32
        self._free: list[int] = []
        self._pending_free: list[int] = []
        self._next = FIRST_DYNAMIC
        #: bumped whenever a region is mapped, refreshed or dropped (the JIT keeps values that
        #: context hooks computed from the regions while it stays the same)
        self.epoch = 0
        #: caches of values computed from the regions, emptied whenever the epoch moves (so
        #: compiled code may read them without comparing epochs)
        self.epoch_caches: weakref.WeakValueDictionary[int, EpochCache] = weakref.WeakValueDictionary()
        for depth in range(MAX_CALL_FRAMES):
            self.map_fixed(STACK_REGION + depth, bytearray(STACK_SIZE), f"stack frame {depth}")

    # ---- mapping -------------------------------------------------------------------------

    def map_fixed(self, rid: int, buf: bytearray, name: str, **kw: object) -> Region:
        """Map ``buf`` at the fixed region id ``rid`` (replacing what was there)."""
        region = Region(rid, buf, name, **kw)  # type: ignore[arg-type]
        self._install(region)
        return region

    def map(self, buf: bytearray, name: str, **kw: object) -> Region:
        """Map ``buf`` at a new dynamic region id; the region's ``base`` is its address."""
        if self._free:
            rid = self._free.pop()
        else:
            rid = self._next
            if rid >= self.capacity:
                raise VMError(
                    f"the VM address space is full ({self.capacity} regions); free map values or registered "
                    "memory, or create the VM with a larger memory capacity"
                )
            self._next += 1
        region = Region(rid, buf, name, **kw)  # type: ignore[arg-type]
        self._install(region)
        return region

    def _install(self, region: Region) -> None:
        rid = region.rid
        self.regions[rid] = region
        self.bufs[rid] = region.buf
        self.refresh(region)

    def refresh(self, region: Region) -> None:
        """Re-read a region's length and access rights (after its buffer was replaced or resized)."""
        rid = region.rid
        self._new_epoch()
        self.bufs[rid] = region.buf
        plain_read = region.readable and region.load is None
        self.rlen[rid] = len(region.buf) if plain_read else 0
        self.wlen[rid] = len(region.buf) if region.writable and region.store is None and plain_read else 0

    def _new_epoch(self) -> None:
        self.epoch += 1
        for cache in self.epoch_caches.values():
            cache.clear()

    def unmap(self, region: Region, *, deferred: bool = False) -> None:
        """Remove a region. ``deferred`` keeps it readable until :meth:`collect` (kernel RCU:
        a value deleted while a program holds a pointer to it stays valid until the program ends)."""
        if deferred:
            self._pending_free.append(region.rid)
            return
        self._drop(region.rid)

    def _drop(self, rid: int) -> None:
        if self.regions[rid] is None:
            return
        self.regions[rid] = None
        self._new_epoch()
        self.bufs[rid] = _EMPTY
        self.rlen[rid] = self.wlen[rid] = 0
        if rid >= FIRST_DYNAMIC:
            self._free.append(rid)

    def collect(self) -> None:
        """Unmap the regions whose removal was deferred (called between program runs)."""
        while self._pending_free:
            self._drop(self._pending_free.pop())

    def region_of(self, addr: int) -> Region | None:
        rid = addr >> 32
        return self.regions[rid] if 0 <= rid < self.capacity else None

    # ---- checked access (slow path, helpers) -----------------------------------------------

    def _fault(self, addr: int, size: int, what: str, pc: int | None) -> VMError:
        region = self.region_of(addr) if 0 <= addr < self.top else None
        off = addr & OFFSET_MASK
        above = self.region_of(addr + (1 << 32)) if off >= 1 << 31 and 0 <= addr + (1 << 32) < self.top else None
        if above is not None:
            msg = (f"{what} of {size} bytes at address {addr:#x} is {(1 << 32) - off} bytes below the start "
                   f"of {above.name}")
        elif region is None:
            where = "no mapped memory" if addr else "NULL"
            msg = f"{what} of {size} bytes at address {addr:#x}: {where}"
        else:
            msg = (f"{what} of {size} bytes at address {addr:#x} is outside {region.name} "
                   f"(offset {off}, size {len(region.buf)})")
            if what == "write" and not region.writable:
                msg = f"write of {size} bytes at address {addr:#x}: {region.name} is read-only"
        return VMError(msg, pc=pc, address=addr)

    def slow_load(self, addr: int, size: int, pc: int | None = None) -> int:
        """Read an unsigned little-endian integer, through the region's hook if it has one."""
        region = self.region_of(addr) if 0 <= addr < self.top else None
        if region is not None and region.readable:
            off = addr & OFFSET_MASK
            if region.load is not None:
                value = region.load(off, size)
                if value is not None:
                    return value
            elif off + size <= len(region.buf):
                loaded: int = _PACK[size].unpack_from(region.buf, off)[0]
                return loaded
        raise self._fault(addr, size, "read", pc)

    def slow_store(self, addr: int, size: int, value: int, pc: int | None = None) -> None:
        """Write an unsigned little-endian integer (``value`` is truncated to ``size`` bytes)."""
        region = self.region_of(addr) if 0 <= addr < self.top else None
        if region is not None and region.writable:
            off = addr & OFFSET_MASK
            value &= (1 << (size * 8)) - 1
            if region.store is not None:
                if region.store(off, size, value):
                    return
            elif region.load is None and off + size <= len(region.buf):
                _PACK[size].pack_into(region.buf, off, value)
                return
        raise self._fault(addr, size, "write", pc)

    def span(self, addr: int, size: int, *, write: bool = False, pc: int | None = None) -> tuple[bytearray, int]:
        """The buffer and offset of ``size`` plain bytes at ``addr``, checked (for helpers)."""
        if size < 0:
            raise VMError(f"negative size {size} at address {addr:#x}", pc=pc, address=addr)
        region = self.region_of(addr) if 0 <= addr < self.top else None
        off = addr & OFFSET_MASK
        if (region is None or not region.readable or (write and not region.writable)
                or off + size > len(region.buf) or (region.load is not None and size)):
            raise self._fault(addr, size, "write" if write else "read", pc)
        return region.buf, off

    def read(self, addr: int, size: int, *, pc: int | None = None) -> bytes:
        """``size`` bytes at ``addr`` (checked)."""
        if size == 0:
            return b""
        buf, off = self.span(addr, size, pc=pc)
        return bytes(buf[off:off + size])

    def write(self, addr: int, data: bytes, *, pc: int | None = None) -> None:
        """Write ``data`` at ``addr`` (checked)."""
        if not data:
            return
        buf, off = self.span(addr, len(data), write=True, pc=pc)
        buf[off:off + len(data)] = data

    def read_cstr(self, addr: int, limit: int, *, pc: int | None = None) -> bytes:
        """A NUL-terminated string at ``addr`` (without the NUL), at most ``limit`` bytes read."""
        region = self.region_of(addr) if 0 <= addr < self.top else None
        if region is None or region.load is not None or not region.readable:
            raise self._fault(addr, 1, "read", pc)
        off = addr & OFFSET_MASK
        buf = region.buf
        end = min(len(buf), off + limit)
        if off >= len(buf):
            raise self._fault(addr, 1, "read", pc)
        nul = buf.find(0, off, end)
        if nul < 0:
            if end - off < limit and end == len(buf):
                raise self._fault(addr, end - off + 1, "read", pc)
            return bytes(buf[off:end])
        return bytes(buf[off:nul])
