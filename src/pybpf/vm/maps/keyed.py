"""Keyed maps: hash (plain, LRU, per-CPU), array (plain, per-CPU, global data), LPM trie,
and the arrays/hashes of handles (prog array, array/hash of maps)."""

from __future__ import annotations

import errno
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...enums import MapFlags, MapType
from .base import MAP_TAG, UpdateFlag, VMMap
from .native_index import MAX_ARRAY_INDEX, IndexKind, NativeIndex

if TYPE_CHECKING:
    from ..memory import Region

__all__ = ["HashMap", "ArrayMap", "LPMTrieMap", "HandleArrayMap", "HandleHashMap"]


class _PerCPUSlots:
    """Helpers shared by hash and array maps for per-CPU values (one region per CPU)."""

    kind: Any
    ncpus: int
    value_size: int

    def _slot(self) -> int:
        return (self.value_size + 7) & ~7

    def _split(self, raw: bytes) -> list[bytes]:
        if not self.kind.percpu:
            return [raw]
        s = self._slot()
        return [raw[i * s:i * s + self.value_size] for i in range(self.ncpus)]

    def _join(self, regions: list[Region]) -> bytes:
        if not self.kind.percpu:
            return bytes(regions[0].buf)
        pad = bytes(self._slot() - self.value_size)
        return b"".join(bytes(r.buf) + pad for r in regions)


