"""bcc's table classes for keyed maps: hashes, arrays, their per-CPU and LRU variants, LPM
tries, stack traces, program arrays, queues and stacks."""

from __future__ import annotations

import ctypes as ct
from typing import Any, Iterator

from ...errors import MapOperationError
from .base import TableBase, TableError, as_bytes


class HashTable(TableBase):
    """BPF_HASH / BPF_HISTOGRAM with struct keys."""


class LruHash(HashTable):
    """BPF_LRU_HASH (least recently used entries are evicted when full)."""


class LpmTrie(TableBase):
    """BPF_LPM_TRIE: keys are ``(prefixlen, data)`` structs; lookups match the longest prefix."""


class Array(TableBase):
    """BPF_ARRAY / BPF_HISTOGRAM: every slot exists; ``del`` zeroes a slot; ``len`` is the size."""

    def _key_bytes(self, key: Any) -> bytes:
        if isinstance(key, int):
            if not 0 <= key < self.max_entries:
                raise IndexError(f"array {self.name!r} has slots 0..{self.max_entries - 1}, not {key}")
        return super()._key_bytes(key)

    def __len__(self) -> int:
        return self.max_entries

    def __delitem__(self, key: Any) -> None:
        self[key] = self.Leaf.from_buffer_copy(bytes(self.map.value_size))

    def __iter__(self) -> Iterator[Any]:
        for i in range(self.max_entries):
            yield self.Key(i)

    def zero(self) -> None:
        self.clear()


class _PerCpu(TableBase):
    """Values are one ``Leaf`` per possible CPU: ``table[k]`` is that list; ``sum``/``max``/
    ``average`` reduce it; assigning a single Leaf writes it on every CPU."""

    def _leaf(self, raw: Any) -> Any:
        size = ct.sizeof(self.Leaf)
        return [self.Leaf.from_buffer_copy(as_bytes(r, size)[:size]) for r in raw]

    def _leaf_bytes(self, leaf: Any, size: int | None = None) -> Any:
        if isinstance(leaf, (list, tuple)):
            return [bytes(self.Leaf(v)) if isinstance(v, int) else bytes(v) for v in leaf]
        return super()._leaf_bytes(leaf)

    def _reduce(self, key: Any, fn: Any) -> Any:
        values = [int(v.value) for v in self[key]]
        return self.Leaf(fn(values))

    def sum(self, key: Any) -> Any:
        """The sum over CPUs of ``table[key]`` (as a Leaf)."""
        return self._reduce(key, sum)

    def max(self, key: Any) -> Any:
        return self._reduce(key, max)

    def average(self, key: Any) -> Any:
        return self._reduce(key, lambda v: sum(v) // len(v) if v else 0)

    def increment(self, key: Any, increment: int = 1) -> None:
        raise TableError(f"per-CPU table {self.name!r}: increment from userspace is not defined; "
                         "write a list with one value per CPU instead")


class PerCpuHash(_PerCpu, HashTable):
    """BPF_PERCPU_HASH."""


class LruPerCpuHash(PerCpuHash):
    """BPF_TABLE("lru_percpu_hash", ...)."""


class PerCpuArray(_PerCpu, Array):
    """BPF_PERCPU_ARRAY."""


class StackTrace(TableBase):
    """BPF_STACK_TRACE: ``walk(stack_id)`` yields the stack's addresses, innermost first."""

    def walk(self, stack_id: int) -> Iterator[int]:
        from ...stacks import StackTraceMap

        yield from StackTraceMap(self.map).stack(stack_id)

    def __getitem__(self, key: Any) -> Any:
        return list(self.walk(int(getattr(key, "value", key))))

    def clear(self) -> None:
        for k in list(self.map.keys()):
            try:
                del self.map[k]
            except (KeyError, MapOperationError):
                pass


class ProgArray(Array):
    """BPF_PROG_ARRAY: ``table[i] = fn`` (a loaded function or its fd) sets a tail call target."""

    def __setitem__(self, key: Any, leaf: Any) -> None:
        fd = getattr(leaf, "fd", leaf)
        fd = int(getattr(fd, "value", fd)) if not hasattr(fd, "fileno") else fd.fileno()
        self.map[self._key_bytes(key)] = fd

    def __getitem__(self, key: Any) -> Any:
        raise TableError(f"program array {self.name!r} cannot be read back from userspace")

    def __delitem__(self, key: Any) -> None:
        del self.map[self._key_bytes(key)]


class QueueStack(TableBase):
    """BPF_QUEUE / BPF_STACK: ``push(leaf)``, ``pop()``, ``peek()``, ``itervalues()`` (pops)."""

    def push(self, leaf: Any, flags: int = 0) -> None:
        self.map.push(self._leaf_bytes(leaf), overwrite=bool(flags))

    def pop(self) -> Any:
        try:
            return self._leaf(self.map.pop())
        except (IndexError, KeyError):
            raise KeyError("pop from an empty queue/stack") from None

    def peek(self) -> Any:
        try:
            return self._leaf(self.map.peek())
        except (IndexError, KeyError):
            raise KeyError("peek into an empty queue/stack") from None

    def itervalues(self) -> Iterator[Any]:
        while True:
            try:
                yield self.pop()
            except KeyError:
                return

    def values(self) -> list[Any]:
        return list(self.itervalues())

    def __len__(self) -> int:
        raise TableError(f"queue/stack {self.name!r} has no length; pop values with itervalues()")


__all__ = ["Array", "HashTable", "LpmTrie", "LruHash", "LruPerCpuHash", "PerCpuArray", "PerCpuHash", "ProgArray",
           "QueueStack", "StackTrace"]
