"""Userspace maps of the VM, with the same API as :class:`pybpf.map.Map`.

:func:`create_map` picks the implementation for a map type (see :data:`FAMILIES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...enums import MapFlags, MapType
from ...errors import NotSupportedError
from .base import MAP_TAG, PerCPUValues, UpdateFlag, VMMap
from .keyed import ArrayMap, HandleArrayMap, HandleHashMap, HashMap, LPMTrieMap
from .streams import BloomFilterMap, PerfEventArrayMap, QueueMap, RingBufMap

if TYPE_CHECKING:
    from ...btf import BTF
    from ..memory import Memory

__all__ = [
    "VMMap", "HashMap", "ArrayMap", "LPMTrieMap", "HandleArrayMap", "HandleHashMap", "QueueMap",
    "BloomFilterMap", "RingBufMap", "PerfEventArrayMap", "FAMILIES", "create_map", "MAP_TAG",
    "UpdateFlag", "PerCPUValues",
]

#: map type -> implementation
FAMILIES: dict[MapType, type[VMMap]] = {
    MapType.HASH: HashMap,
    MapType.PERCPU_HASH: HashMap,
    MapType.LRU_HASH: HashMap,
    MapType.LRU_PERCPU_HASH: HashMap,
    MapType.ARRAY: ArrayMap,
    MapType.PERCPU_ARRAY: ArrayMap,
    MapType.LPM_TRIE: LPMTrieMap,
    MapType.PROG_ARRAY: HandleArrayMap,
    MapType.ARRAY_OF_MAPS: HandleArrayMap,
    MapType.HASH_OF_MAPS: HandleHashMap,
    MapType.QUEUE: QueueMap,
    MapType.STACK: QueueMap,
    MapType.BLOOM_FILTER: BloomFilterMap,
    MapType.RINGBUF: RingBufMap,
    MapType.PERF_EVENT_ARRAY: PerfEventArrayMap,
    # redirect targets: slots hold ifindexes / CPUs / sockets; bpf_redirect_map records the verdict
    MapType.DEVMAP: ArrayMap,
    MapType.DEVMAP_HASH: HashMap,
    MapType.CPUMAP: ArrayMap,
    MapType.XSKMAP: ArrayMap,
}


def create_map(memory: Memory, handle: int, map_type: MapType, key_size: int, value_size: int,
               max_entries: int, *, flags: MapFlags = MapFlags.NONE, name: str = "", btf: BTF | None = None,
               key_type_id: int = 0, value_type_id: int = 0, ncpus: int = 1, **extra: Any) -> VMMap:
    """A new VM map of ``map_type`` (NotSupportedError for types the VM does not have)."""
    cls = FAMILIES.get(MapType(map_type))
    if cls is None:
        have = ", ".join(t.name for t in FAMILIES)
        raise NotSupportedError(f"the VM has no {MapType(map_type).name} maps (it has: {have}); "
                                "run this object in the kernel with pybpf.load")
    if map_type == MapType.PERF_EVENT_ARRAY and not max_entries:
        max_entries = ncpus
    return cls(memory, handle, map_type, key_size, value_size, max_entries, flags=flags, name=name, btf=btf,
               key_type_id=key_type_id, value_type_id=value_type_id, ncpus=ncpus, **extra)
