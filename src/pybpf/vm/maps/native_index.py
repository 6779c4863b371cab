"""A native-memory index of a map's values, read by JIT-compiled code without calling Python.

The Python map stays the owner of its elements (every value in its own bounds-checked region of
the VM's Memory); the index only maps a key to the VM address ``bpf_lookup`` would return, in a
layout native code reads directly. The map updates the index on every insert and delete, before
a value region is unmapped, so the index never names a region that is gone.

Layout (u64 words), at a fixed address for the map's lifetime:

* header ``[kind, bound, key_size, slot_words, slots_address, value_size, ncpus]``
* ``IndexKind.HASH``: ``bound`` is the slot mask (capacity - 1, capacity a power of two); each
  slot is ``slot_words`` words: the value address (:data:`EMPTY`, :data:`TOMBSTONE` or an
  address), then the key bytes, zero-padded. The slot of a key is ``fnv1a(key) & mask``, probed
  linearly; at most half the slots are used or tombstones, so a probe always meets an empty slot.
* ``IndexKind.ARRAY``: ``bound`` is max_entries; slot ``i`` is the address of element ``i``, or
  :data:`EMPTY` while its region does not exist yet (native code then asks Python).
* ``IndexKind.PERCPU_ARRAY``: as ARRAY with ``ncpus`` slots per element, slot ``i * ncpus + cpu``.

A lookup the index cannot answer (an array element not created yet) is left to the Python
helper; a miss in a hash index is a real miss (the index holds every key).
"""

from __future__ import annotations

import ctypes
import enum

__all__ = ["IndexKind", "NativeIndex", "fnv1a", "EMPTY", "TOMBSTONE", "HEADER_WORDS", "MAX_ARRAY_INDEX"]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
M64 = (1 << 64) - 1
EMPTY = 0
TOMBSTONE = 1
HEADER_WORDS = 7
#: arrays with more elements than this get no index (8 bytes per element up front)
MAX_ARRAY_INDEX = 1 << 20
_MIN_CAPACITY = 16


class IndexKind(enum.IntEnum):
    """Header word 0."""

    NONE = 0
    HASH = 1
    ARRAY = 2
    PERCPU_ARRAY = 3


def fnv1a(data: bytes) -> int:
    """64-bit FNV-1a of ``data`` (the hash the native lookup computes too)."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & M64
    return h


class NativeIndex:
    """The index of one map (see the module docstring)."""

    def __init__(self, kind: IndexKind, key_size: int, bound: int = 0, *, value_size: int = 0,
                 ncpus: int = 1) -> None:
        self.kind = kind
        self.key_size = key_size
        self.header = (ctypes.c_uint64 * HEADER_WORDS)()
        self.address = ctypes.addressof(self.header)
        self.slot_words = 1 + (key_size + 7) // 8 if kind == IndexKind.HASH else 1
        self._used = self._tombs = 0
        self._pos: dict[bytes, int] = {}
        self._slots: ctypes.Array[ctypes.c_uint64]
        if kind == IndexKind.ARRAY:
            self._allocate(bound)
            self.header[1] = bound
        elif kind == IndexKind.PERCPU_ARRAY:
            self._allocate(bound * ncpus)
            self.header[1] = bound
        else:
            self._allocate(_MIN_CAPACITY)
        self.header[0] = int(kind)
        self.header[2] = key_size
        self.header[3] = self.slot_words
        self.header[5] = value_size
        self.header[6] = ncpus

    def _allocate(self, slots: int) -> None:
        self._slots = (ctypes.c_uint64 * max(slots * self.slot_words, 1))()
        self._capacity = slots
        if self.kind == IndexKind.HASH:
            self.header[1] = slots - 1
        self.header[4] = ctypes.addressof(self._slots)

    # ---- arrays ----------------------------------------------------------------------------

    def set_element(self, index: int, address: int, cpu: int = 0, ncpus: int = 1) -> None:
        """ARRAY: element ``index`` lives at VM ``address`` (PERCPU_ARRAY: CPU ``cpu``'s slot)."""
        self._slots[index * ncpus + cpu] = address

    # ---- hashes ----------------------------------------------------------------------------

    def insert(self, key: bytes, address: int) -> None:
        """HASH: a new ``key`` (not in the index) whose value lives at VM ``address``."""
        if (self._used + self._tombs + 1) * 2 > self._capacity:
            self._rebuild()
        self._place(key, address)

    def _place(self, key: bytes, address: int) -> None:
        mask, words, slots = self._capacity - 1, self.slot_words, self._slots
        i = fnv1a(key) & mask
        while slots[i * words] not in (EMPTY, TOMBSTONE):
            i = (i + 1) & mask
        if slots[i * words] == TOMBSTONE:
            self._tombs -= 1
        base = i * words
        padded = key + bytes(-len(key) % 8)
        for w in range(words - 1):
            slots[base + 1 + w] = int.from_bytes(padded[8 * w:8 * w + 8], "little")
        slots[base] = address
        self._pos[key] = i
        self._used += 1

    def remove(self, key: bytes) -> None:
        """HASH: ``key`` is gone (its slot becomes a tombstone)."""
        i = self._pos.pop(key, None)
        if i is None:
            return
        self._slots[i * self.slot_words] = TOMBSTONE
        self._used -= 1
        self._tombs += 1

    def _rebuild(self) -> None:
        live = [(key, self._slots[i * self.slot_words]) for key, i in self._pos.items()]
        capacity = _MIN_CAPACITY
        while capacity < 4 * (len(live) + 1):
            capacity *= 2
        old = self._slots  # keep alive until the header points at the new slots
        self._allocate(capacity)
        del old
        self._pos.clear()
        self._used = self._tombs = 0
        for key, address in live:
            self._place(key, address)
