"""mmap helpers shared by the readers.

Memory ordering: the kernel publishes a record by a release store (of the record header's
length for ring buffers, of ``data_head`` for perf buffers) and reads the consumer position
with an acquire load. From Python each position/header access is one aligned 4- or 8-byte
load or store through a ``memoryview`` (a single machine access, never torn), and CPython
executes them in program order. On x86-64 (TSO) that is exactly acquire/release semantics.
On weakly ordered CPUs (arm64) CPython's own atomics around every bytecode (eval breaker,
GIL) act as barriers in practice; no weaker interleaving has been observed, but it is not a
formal guarantee.
"""

from __future__ import annotations

import mmap
from typing import Any

from .. import _sys
from .._log import get_logger
from ..errors import SyscallError

log = get_logger("pybpf.events")

PAGE_SIZE = mmap.PAGESIZE


def map_shared(fd: _sys.FdLike, length: int, *, offset: int = 0, writable: bool = False,
               what: str = "mmap") -> mmap.mmap:
    """mmap(MAP_SHARED) of ``length`` bytes of ``fd`` at ``offset``; SyscallError naming ``what``."""
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    try:
        return mmap.mmap(_sys.fdno(fd), length, flags=mmap.MAP_SHARED, prot=prot, offset=offset)
    except OSError as exc:
        raise SyscallError(what, exc.errno or 0, f"mmap of {length} bytes at offset {offset}") from None


def close_mapping(mm: mmap.mmap) -> None:
    """Unmap ``mm`` now, or, while a view still exports it (a traceback frame holding one),
    as soon as that view is gone (the mmap object unmaps when it is freed)."""
    try:
        mm.close()
    except BufferError:
        log.debug("mapping still viewed; it is unmapped when the last view goes")


def release(*views: Any) -> None:
    """Release memoryviews (an mmap cannot close while views on it exist)."""
    for view in views:
        if view is not None:
            view.release()
