"""BPF_MAP_LOOKUP_ELEM with an input value (bloom filters): added by the Map work item.

A bloom filter lookup passes the value to test *in* the value buffer (``key`` is NULL); the
kernel answers 0 (maybe present) or ENOENT (certainly absent).
"""

from __future__ import annotations

from .abi import Command
from .attrs import MapElemAttr
from .buffers import Buffer, OutBuffer
from .fd import FdLike, fdno
from .maps import _absent_is_none


def map_lookup_value(fd: FdLike, value: Buffer) -> bool:
    """BPF_MAP_LOOKUP_ELEM with ``key`` NULL and ``value`` as input: False on ENOENT (kernel >= 5.16 for bloom)."""
    buf = OutBuffer(len(value), value)
    attr = MapElemAttr(map_fd=fdno(fd), key=0)
    attr.value = buf.address
    return _absent_is_none(Command.MAP_LOOKUP_ELEM, attr)
