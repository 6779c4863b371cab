"""Batch operations (BPF_MAP_*_BATCH, kernel >= 5.6) with a per-map-type support cache.

Whether a map type has a batch op ("lookup", "update", "delete") is learned the first time it
is used on that type (per syscall seam, so a test double does not poison the real kernel's
answer): an "unsupported" errno marks it, and callers fall back to per-key operations. The
reason is kept.
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Iterator

from .. import _sys
from .._log import get_logger
from ..enums import MapType
from ..errors import SyscallError

log = get_logger("pybpf.map")

#: errnos meaning "this kernel / map type has no batch ops" (524 is the kernel's ENOTSUPP)
_UNSUPPORTED = frozenset({errno.EINVAL, errno.EOPNOTSUPP, 524, errno.ENOSYS})

_Key = tuple[MapType, str]
_support: weakref.WeakKeyDictionary[object, dict[_Key, tuple[bool, str]]] = weakref.WeakKeyDictionary()


def _table() -> dict[_Key, tuple[bool, str]]:
    return _support.setdefault(_sys.current(), {})


def batch_supported(map_type: MapType, op: str = "lookup") -> bool | None:
    """True/False once batch ``op`` ("lookup", "update", "delete") was tried on ``map_type``; None before."""
    known = _table().get((map_type, op))
    return None if known is None else known[0]


def batch_reason(map_type: MapType, op: str = "lookup") -> str:
    """Why batch ``op`` is (not) used for ``map_type`` ("" before the first try)."""
    known = _table().get((map_type, op))
    return "" if known is None else known[1]


def _record(map_type: MapType, op: str, ok: bool, reason: str) -> None:
    if (map_type, op) not in _table():
        log.debug("batch %s for %s maps: %s (%s)", op, map_type.name, "yes" if ok else "no", reason)
    _table()[map_type, op] = (ok, reason)


def _unsupported(map_type: MapType, op: str, exc: SyscallError) -> bool:
    """Record and return True if ``exc`` means no batch support (judged on the first use only)."""
    if exc.errno in _UNSUPPORTED and batch_supported(map_type, op) is None:
        _record(map_type, op, False, str(exc))
        return True
    return False


def lookup_batches(
    fd: _sys.FdLike, map_type: MapType, key_size: int, value_size: int, count: int, *, delete: bool = False,
) -> Iterator[_sys.BatchResult] | None:
    """Every entry, ``count`` (or more) at a time; None when batch lookup is unsupported.

    The first call happens here, so that an unsupported kernel/map type is known before the
    caller starts iterating. A bucket larger than ``count`` (ENOSPC) doubles ``count``.
    """
    op = "lookup_and_delete" if delete else "lookup"
    if batch_supported(map_type, op) is False:
        return None
    call = _sys.map_lookup_and_delete_batch if delete else _sys.map_lookup_batch

    def one(token: bytes | None) -> _sys.BatchResult:
        nonlocal count
        while True:
            try:
                return call(fd, token, key_size, value_size, count)
            except SyscallError as exc:
                if exc.errno == errno.ENOSPC and count < (1 << 24):
                    count *= 2
                    continue
                raise

    try:
        first = one(None)
    except SyscallError as exc:
        if _unsupported(map_type, op, exc):
            return None
        raise
    _record(map_type, op, True, "BPF_MAP_LOOKUP_BATCH works")

    def rest() -> Iterator[_sys.BatchResult]:
        result = first
        while True:
            if result.count:
                yield result
            if result.next_batch is None:
                return
            result = one(result.next_batch)

    return rest()


def update_batch(fd: _sys.FdLike, map_type: MapType, keys: bytes, values: bytes, count: int) -> bool:
    """Write ``count`` packed entries; False (nothing written) when batch update is unsupported."""
    if batch_supported(map_type, "update") is False:
        return False
    try:
        _sys.map_update_batch(fd, keys, values, count)
    except SyscallError as exc:
        if _unsupported(map_type, "update", exc):
            return False
        raise
    _record(map_type, "update", True, "BPF_MAP_UPDATE_BATCH works")
    return True


def delete_batch(fd: _sys.FdLike, map_type: MapType, keys: bytes, count: int) -> bool:
    """Delete ``count`` packed keys; False when batch delete is unsupported.

    A key deleted meanwhile (ENOENT) is not an error: the rest are deleted one by one.
    """
    if batch_supported(map_type, "delete") is False:
        return False
    try:
        _sys.map_delete_batch(fd, keys, count)
    except SyscallError as exc:
        if _unsupported(map_type, "delete", exc):
            return False
        if exc.errno != errno.ENOENT:
            raise
        key_size = len(keys) // count if count else 0
        for i in range(count):
            _sys.map_delete_elem(fd, keys[i * key_size:(i + 1) * key_size])
        return True
    _record(map_type, "delete", True, "BPF_MAP_DELETE_BATCH works")
    return True
