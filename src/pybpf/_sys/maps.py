"""Typed wrappers for the map commands of bpf()."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..enums import MapFlags, MapType
from ..errors import SyscallError
from .abi import Command, UpdateFlags
from .attrs import MapBatchAttr, MapCreateAttr, MapElemAttr
from .buffers import Buffer, OutBuffer, Pinned, object_name
from .fd import FD, FdLike, fdno
from .syscall import bpf, bpf_fd


def map_create(
    map_type: MapType,
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    flags: MapFlags = MapFlags.NONE,
    name: str = "",
    inner_map_fd: FdLike | None = None,
    numa_node: int = 0,
    ifindex: int = 0,
    btf_fd: FdLike | None = None,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
    btf_vmlinux_value_type_id: int = 0,
    map_extra: int = 0,
    value_type_btf_obj_fd: FdLike | None = None,
    token_fd: FdLike | None = None,
) -> FD:
    """BPF_MAP_CREATE: a new map; returns its owned fd (kernel >= 3.19; names >= 4.15)."""
    attr = MapCreateAttr(
        map_type=int(map_type),
        key_size=key_size,
        value_size=value_size,
        max_entries=max_entries,
        map_flags=int(flags),
        inner_map_fd=fdno(inner_map_fd) if inner_map_fd is not None else 0,
        numa_node=numa_node,
        map_name=object_name(name),
        map_ifindex=ifindex,
        btf_fd=fdno(btf_fd) if btf_fd is not None else 0,
        btf_key_type_id=btf_key_type_id,
        btf_value_type_id=btf_value_type_id,
        btf_vmlinux_value_type_id=btf_vmlinux_value_type_id,
        map_extra=map_extra,
        value_type_btf_obj_fd=fdno(value_type_btf_obj_fd) if value_type_btf_obj_fd is not None else 0,
        map_token_fd=fdno(token_fd) if token_fd is not None else 0,
    )
    return bpf_fd(Command.MAP_CREATE, attr, "map")


def _elem_attr(fd: FdLike, key: Pinned, value_addr: int = 0, flags: int = 0) -> MapElemAttr:
    attr = MapElemAttr(map_fd=fdno(fd), key=key.address, flags=flags)
    attr.value = value_addr
    return attr


def _absent_is_none(cmd: Command, attr: MapElemAttr) -> bool:
    """Run ``cmd``; False when the key is absent (ENOENT), True otherwise."""
    try:
        bpf(cmd, attr)
    except SyscallError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    return True


def map_lookup_elem(fd: FdLike, key: Buffer | None, value_size: int, *, flags: UpdateFlags = UpdateFlags.ANY) -> bytes | None:
    """BPF_MAP_LOOKUP_ELEM: the value bytes, or None when the key is absent.

    ``value_size`` is the total size the kernel writes: for per-CPU maps,
    ``round_up(value_size, 8) * possible_cpus()``. ``key`` is None for queue/stack peek.
    """
    k = Pinned(key)
    out = OutBuffer(value_size)
    attr = _elem_attr(fd, k, out.address, int(flags))
    return out.read() if _absent_is_none(Command.MAP_LOOKUP_ELEM, attr) else None


def map_update_elem(fd: FdLike, key: Buffer | None, value: Buffer, *, flags: UpdateFlags = UpdateFlags.ANY) -> None:
    """BPF_MAP_UPDATE_ELEM (``key`` None for queue/stack push)."""
    k, v = Pinned(key), Pinned(value)
    bpf(Command.MAP_UPDATE_ELEM, _elem_attr(fd, k, v.address, int(flags)))


def map_delete_elem(fd: FdLike, key: Buffer) -> bool:
    """BPF_MAP_DELETE_ELEM: True if deleted, False if the key was absent."""
    k = Pinned(key)
    return _absent_is_none(Command.MAP_DELETE_ELEM, _elem_attr(fd, k))


def map_lookup_and_delete_elem(fd: FdLike, key: Buffer | None, value_size: int, *, flags: UpdateFlags = UpdateFlags.ANY) -> bytes | None:
    """BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack pop with ``key=None``); None when empty/absent."""
    k = Pinned(key)
    out = OutBuffer(value_size)
    attr = _elem_attr(fd, k, out.address, int(flags))
    return out.read() if _absent_is_none(Command.MAP_LOOKUP_AND_DELETE_ELEM, attr) else None


def map_get_next_key(fd: FdLike, key: Buffer | None, key_size: int) -> bytes | None:
    """BPF_MAP_GET_NEXT_KEY: the key after ``key`` (the first key when None); None at the end."""
    k = Pinned(key)
    out = OutBuffer(key_size)
    attr = MapElemAttr(map_fd=fdno(fd), key=k.address)
    attr.next_key = out.address
    return out.read() if _absent_is_none(Command.MAP_GET_NEXT_KEY, attr) else None


def map_freeze(fd: FdLike) -> None:
    """BPF_MAP_FREEZE: make the map read-only for user space (kernel >= 5.2)."""
    bpf(Command.MAP_FREEZE, MapElemAttr(map_fd=fdno(fd)))


# ---- batch operations (kernel >= 5.6) -----------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """What a lookup batch returned: ``count`` packed keys and values, and where to go on.

    ``keys``/``values`` hold ``count * key_size`` / ``count * value_size`` bytes;
    ``next_batch`` is the token for the next call, or None when the map is exhausted.
    """

    keys: bytes
    values: bytes
    count: int
    next_batch: bytes | None

    def pairs(self, key_size: int, value_size: int) -> list[tuple[bytes, bytes]]:
        """Split into ``(key, value)`` pairs."""
        return [
            (self.keys[i * key_size:(i + 1) * key_size], self.values[i * value_size:(i + 1) * value_size])
            for i in range(self.count)
        ]


def _lookup_batch(
    cmd: Command, fd: FdLike, in_batch: bytes | None, key_size: int, value_size: int, count: int,
    elem_flags: int,
) -> BatchResult:
    token_size = max(key_size, 8)  # hash maps use a u32 bucket token, arrays a key
    token_in = Pinned(in_batch)
    token_out = OutBuffer(token_size)
    keys = OutBuffer(key_size * count)
    values = OutBuffer(value_size * count)
    attr = MapBatchAttr(
        in_batch=token_in.address, out_batch=token_out.address, keys=keys.address,
        values=values.address, count=count, map_fd=fdno(fd), elem_flags=elem_flags,
    )
    done = False
    try:
        bpf(cmd, attr)
    except SyscallError as exc:
        if exc.errno != errno.ENOENT:
            raise
        done = True  # ENOENT: no more entries; attr.count says how many arrived first
    n = attr.count
    return BatchResult(
        keys=keys.read(n * key_size), values=values.read(n * value_size), count=n,
        next_batch=None if done else token_out.read(),
    )


def map_lookup_batch(
    fd: FdLike, in_batch: bytes | None, key_size: int, value_size: int, count: int,
    *, elem_flags: UpdateFlags = UpdateFlags.ANY,
) -> BatchResult:
    """BPF_MAP_LOOKUP_BATCH: up to ``count`` entries after token ``in_batch`` (None: start)."""
    return _lookup_batch(Command.MAP_LOOKUP_BATCH, fd, in_batch, key_size, value_size, count, int(elem_flags))


def map_lookup_and_delete_batch(
    fd: FdLike, in_batch: bytes | None, key_size: int, value_size: int, count: int,
    *, elem_flags: UpdateFlags = UpdateFlags.ANY,
) -> BatchResult:
    """BPF_MAP_LOOKUP_AND_DELETE_BATCH: like :func:`map_lookup_batch`, removing what it returns."""
    return _lookup_batch(
        Command.MAP_LOOKUP_AND_DELETE_BATCH, fd, in_batch, key_size, value_size, count, int(elem_flags)
    )


def map_update_batch(
    fd: FdLike, keys: Buffer, values: Buffer, count: int, *, elem_flags: UpdateFlags = UpdateFlags.ANY,
) -> int:
    """BPF_MAP_UPDATE_BATCH: write ``count`` packed keys/values; returns how many were written."""
    k, v = Pinned(keys), Pinned(values)
    attr = MapBatchAttr(keys=k.address, values=v.address, count=count, map_fd=fdno(fd), elem_flags=int(elem_flags))
    bpf(Command.MAP_UPDATE_BATCH, attr)
    return int(attr.count)


def map_delete_batch(fd: FdLike, keys: Buffer, count: int, *, elem_flags: UpdateFlags = UpdateFlags.ANY) -> int:
    """BPF_MAP_DELETE_BATCH: delete ``count`` packed keys; returns how many were deleted.

    A missing key stops the batch with ENOENT (raised as SyscallError, ``errno`` ENOENT).
    """
    k = Pinned(keys)
    attr = MapBatchAttr(keys=k.address, count=count, map_fd=fdno(fd), elem_flags=int(elem_flags))
    bpf(Command.MAP_DELETE_BATCH, attr)
    return int(attr.count)
