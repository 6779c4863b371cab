"""bcc-style tables over live maps: ``BPF["name"]`` returns one of these.

The class follows the kernel map type (:data:`TABLE_CLASSES`); ``Key``/``Leaf`` come from the
object's BTF (:mod:`.ctypes_btf`), falling back to unsigned integers/bytes of the map's sizes.
"""

from __future__ import annotations

from typing import Any

from ...enums import MapType
from ...map import Map
from .base import TableBase, TableError
from .ctypes_btf import CtypesBuilder, raw_type
from .events import PerfEventArray, RingBuf
from .kinds import (
    Array, HashTable, LpmTrie, LruHash, LruPerCpuHash, PerCpuArray, PerCpuHash, ProgArray, QueueStack, StackTrace,
)

#: kernel map type -> bcc table class
TABLE_CLASSES: dict[MapType, type[TableBase]] = {
    MapType.HASH: HashTable,
    MapType.ARRAY: Array,
    MapType.PERCPU_HASH: PerCpuHash,
    MapType.PERCPU_ARRAY: PerCpuArray,
    MapType.LRU_HASH: LruHash,
    MapType.LRU_PERCPU_HASH: LruPerCpuHash,
    MapType.LPM_TRIE: LpmTrie,
    MapType.STACK_TRACE: StackTrace,
    MapType.PERF_EVENT_ARRAY: PerfEventArray,
    MapType.RINGBUF: RingBuf,
    MapType.PROG_ARRAY: ProgArray,
    MapType.QUEUE: QueueStack,
    MapType.STACK: QueueStack,
}


def make_table(bpf: Any, m: Map, name: str, builder: CtypesBuilder | None, key_type_id: int = 0,
               value_type_id: int = 0) -> TableBase:
    """The bcc table for live map ``m`` (``builder`` makes Key/Leaf from the object's BTF)."""
    cls = TABLE_CLASSES.get(m.type, HashTable)
    key = builder.build(key_type_id) if builder is not None and key_type_id else raw_type(m.key_size)
    leaf = builder.build(value_type_id) if builder is not None and value_type_id else raw_type(m.value_size)
    return cls(bpf, m, name, key, leaf)


__all__ = [
    "Array", "HashTable", "LpmTrie", "LruHash", "LruPerCpuHash", "PerCpuArray", "PerCpuHash", "PerfEventArray",
    "ProgArray", "QueueStack", "RingBuf", "StackTrace", "TABLE_CLASSES", "TableBase", "TableError", "make_table",
]
