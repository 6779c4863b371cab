"""Map type probes: create the smallest valid map of each type (:data:`MAP_PROBES`) and close it."""

from __future__ import annotations

import errno
import mmap
from dataclasses import dataclass

from .. import _sys
from ..enums import MapFlags, MapType
from ..errors import SyscallError
from ._core import ENOTSUPP, FeatureResult, UnknownFeatureError, cached, config_note, config_off, describe_error, errno_name, no, yes


@dataclass(frozen=True)
class MapProbe:
    """The smallest valid definition of one map type, and what the answer means."""

    min_kernel: str
    key_size: int = 4
    value_size: int = 4
    max_entries: int = 1
    flags: MapFlags = MapFlags.NONE
    config: str | None = None
    #: needs an inner map (map-in-map)
    inner: bool = False
    #: needs BTF key/value types (local storage maps)
    btf: bool = False
    #: btf_vmlinux_value_type_id to pass (struct_ops)
    vmlinux_value_type_id: int = 0
    #: errnos that still prove the kernel knows the type
    known_errnos: frozenset[int] = frozenset()
    note: str = ""


_PAGE = mmap.PAGESIZE
_STORAGE = {"key_size": 4, "value_size": 4, "max_entries": 0, "flags": MapFlags.NO_PREALLOC, "btf": True}

#: Map type -> the smallest definition that proves it.
MAP_PROBES: dict[MapType, MapProbe] = {
    MapType.HASH: MapProbe("3.19"),
    MapType.ARRAY: MapProbe("3.19"),
    MapType.PROG_ARRAY: MapProbe("4.2"),
    MapType.PERF_EVENT_ARRAY: MapProbe("4.3"),
    MapType.PERCPU_HASH: MapProbe("4.6"),
    MapType.PERCPU_ARRAY: MapProbe("4.6"),
    MapType.STACK_TRACE: MapProbe("4.6", value_size=8),
    MapType.CGROUP_ARRAY: MapProbe("4.8"),
    MapType.LRU_HASH: MapProbe("4.10"),
    MapType.LRU_PERCPU_HASH: MapProbe("4.10"),
    MapType.LPM_TRIE: MapProbe("4.11", key_size=8, flags=MapFlags.NO_PREALLOC),
    MapType.ARRAY_OF_MAPS: MapProbe("4.12", inner=True),
    MapType.HASH_OF_MAPS: MapProbe("4.12", inner=True),
    MapType.DEVMAP: MapProbe("4.14"),
    MapType.SOCKMAP: MapProbe("4.14", config="CONFIG_BPF_STREAM_PARSER"),
    MapType.CPUMAP: MapProbe("4.15"),
    MapType.XSKMAP: MapProbe("4.18", config="CONFIG_XDP_SOCKETS"),
    MapType.SOCKHASH: MapProbe("4.18", config="CONFIG_BPF_STREAM_PARSER"),
    MapType.CGROUP_STORAGE: MapProbe("4.19", key_size=16, max_entries=0, config="CONFIG_CGROUP_BPF"),
    MapType.REUSEPORT_SOCKARRAY: MapProbe("4.19"),
    MapType.PERCPU_CGROUP_STORAGE: MapProbe("4.20", key_size=16, max_entries=0, config="CONFIG_CGROUP_BPF"),
    MapType.QUEUE: MapProbe("4.20", key_size=0),
    MapType.STACK: MapProbe("4.20", key_size=0),
    MapType.SK_STORAGE: MapProbe("5.2", **_STORAGE),  # type: ignore[arg-type]
    MapType.DEVMAP_HASH: MapProbe("5.4"),
    MapType.STRUCT_OPS: MapProbe(
        "5.6", vmlinux_value_type_id=1, known_errnos=frozenset({ENOTSUPP}), config="CONFIG_BPF_JIT",
        note="the kernel knows the type (a real map needs a struct_ops value type)"),
    MapType.RINGBUF: MapProbe("5.8", key_size=0, value_size=0, max_entries=_PAGE),
    MapType.INODE_STORAGE: MapProbe("5.10", config="CONFIG_BPF_LSM", **_STORAGE),  # type: ignore[arg-type]
    MapType.TASK_STORAGE: MapProbe("5.11", **_STORAGE),  # type: ignore[arg-type]
    MapType.BLOOM_FILTER: MapProbe("5.16", key_size=0),
    MapType.USER_RINGBUF: MapProbe("6.1", key_size=0, value_size=0, max_entries=_PAGE),
    MapType.CGRP_STORAGE: MapProbe("6.2", **_STORAGE),  # type: ignore[arg-type]
    MapType.ARENA: MapProbe("6.9", key_size=0, value_size=0, max_entries=1, flags=MapFlags.MMAPABLE),
}

#: Every map type a user can ask about.
MAP_TYPES: tuple[MapType, ...] = tuple(MAP_PROBES)


def map_name(mt: MapType) -> str:
    """``ringbuf``, ``percpu_hash``, ... (bpftool's spelling)."""
    return mt.name.lower()


def _int_btf() -> _sys.LoadedBTF:
    from ..btf import BTF, Int, IntEncoding

    return _sys.btf_load(BTF.from_types([Int("int", 4, IntEncoding.SIGNED, bits=32)]).to_bytes())


def create(mt: MapType, probe: MapProbe | None = None, **overrides: object) -> _sys.FD:
    """Create the probe's map of type ``mt`` (raises on refusal); the caller closes it."""
    probe = probe or MAP_PROBES[mt]
    kwargs: dict[str, object] = {
        "flags": probe.flags, "btf_vmlinux_value_type_id": probe.vmlinux_value_type_id, "name": "pybpf_probe",
    }
    kwargs.update(overrides)
    inner = btf = None
    try:
        if probe.inner:
            inner = _sys.map_create(MapType.ARRAY, 4, 4, 1)
            kwargs["inner_map_fd"] = inner
        if probe.btf:
            btf = _int_btf()
            kwargs.update(btf_fd=btf.fd, btf_key_type_id=1, btf_value_type_id=1)
        return _sys.map_create(mt, probe.key_size, probe.value_size, probe.max_entries, **kwargs)  # type: ignore[arg-type]
    finally:
        for held in (inner, btf.fd if btf else None):
            if held is not None:
                held.close()


def _probe_map_type(mt: MapType) -> FeatureResult:
    probe = MAP_PROBES[mt]
    try:
        create(mt, probe).close()
    except SyscallError as exc:
        err = exc.errno or 0
        if err in probe.known_errnos:
            return yes(f"{probe.note} ({errno_name(err)} without one)", probe.min_kernel)
        reason = describe_error(exc, f"creating a {map_name(mt)} map")
        if err == errno.EINVAL:
            reason += ": the kernel does not know this map type"
        if config_off(probe.config):
            reason = f"{config_note(probe.config)}; {reason}"
        return no(reason, probe.min_kernel)
    return yes(f"creating a map of type {map_name(mt)} succeeds", probe.min_kernel)


def map_type(mt: MapType) -> FeatureResult:
    """Can this kernel create maps of type ``mt``? Probed once per process.

    >>> from pybpf import features
    >>> features.map_type(MapType.RINGBUF).min_kernel
    '5.8'
    """
    if mt not in MAP_PROBES:
        raise UnknownFeatureError(f"no probe for map type {mt!r}")
    return cached(("map_type", mt), lambda: _probe_map_type(mt), min_kernel=MAP_PROBES[mt].min_kernel)


__all__ = ["MAP_PROBES", "MAP_TYPES", "MapProbe", "create", "map_type"]
