"""The base of bcc-style tables: a map seen through ctypes ``Key``/``Leaf`` classes."""

from __future__ import annotations

import ctypes as ct
import os
from typing import Any, Callable, Iterator

from ..._sys.fd import FD
from ...errors import BPFError
from ...map import Map
from .. import output


class TableError(BPFError, AttributeError):
    """A table operation this table kind does not have (or a key/value of the wrong shape)."""


def raw_view(m: Map) -> Map:
    """A second handle on ``m`` that reads and writes raw bytes (no BTF codecs)."""
    fd = FD(os.dup(m.fileno()), kind="map")
    return Map(fd, m.type, m.key_size, m.value_size, m.max_entries, flags=m.flags, name=m.name)


def as_bytes(raw: bytes | int, size: int) -> bytes:
    """A raw map item (the raw codec gives 1/2/4/8-byte items as ints) as ``size`` bytes."""
    if isinstance(raw, int):
        return raw.to_bytes(size, "little", signed=raw < 0)
    return bytes(raw)


class TableBase:
    """A bcc table: ``Key``/``Leaf`` are ctypes classes built from the map's BTF; keys and
    values come back as their instances (``k.value`` for integers, fields for structs).

    ``table[key]``, ``table[key] = leaf``, ``del table[key]``, ``in``, ``len()``, iteration
    over keys, ``items()``/``keys()``/``values()``, ``clear()``, ``zero()``,
    ``items_lookup_batch()``, ``increment(key)`` and the histogram printers.
    """

    def __init__(self, bpf: Any, m: Map, name: str, key_type: Any, leaf_type: Any) -> None:
        self.bpf = bpf
        self.name = name
        #: the map with its BTF codecs (the table reads and writes through ``map``, a raw view)
        self.source = m
        self.map = raw_view(m)
        self.Key = key_type
        self.Leaf = leaf_type
        self.max_entries = m.max_entries
        self.flags = int(m.flags)

    # ---- conversions ---------------------------------------------------------------------

    def _key_bytes(self, key: Any) -> bytes:
        if isinstance(key, (bytes, bytearray)):
            raw = bytes(key)
        elif isinstance(key, int):
            raw = bytes(self.Key(key))
        elif isinstance(key, ct._SimpleCData) or isinstance(key, (ct.Structure, ct.Union, ct.Array)):
            raw = bytes(key)
        else:
            raise TableError(f"table {self.name!r}: a key is a {self.Key.__name__} (or an int); got {type(key).__name__}")
        if len(raw) != self.map.key_size:
            raise TableError(f"table {self.name!r}: keys are {self.map.key_size} bytes, got {len(raw)}")
        return raw

    def _leaf_bytes(self, leaf: Any, size: int | None = None) -> bytes:
        size = self.map.value_size if size is None else size
        raw = bytes(self.Leaf(leaf)) if isinstance(leaf, int) else bytes(leaf)
        if len(raw) != size:
            raise TableError(f"table {self.name!r}: values are {size} bytes, got {len(raw)}")
        return raw

    def _key(self, raw: bytes | int) -> Any:
        return self.Key.from_buffer_copy(as_bytes(raw, self.map.key_size))

    def _leaf(self, raw: Any) -> Any:
        return self.Leaf.from_buffer_copy(as_bytes(raw, self.map.value_size))

    # ---- mapping ----------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        raw = self.map.lookup(self._key_bytes(key))
        if raw is None:
            raise KeyError(key)
        return self._leaf(raw)

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: Any, leaf: Any) -> None:
        self.map[self._key_bytes(key)] = self._leaf_bytes(leaf)

    def __delitem__(self, key: Any) -> None:
        del self.map[self._key_bytes(key)]

    def __contains__(self, key: object) -> bool:
        return self.map.lookup(self._key_bytes(key)) is not None

    def __len__(self) -> int:
        return len(self.map)

    def __iter__(self) -> Iterator[Any]:
        for raw in list(self.map.keys()):
            yield self._key(raw)

    def keys(self) -> list[Any]:
        return list(self)

    def items(self) -> list[tuple[Any, Any]]:
        """``(Key, Leaf)`` pairs of every entry now in the table."""
        return [(self._key(k), self._leaf(v)) for k, v in self.map.iter_items()]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def itervalues(self) -> Iterator[Any]:
        return iter(self.values())

    def iteritems(self) -> Iterator[tuple[Any, Any]]:
        return iter(self.items())

    def items_lookup_batch(self) -> Iterator[tuple[Any, Any]]:
        """Entries read with BPF_MAP_LOOKUP_BATCH (one syscall per chunk)."""
        for k, v in self.map.iter_items(use_batch=True):
            yield self._key(k), self._leaf(v)

    def items_lookup_and_delete_batch(self) -> Iterator[tuple[Any, Any]]:
        """Entries read, then deleted (bcc: BPF_MAP_LOOKUP_AND_DELETE_BATCH)."""
        got = list(self.items_lookup_batch())
        for k, _ in got:
            try:
                del self[k]
            except KeyError:
                pass
        yield from got

    def items_delete_batch(self, ct_keys: Any = None) -> None:
        """Delete ``ct_keys`` (all entries when None)."""
        if ct_keys is None:
            self.clear()
            return
        for k in ct_keys:
            del self[k]

    def clear(self) -> None:
        """Remove every entry (arrays: zero every slot)."""
        self.map.clear()

    def zero(self) -> None:
        """Set the value of every present entry to zero."""
        zero = bytes(self.map.value_size)
        for k in list(self.map.keys()):
            self.map[k] = zero

    def increment(self, key: Any, increment: int = 1) -> None:
        """``table[key] += increment`` (the entry is created at 0 when missing; not atomic)."""
        current = self.get(key)
        base = int(getattr(current, "value", 0)) if current is not None else 0
        self[key] = self.Leaf(base + increment)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        known = sorted(n for n in dir(type(self)) if not n.startswith("_"))
        raise TableError(f"{type(self).__name__} {self.__dict__.get('name', '?')!r} has no method {name!r}; "
                         f"it has: {', '.join(known)}")

    def close(self) -> None:
        self.map.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} key={self.Key.__name__} leaf={self.Leaf.__name__}>"

    # ---- histograms ------------------------------------------------------------------------

    def _slot_fields(self) -> tuple[str, str]:
        fields = [f[0] for f in self.Key._fields_]
        first, second = fields[0], fields[1]
        if second.startswith("__pad_") and len(fields) == 3:
            second = fields[2]
        return first, second

    def _sections(self, size: int, bucket_fn: Callable[[Any], Any] | None,
                  bucket_sort_fn: Callable[[list[Any]], list[Any]] | None) -> list[tuple[Any, list[int]]] | None:
        """Per-section bucket counts when keys are (section, slot) structs; None for plain keys."""
        if not issubclass(self.Key, ct.Structure):
            return None
        f1, f2 = self._slot_fields()
        tmp: dict[Any, list[int]] = {}
        for k, v in self.items():
            bucket = getattr(k, f1)
            if bucket_fn:
                bucket = bucket_fn(bucket)
            vals = tmp.setdefault(bucket, [0] * size)
            vals[getattr(k, f2)] = _count(v)
        buckets = list(tmp)
        if bucket_sort_fn:
            buckets = bucket_sort_fn(buckets)
        return [(b, tmp[b]) for b in buckets]

    def _plain(self, size: int, what: str) -> list[int]:
        vals = [0] * size
        for k, v in self.items():
            slot = int(k.value)
            if not 0 <= slot < size:
                raise TableError(f"table {self.name!r}: bucket {slot} is outside a {what} histogram (0..{size - 1})")
            vals[slot] = _count(v)
        return vals

    def format_log2_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                         section_print_fn: Callable[[Any], Any] | None = None,
                         bucket_fn: Callable[[Any], Any] | None = None, strip_leading_zero: bool | None = None,
                         bucket_sort_fn: Callable[[list[Any]], list[Any]] | None = None) -> str:
        """The text :meth:`print_log2_hist` prints."""
        sections = self._sections(output.LOG2_INDEX_MAX, bucket_fn, bucket_sort_fn)
        if sections is None:
            return output.format_log2_hist(self._plain(output.LOG2_INDEX_MAX, "log2"), val_type, strip_leading_zero)
        parts = []
        for bucket, vals in sections:
            parts.append(output.section_title(section_header, bucket, section_print_fn))
            parts.append(output.format_log2_hist(vals, val_type, strip_leading_zero))
        return "\n".join(p for p in parts if p)

    def print_log2_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                        section_print_fn: Callable[[Any], Any] | None = None,
                        bucket_fn: Callable[[Any], Any] | None = None, strip_leading_zero: bool | None = None,
                        bucket_sort_fn: Callable[[list[Any]], list[Any]] | None = None) -> None:
        """Print a log2 histogram of this table (keys: slots, or (section, slot) structs)."""
        _emit(self.format_log2_hist(val_type, section_header, section_print_fn, bucket_fn, strip_leading_zero,
                                    bucket_sort_fn))

    def format_linear_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                           section_print_fn: Callable[[Any], Any] | None = None,
                           bucket_fn: Callable[[Any], Any] | None = None, strip_leading_zero: bool | None = None,
                           bucket_sort_fn: Callable[[list[Any]], list[Any]] | None = None) -> str:
        """The text :meth:`print_linear_hist` prints."""
        sections = self._sections(output.LINEAR_INDEX_MAX, bucket_fn, bucket_sort_fn)
        if sections is None:
            return output.format_linear_hist(self._plain(output.LINEAR_INDEX_MAX, "linear"), val_type,
                                             strip_leading_zero)
        parts = []
        for bucket, vals in sections:
            parts.append(output.section_title(section_header, bucket, section_print_fn))
            parts.append(output.format_linear_hist(vals, val_type, strip_leading_zero))
        return "\n".join(p for p in parts if p)

    def print_linear_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                          section_print_fn: Callable[[Any], Any] | None = None,
                          bucket_fn: Callable[[Any], Any] | None = None, strip_leading_zero: bool | None = None,
                          bucket_sort_fn: Callable[[list[Any]], list[Any]] | None = None) -> None:
        """Print a linear histogram of this table (bucket ``i`` counts value ``i``)."""
        _emit(self.format_linear_hist(val_type, section_header, section_print_fn, bucket_fn, strip_leading_zero,
                                      bucket_sort_fn))

    def print_json_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                        section_print_fn: Callable[[Any], Any] | None = None,
                        bucket_fn: Callable[[Any], Any] | None = None,
                        bucket_sort_fn: Callable[[list[Any]], list[Any]] | None = None) -> None:
        """Print the log2 histogram as bcc's dict (``ts``, ``val_type``, ``data`` intervals)."""
        sections = self._sections(output.LOG2_INDEX_MAX, bucket_fn, bucket_sort_fn)
        if sections is None:
            print(output.json_hist(self._plain(output.LOG2_INDEX_MAX, "log2"), val_type))
            return
        for bucket, vals in sections:
            shown = section_print_fn(bucket) if section_print_fn else bucket
            print(output.json_hist(vals, val_type, (section_header, shown)))


def _count(leaf: Any) -> int:
    return int(leaf.value) if hasattr(leaf, "value") else int.from_bytes(bytes(leaf)[:8], "little")


def _emit(text: str) -> None:
    if text:
        print(text)


__all__ = ["TableBase", "TableError", "as_bytes", "raw_view"]