class HashMap(_PerCPUSlots, VMMap):
    """HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH. An LRU map evicts the least recently
    used element when an insert finds it full."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entries: OrderedDict[bytes, list[Region]] = OrderedDict()
        self._lru = self.type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
        #: what JIT-compiled lookups read natively (plain HASH only: LRU lookups reorder, per-CPU
        #: lookups depend on the CPU)
        self.native_index: NativeIndex | None = (
            NativeIndex(IndexKind.HASH, self.key_size, value_size=self.value_size)
            if self.type == MapType.HASH and self.key_size > 0 else None)
        if self.type == MapType.HASH:  # LRU lookups reorder, per-CPU lookups depend on the CPU
            self.value_addresses = {}
            self.value_addresses_complete = True
            self._keep_views()

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        addresses = self.value_addresses
        if addresses is not None:
            return addresses.get(self.table_key(key), 0)
        regions = self._entries.get(key)
        if regions is None:
            return 0
        if self._lru:
            self._entries.move_to_end(key)
        return regions[cpu if self.kind.percpu else 0].base

    def _store(self, key: bytes, values: list[bytes], flags: int) -> int:
        regions = self._entries.get(key)
        if flags & 3 == UpdateFlag.NOEXIST and regions is not None:
            return -errno.EEXIST
        if flags & 3 == UpdateFlag.EXIST and regions is None:
            return -errno.ENOENT
        if regions is not None:
            for region, value in zip(regions, values):
                region.buf[:] = value
            if self._lru:
                self._entries.move_to_end(key)
            return 0
        if len(self._entries) >= self.max_entries:
            if not self._lru:
                return -errno.E2BIG
            old_key, old = self._entries.popitem(last=False)
            for region in old:
                self.memory.unmap(region, deferred=True)
        regions = self._entries[key] = [self._new_region(v, self.value_size, "") for v in values]
        if self.native_index is not None:
            self.native_index.insert(key, regions[0].base)
        if self.value_addresses is not None:
            self.value_addresses[self.table_key(key)] = regions[0].base
            self._add_view(regions[0])
        return 0

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        if self.kind.percpu:
            regions = self._entries.get(key)
            if regions is not None and flags & 3 != UpdateFlag.NOEXIST:
                regions[cpu].buf[:] = value
                return 0
            values = [bytes(self.value_size)] * self.ncpus
            values[cpu] = value
            return self._store(key, values, flags)
        return self._store(key, [value], flags)

    def bpf_delete(self, key: bytes) -> int:
        regions = self._entries.pop(key, None)
        if regions is None:
            return -errno.ENOENT
        if self.native_index is not None:
            self.native_index.remove(key)
        if self.value_addresses is not None:
            del self.value_addresses[self.table_key(key)]
        if self.value_views is not None:
            self.value_views.pop(regions[0].base, None)
        for region in regions:
            self.memory.unmap(region, deferred=True)
        return 0

    def raw_get(self, key: bytes) -> bytes | None:
        regions = self._entries.get(key)
        return None if regions is None else self._join(regions)

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        return self._store(key, self._split(value), flags)

    def raw_keys(self) -> Iterator[bytes]:
        return iter(list(self._entries))

    def bpf_next_key(self, key: bytes | None) -> bytes | None:
        keys = list(self._entries)
        if key is None or key not in self._entries:
            return keys[0] if keys else None
        i = keys.index(key)
        return keys[i + 1] if i + 1 < len(keys) else None


class ArrayMap(_PerCPUSlots, VMMap):
    """ARRAY and PERCPU_ARRAY (and global data: ``.data``/``.rodata``/``.bss``), every slot present.

    A map with ``BPF_F_RDONLY_PROG`` (a frozen ``.rodata``) gives programs read-only values.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots: dict[int, list[Region]] = {}
        #: what JIT-compiled lookups read natively (plain ARRAY with u32 keys)
        kind = {MapType.ARRAY: IndexKind.ARRAY, MapType.PERCPU_ARRAY: IndexKind.PERCPU_ARRAY}.get(self.type)
        n = self.ncpus if kind == IndexKind.PERCPU_ARRAY else 1
        self.native_index: NativeIndex | None = (
            NativeIndex(kind, self.key_size, self.max_entries, value_size=self.value_size, ncpus=n)
            if kind is not None and self.key_size == 4 and 0 < self.max_entries * n <= MAX_ARRAY_INDEX else None)
        self.values_writable = not (self.flags & MapFlags.RDONLY_PROG)
        if self.type == MapType.ARRAY and self.key_size == 4:  # filled as elements get their regions
            self.value_addresses = {}
            self._keep_views()

    def _regions(self, index: int) -> list[Region]:
        regions = self._slots.get(index)
        if regions is None:
            writable = self.values_writable
            n = self.ncpus if self.kind.percpu else 1
            regions = [self._new_region(None, self.value_size, f"[{index}]", writable=writable) for _ in range(n)]
            self._slots[index] = regions
            if self.value_addresses is not None and index < self.max_entries:
                self.value_addresses[index] = regions[0].base
                self._add_view(regions[0])
            if self.native_index is not None and index < self.max_entries:
                for cpu, region in enumerate(regions):
                    self.native_index.set_element(index, region.base, cpu, len(regions))
        return regions

    @staticmethod
    def _index(key: bytes) -> int:
        return int.from_bytes(key[:4], "little")

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        i = self._index(key)
        if i >= self.max_entries:
            return 0
        return self._regions(i)[cpu if self.kind.percpu else 0].base

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        i = self._index(key)
        if i >= self.max_entries:
            return -errno.E2BIG
        if flags & 3 == UpdateFlag.NOEXIST:
            return -errno.EEXIST
        if self.flags & MapFlags.RDONLY_PROG:
            return -errno.EPERM
        regions = self._regions(i)
        if self.kind.percpu:
            regions[cpu].buf[:] = value
        else:
            regions[0].buf[:] = value
        return 0

    def bpf_delete(self, key: bytes) -> int:
        return -errno.EINVAL

    def raw_get(self, key: bytes) -> bytes | None:
        i = self._index(key)
        if i >= self.max_entries:
            return None
        return self._join(self._regions(i))

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        i = self._index(key)
        if i >= self.max_entries:
            return -errno.E2BIG
        if flags & 3 == UpdateFlag.NOEXIST:
            return -errno.EEXIST
        for region, v in zip(self._regions(i), self._split(value)):
            region.buf[:] = v
        return 0

    def raw_keys(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in range(self.max_entries))

    def value_address(self, index: int, offset: int = 0) -> int:
        """Address of byte ``offset`` of element ``index`` (what ``ld_imm64 MAP_VALUE`` loads)."""
        return self._regions(index)[0].base + offset

    def bpf_next_key(self, key: bytes | None) -> bytes | None:
        i = 0 if key is None else self._index(key) + 1
        return i.to_bytes(4, "little") if i < self.max_entries else None


