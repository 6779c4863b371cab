"""Shortcuts the interpreter's generated code calls instead of the general slow paths and helpers,
each giving exactly the general path's result:

* :func:`context_loader`: XDP context fields (``data``, ``data_end``, ...) computed by the
  context's load hook, remembered while the Memory's ``epoch`` stands. The ``xdp_md`` hook is a
  pure function of the regions (and of its read-only bytes), and every change to a region bumps
  the epoch, so a remembered value is what the hook would return now. The generated code reads
  the cache itself first (the Memory empties it when the epoch moves). The JIT's context cache
  relies on the same rule (see :mod:`pybpf.vm.jit.abi`).
* :func:`bound_map_helper`: ``bpf_map_lookup_elem`` / ``update`` / ``delete`` at a call site
  whose map is known when the program compiles (``r1`` set by ``ld_imm64`` in the same block):
  the key and value are read straight from plain memory and the map's own method is called,
  without the helper's map-pointer decoding and checked reads. Anything unusual (the map closed,
  a key or value not in plain memory) goes to the general helper, which reports it as before.
* :func:`lookup_table`: for a lookup whose key is at a fixed place of the stack, the map's own
  table of value addresses (:attr:`~pybpf.vm.maps.VMMap.value_addresses`), which the generated
  code reads with one ``dict.get``; the value's size and whether programs may write it let the
  code that follows access the value without bounds checks (see the interpreter).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .maps.base import MAP_TAG
from .memory import CTX_REGION, OFFSET_MASK, EpochCache

if TYPE_CHECKING:
    from .maps import VMMap
    from .memory import Memory
    from .runtime import Runtime

__all__ = ["context_loader", "bound_map_helper", "MAP_HELPERS", "LookupTable", "lookup_table"]

M64 = (1 << 64) - 1
LOOKUP, UPDATE, DELETE = 1, 2, 3
#: helpers :func:`bound_map_helper` binds to a map
MAP_HELPERS = frozenset({LOOKUP, UPDATE, DELETE})
#: the only size the xdp_md hook answers
_CTX_FIELD = 4


def context_loader(memory: Memory, slow_load: Callable[[int, int, int], int]
                   ) -> tuple[Callable[[int, int, int], int], EpochCache]:
    """``slow_load`` for an XDP program, and its cache (address -> value): 4-byte loads from a
    read-only context region with a load hook are remembered until the Memory's epoch moves
    (see the module docstring)."""
    cache = EpochCache()
    memory.epoch_caches[id(cache)] = cache
    seen = [-1]
    regions = memory.regions

    def load(addr: int, size: int, pc: int) -> int:
        if size == _CTX_FIELD and memory.epoch == seen[0]:
            value = cache.get(addr)
            if value is not None:
                return value
        value = slow_load(addr, size, pc)
        if size == _CTX_FIELD and addr >> 32 == CTX_REGION:
            region = regions[CTX_REGION]
            if region is not None and region.load is not None and not region.writable:
                if memory.epoch != seen[0]:
                    cache.clear()
                    seen[0] = memory.epoch
                cache[addr] = value
        return value

    return load, cache


@dataclass(frozen=True)
class LookupTable:
    """What the generated code needs to look keys up in ``map`` itself: key -> value address
    (``int_keys``: keys are little-endian integers, else bytes; ``complete``: a key missing from
    ``addresses`` is absent, so the lookup gives 0)."""

    map: VMMap
    addresses: dict[int | bytes, int]
    complete: bool
    int_keys: bool
    key_size: int
    value_size: int
    writable: bool
    #: value address -> its u64 words (:attr:`~pybpf.vm.maps.VMMap.value_views`), or None
    views: dict[int, memoryview] | None


def map_at(rt: Runtime, ptr: int) -> VMMap | None:
    """The runtime's map whose pointer is ``ptr``, or None."""
    m = rt.maps.get(ptr & OFFSET_MASK) if ptr >> 60 == MAP_TAG >> 60 else None
    return m if m is not None and m.address == ptr else None


def lookup_table(rt: Runtime, ptr: int) -> LookupTable | None:
    """The table of value addresses of the map ``ptr`` points to, when the map keeps one."""
    m = map_at(rt, ptr)
    if m is None or m.value_addresses is None or m.key_size <= 0 or m.value_size <= 0:
        return None
    return LookupTable(m, m.value_addresses, m.value_addresses_complete, m.int_keys, m.key_size, m.value_size,
                       m.values_writable, m.value_views)


def bound_map_helper(rt: Runtime, hid: int, ptr: int, general: Callable[..., int]) -> Callable[..., int] | None:
    """``f(r2, r3, r4, r5) -> r0`` for helper ``hid`` called with ``r1 = ptr`` (``general`` is
    the helper itself, for everything the shortcut does not cover), or None when there is no
    shortcut (not a map helper, ``ptr`` not the address of one of the runtime's maps, ...)."""
    m = map_at(rt, ptr)
    if (hid not in MAP_HELPERS or m is None or getattr(m.kind, "fd_target", False)
            or m.key_size <= 0 or m.value_size <= 0):
        return None
    mem = rt.memory
    bufs, rlen, top, maps = mem.bufs, mem.rlen, mem.top, rt.maps
    handle, ks, vs = ptr & OFFSET_MASK, m.key_size, m.value_size
    # bytes of a key / value straight from a buffer, in one copy (a slice and bytes() are two)
    key_at, value_at = struct.Struct(f"{ks}s").unpack_from, struct.Struct(f"{vs}s").unpack_from

    if hid == LOOKUP:
        lookup = m.bpf_lookup

        def lookup_elem(r2: int, r3: int, r4: int, r5: int) -> int:
            if maps.get(handle) is m and 0 <= r2 < top and (o := r2 & 0xFFFFFFFF) + ks <= rlen[(i := r2 >> 32)]:
                return lookup(key_at(bufs[i], o)[0], rt.cpu) & M64
            return general(ptr, r2, r3, r4, r5) & M64
        return lookup_elem

    if hid == UPDATE:
        update = m.bpf_update

        def update_elem(r2: int, r3: int, r4: int, r5: int) -> int:
            if (maps.get(handle) is m and 0 <= r2 < top and (o := r2 & 0xFFFFFFFF) + ks <= rlen[(i := r2 >> 32)]
                    and 0 <= r3 < top and (p := r3 & 0xFFFFFFFF) + vs <= rlen[(j := r3 >> 32)]):
                return update(key_at(bufs[i], o)[0], value_at(bufs[j], p)[0], r4, rt.cpu) & M64
            return general(ptr, r2, r3, r4, r5) & M64
        return update_elem

    delete = m.bpf_delete

    def delete_elem(r2: int, r3: int, r4: int, r5: int) -> int:
        if maps.get(handle) is m and 0 <= r2 < top and (o := r2 & 0xFFFFFFFF) + ks <= rlen[(i := r2 >> 32)]:
            return delete(key_at(bufs[i], o)[0]) & M64
        return general(ptr, r2, r3, r4, r5) & M64
    return delete_elem
