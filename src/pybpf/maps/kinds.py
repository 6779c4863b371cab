"""What each map type allows from user space, as data (one :class:`MapKind` per ``MapType``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..enums import MapType


class Access(Enum):
    """How user space reaches a map's elements."""

    KEYED = "keyed"  # m[key] / m[key] = v / del m[key] / iteration
    QUEUE = "queue"  # push / pop / peek, no keys (QUEUE, STACK)
    BLOOM = "bloom"  # push / ``value in m``, no keys, no iteration
    NONE = "none"  # no element access (ring buffers, struct_ops, arena ...)


@dataclass(frozen=True)
class MapKind:
    """The user-space traits of one map type."""

    access: Access = Access.KEYED
    #: keys are the indices 0..max_entries-1 (E2BIG on write means "index out of range")
    indexed: bool = False
    #: every slot always exists (an ARRAY): elements cannot be deleted, ``clear()`` zeroes them
    fixed: bool = False
    #: values hold one slot per possible CPU
    percpu: bool = False
    #: values are kernel objects: written as fds, read back as ids ("program", "map", ...)
    fd_target: str = ""
    #: the key is ``struct bpf_lpm_trie_key`` (u32 prefixlen + data)
    lpm: bool = False
    #: BTF key/value type ids are meaningless (or refused) for this type: create without them
    no_btf: bool = False
    #: for Access.NONE: what to use instead
    hint: str = ""


_KEYED = MapKind()

#: MapType -> traits; types not listed behave like a hash map.
KINDS: dict[MapType, MapKind] = {
    MapType.HASH: _KEYED,
    MapType.LRU_HASH: _KEYED,
    MapType.ARRAY: MapKind(indexed=True, fixed=True),
    MapType.PERCPU_HASH: MapKind(percpu=True),
    MapType.LRU_PERCPU_HASH: MapKind(percpu=True),
    MapType.PERCPU_ARRAY: MapKind(indexed=True, fixed=True, percpu=True),
    MapType.PERCPU_CGROUP_STORAGE: MapKind(percpu=True),
    MapType.LPM_TRIE: MapKind(lpm=True),
    MapType.PROG_ARRAY: MapKind(indexed=True, fd_target="program", no_btf=True),
    MapType.ARRAY_OF_MAPS: MapKind(indexed=True, fd_target="map", no_btf=True),
    MapType.HASH_OF_MAPS: MapKind(fd_target="map", no_btf=True),
    MapType.PERF_EVENT_ARRAY: MapKind(indexed=True, fd_target="perf event", no_btf=True),
    MapType.CGROUP_ARRAY: MapKind(indexed=True, fd_target="cgroup", no_btf=True),
    MapType.DEVMAP: MapKind(indexed=True, no_btf=True),
    MapType.DEVMAP_HASH: MapKind(no_btf=True),
    MapType.CPUMAP: MapKind(indexed=True, no_btf=True),
    MapType.XSKMAP: MapKind(indexed=True, fd_target="socket", no_btf=True),
    MapType.SOCKMAP: MapKind(indexed=True, fd_target="socket", no_btf=True),
    MapType.SOCKHASH: MapKind(fd_target="socket", no_btf=True),
    MapType.STACK_TRACE: MapKind(no_btf=True),
    MapType.QUEUE: MapKind(access=Access.QUEUE, no_btf=True),
    MapType.STACK: MapKind(access=Access.QUEUE, no_btf=True),
    MapType.BLOOM_FILTER: MapKind(access=Access.BLOOM),
    MapType.RINGBUF: MapKind(access=Access.NONE, no_btf=True,
                             hint="read it with pybpf.events' ring buffer reader"),
    MapType.USER_RINGBUF: MapKind(access=Access.NONE, no_btf=True,
                                  hint="write it with pybpf.events' user ring buffer writer"),
    MapType.STRUCT_OPS: MapKind(access=Access.NONE, hint="struct_ops maps are registered through a link"),
    MapType.ARENA: MapKind(access=Access.NONE, hint="map the arena with mmap"),
}


def kind_of(map_type: MapType) -> MapKind:
    """The traits of ``map_type`` (hash-like for types not in :data:`KINDS`)."""
    return KINDS.get(map_type, _KEYED)