class LPMTrieMap(VMMap):
    """LPM_TRIE: keys are ``u32 prefixlen`` + data; lookups find the longest matching prefix."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entries: dict[bytes, Region] = {}

    def _norm(self, key: bytes) -> tuple[int, bytes] | None:
        plen = int.from_bytes(key[:4], "little")
        data = key[4:]
        if plen > len(data) * 8:
            return None
        bits = int.from_bytes(data, "big")
        width = len(data) * 8
        masked = (bits >> (width - plen) << (width - plen)) if plen else 0
        return plen, masked.to_bytes(len(data), "big")

    def _canon(self, key: bytes) -> bytes | None:
        norm = self._norm(key)
        return None if norm is None else norm[0].to_bytes(4, "little") + norm[1]

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        norm = self._norm(key)
        if norm is None:
            return 0
        plen, _ = norm
        data = int.from_bytes(key[4:], "big")
        width = (len(key) - 4) * 8
        best: tuple[int, Region] | None = None
        for stored, region in self._entries.items():
            slen = int.from_bytes(stored[:4], "little")
            if slen > plen or (best is not None and slen <= best[0]):
                continue
            sdata = int.from_bytes(stored[4:], "big")
            if slen == 0 or (data >> (width - slen)) == (sdata >> (width - slen)):
                best = (slen, region)
        return 0 if best is None else best[1].base

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        canon = self._canon(key)
        if canon is None:
            return -errno.EINVAL
        region = self._entries.get(canon)
        if flags & 3 == UpdateFlag.NOEXIST and region is not None:
            return -errno.EEXIST
        if flags & 3 == UpdateFlag.EXIST and region is None:
            return -errno.ENOENT
        if region is not None:
            region.buf[:] = value
            return 0
        if len(self._entries) >= self.max_entries:
            return -errno.ENOSPC
        self._entries[canon] = self._new_region(value, self.value_size, "")
        return 0

    def bpf_delete(self, key: bytes) -> int:
        canon = self._canon(key)
        region = self._entries.pop(canon, None) if canon is not None else None
        if region is None:
            return -errno.ENOENT
        self.memory.unmap(region, deferred=True)
        return 0

    def raw_get(self, key: bytes) -> bytes | None:
        canon = self._canon(key)
        region = self._entries.get(canon) if canon is not None else None
        return None if region is None else bytes(region.buf)

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        return self.bpf_update(key, value, flags, 0)

    def raw_keys(self) -> Iterator[bytes]:
        return iter(list(self._entries))


class HandleArrayMap(VMMap):
    """PROG_ARRAY and ARRAY_OF_MAPS: slots hold handles of VM programs or maps (``.fd``).

    Programs cannot look up a prog array; looking up an array of maps gives the inner map pointer.
    """

    def __init__(self, *args: Any, resolve: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots: dict[int, int] = {}
        self.resolve = resolve  # handle -> object (set by the runtime)

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key[:4], "little")

    def target(self, index: int) -> Any:
        handle = self._slots.get(index)
        return None if handle is None or self.resolve is None else self.resolve(handle)

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        if self.type == MapType.PROG_ARRAY:
            return 0
        handle = self._slots.get(self._index(key))
        return 0 if handle is None else MAP_TAG | handle

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL  # programs cannot write handles

    def bpf_delete(self, key: bytes) -> int:
        return -errno.ENOENT if self._slots.pop(self._index(key), None) is None else 0

    def raw_get(self, key: bytes) -> bytes | None:
        handle = self._slots.get(self._index(key))
        return None if handle is None else handle.to_bytes(self.value_size, "little")

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        i = self._index(key)
        if i >= self.max_entries:
            return -errno.E2BIG
        handle = int.from_bytes(value, "little")
        if self.resolve is not None and self.resolve(handle) is None:
            return -errno.EBADF
        self._slots[i] = handle
        return 0

    def raw_keys(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in sorted(self._slots))

    def __len__(self) -> int:
        return len(self._slots)


class HandleHashMap(VMMap):
    """HASH_OF_MAPS: keys map to inner map handles."""

    def __init__(self, *args: Any, resolve: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots: dict[bytes, int] = {}
        self.resolve = resolve

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        handle = self._slots.get(key)
        return 0 if handle is None else MAP_TAG | handle

    def bpf_delete(self, key: bytes) -> int:
        return -errno.ENOENT if self._slots.pop(key, None) is None else 0

    def raw_get(self, key: bytes) -> bytes | None:
        handle = self._slots.get(key)
        return None if handle is None else handle.to_bytes(self.value_size, "little")

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        if key not in self._slots and len(self._slots) >= self.max_entries:
            return -errno.E2BIG
        handle = int.from_bytes(value, "little")
        if self.resolve is not None and self.resolve(handle) is None:
            return -errno.EBADF
        self._slots[key] = handle
        return 0

    def raw_keys(self) -> Iterator[bytes]:
        return iter(list(self._slots))
