"""``VMMap``: a userspace map with the same API as :class:`pybpf.map.Map`.

Two faces: the user's (a ``MutableMapping`` of decoded keys and values through the codecs of
:mod:`pybpf.maps.codec`, ``push/pop/peek`` for queues, ``in`` for bloom filters) and the
program's (``bpf_*`` methods on raw bytes returning kernel-style results: an address of the
value's region, or 0 / a negative errno). Every value lives in its own region of the VM's
:class:`~pybpf.vm.memory.Memory`, so a program's accesses to it are bounds-checked.
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from typing import TYPE_CHECKING, Any

from ...enums import MapFlags, MapType
from ...errors import MapEncodingError, MapFullError, MapOperationError
from ...maps.codec import BTFCodec, Codec, FdCodec, LPMKeyCodec, PerCPUCodec, PerCPUValues, RawCodec
from ...maps.kinds import Access, MapKind, kind_of

if TYPE_CHECKING:
    from types import TracebackType

    from ...btf import BTF
    from ..memory import Memory, Region

__all__ = ["VMMap", "MAP_TAG", "UpdateFlag", "PerCPUValues"]

#: a map pointer in a register: MAP_TAG | handle (never a mapped address)
MAP_TAG = 0xE << 60

_MISSING: Any = object()


class UpdateFlag:
    """``flags`` of map_update_elem (BPF_ANY, BPF_NOEXIST, BPF_EXIST)."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2


class VMMap(MutableMapping[Any, Any]):
    """Base class of the VM's maps (one subclass per family, see :mod:`pybpf.vm.maps`)."""

    def __init__(self, memory: Memory, handle: int, map_type: MapType, key_size: int, value_size: int,
                 max_entries: int, *, flags: MapFlags = MapFlags.NONE, name: str = "", btf: BTF | None = None,
                 key_type_id: int = 0, value_type_id: int = 0, ncpus: int = 1) -> None:
        self.memory = memory
        self.handle = handle
        self.type = MapType(map_type)
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = MapFlags(flags)
        self.name = name
        self.btf = btf
        self.key_type_id = key_type_id
        self.value_type_id = value_type_id
        self.ncpus = ncpus
        self.kind: MapKind = kind_of(self.type)
        self.pinned_path: str | None = None
        self._key_codec: Codec = self._make_key_codec()
        self._elem_codec: Codec = self._make_value_codec()
        self._value_codec: Codec = PerCPUCodec(self._elem_codec, ncpus) if self.kind.percpu else self._elem_codec
        self._closed = False
        self._finalizer = weakref.finalize(self, lambda: None)

    # ---- identity / resource (the kernel Map's surface) --------------------------------

    @property
    def fd(self) -> int:
        """The map's handle (what prog arrays and map-in-maps store; the VM's "fd")."""
        return self.handle

    @property
    def id(self) -> int:
        return self.handle

    @property
    def address(self) -> int:
        """The value a program's register holds for this map."""
        return MAP_TAG | self.handle

    def fileno(self) -> int:
        return self.handle

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> VMMap:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<VMMap {self.type.name} {self.name!r} key_size={self.key_size} value_size={self.value_size} "
                f"max_entries={self.max_entries}>")

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def freeze(self) -> None:
        """Make the map read-only for user space (programs can still write it)."""
        self.flags |= MapFlags.RDONLY

    # ---- codecs ------------------------------------------------------------------------

    def _make_key_codec(self) -> Codec:
        if self.btf is not None and self.key_type_id:
            return BTFCodec(self.btf, self.key_type_id, self.key_size, what="key")
        if self.kind.lpm:
            return LPMKeyCodec(self.key_size)
        return RawCodec(max(self.key_size, 0), what="key")

    def _make_value_codec(self) -> Codec:
        if self.kind.fd_target:
            return FdCodec(self.value_size, self.kind.fd_target)
        if self.btf is not None and self.value_type_id:
            return BTFCodec(self.btf, self.value_type_id, self.value_size, what="value")
        return RawCodec(self.value_size, what="value")

    def encode_key(self, key: object) -> bytes:
        return self._key_codec.encode(key)

    def encode_value(self, value: object) -> bytes:
        return self._value_codec.encode(value)

    def decode_key(self, raw: bytes) -> Any:
        return self._key_codec.decode(raw)

    def decode_value(self, raw: bytes) -> Any:
        return self._value_codec.decode(raw)

    # ---- the program's side (raw bytes; overridden per family) ---------------------------

    def bpf_lookup(self, key: bytes, cpu: int) -> int:
        """Address of the value for ``key`` (this CPU's slot for per-CPU maps), 0 if absent."""
        return 0

    def bpf_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -errno.EINVAL

    def bpf_delete(self, key: bytes) -> int:
        return -errno.EINVAL

    def bpf_push(self, value: bytes, flags: int) -> int:
        return -errno.EINVAL

    def bpf_pop(self, delete: bool) -> bytes | None:
        return None

    # ---- the user's side (raw bytes; overridden per family) ------------------------------

    def raw_get(self, key: bytes) -> bytes | None:
        """Every CPU's slot (per-CPU maps) or the value's bytes; None if absent."""
        return None

    def raw_set(self, key: bytes, value: bytes, flags: int) -> int:
        return -errno.EINVAL

    def raw_keys(self) -> Iterator[bytes]:
        return iter(())

    # ---- user API (same as pybpf.map.Map) ------------------------------------------------

    def _require(self, *access: Access) -> None:
        if self.kind.access not in access:
            have = {
                Access.KEYED: "use m[key], m[key] = value and iteration",
                Access.QUEUE: "use push(), pop() and peek()",
                Access.BLOOM: "use push() and `value in m`",
                Access.NONE: self.kind.hint or "user space cannot access its elements",
            }[self.kind.access]
            wanted = "/".join(a.value for a in access)
            raise MapOperationError(f"{self.type.name} map {self.name!r} has no {wanted} access: {have}")

    def _check(self, rc: int, key: object = None) -> None:
        if rc >= 0:
            return
        where = f"{self.type.name} map {self.name!r}"
        if rc == -errno.E2BIG and self.kind.indexed:
            raise MapEncodingError(f"index {key!r} is out of range for {where} (max_entries={self.max_entries})")
        if rc == -errno.E2BIG:
            raise MapFullError("BPF_MAP_UPDATE_ELEM", errno.E2BIG,
                               f"{where} is full: it already holds max_entries={self.max_entries} elements; "
                               "delete some, or create it with a larger max_entries", max_entries=self.max_entries)
        if rc == -errno.EEXIST:
            raise MapOperationError(f"{where} already has key {key!r} (flags=NOEXIST)")
        if rc == -errno.ENOENT:
            raise KeyError(key)
        raise MapOperationError(f"{where}: operation failed with {errno.errorcode.get(-rc, -rc)}")

    def lookup(self, key: object, default: Any = None) -> Any:
        self._require(Access.KEYED)
        raw = self.raw_get(self._key_codec.encode(key))
        return default if raw is None else self._value_codec.decode(raw)

    def __getitem__(self, key: object) -> Any:
        value = self.lookup(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: object, default: Any = None) -> Any:
        return self.lookup(key, default)

    def set(self, key: object, value: object, *, flags: int = UpdateFlag.ANY) -> None:
        """Write one element; ``flags`` NOEXIST (1: only insert) or EXIST (2: only replace)."""
        self._require(Access.KEYED)
        if self.flags & MapFlags.RDONLY:
            raise MapOperationError(f"{self.type.name} map {self.name!r} is frozen or read-only for user space")
        self._check(self.raw_set(self._key_codec.encode(key), self._value_codec.encode(value), int(flags)), key)

    def __setitem__(self, key: object, value: object) -> None:
        self.set(key, value)

    def __delitem__(self, key: object) -> None:
        self._require(Access.KEYED)
        if self.kind.fixed:
            raise MapOperationError(
                f"elements of {self.type.name} map {self.name!r} cannot be deleted; assign zero instead")
        if self.bpf_delete(self._key_codec.encode(key)) < 0:
            raise KeyError(key)

    def __contains__(self, item: object) -> bool:
        if self.kind.access is Access.BLOOM:
            return self._bloom_has(self._value_codec.encode(item))
        self._require(Access.KEYED)
        try:
            key = self._key_codec.encode(item)
        except MapEncodingError:
            return False
        return self.raw_get(key) is not None

    def _bloom_has(self, value: bytes) -> bool:
        return False

    def iter_items(self, *, use_batch: bool = True) -> Iterator[tuple[Any, Any]]:
        self._require(Access.KEYED)
        for raw in list(self.raw_keys()):
            value = self.raw_get(raw)
            if value is not None:
                yield self._key_codec.decode(raw), self._value_codec.decode(value)

    def __iter__(self) -> Iterator[Any]:
        self._require(Access.KEYED)
        for raw in list(self.raw_keys()):
            yield self._key_codec.decode(raw)

    def __len__(self) -> int:
        if self.kind.fixed:
            return self.max_entries
        self._require(Access.KEYED)
        return sum(1 for _ in self.raw_keys())

    def keys(self) -> KeysView[Any]:
        return KeysView(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)

    def items(self) -> ItemsView[Any, Any]:
        return _Items(self)

    def update(self, other: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (), /, **kwargs: Any) -> None:
        self._require(Access.KEYED)
        pairs = list(other.items() if isinstance(other, Mapping) else other) + list(kwargs.items())
        for key, value in pairs:
            self.set(key, value)

    def clear(self) -> None:
        if self.kind.access is Access.QUEUE:
            while self.bpf_pop(True) is not None:
                pass
            return
        self._require(Access.KEYED)
        if self.kind.fixed:
            zero = bytes(self._value_codec.size)
            for i in range(self.max_entries):
                self.raw_set(i.to_bytes(4, "little"), zero, 0)
            return
        for raw in list(self.raw_keys()):
            self.bpf_delete(raw)

    def push(self, value: object, *, overwrite: bool = False) -> None:
        """QUEUE/STACK/BLOOM_FILTER: add ``value``. ``overwrite`` drops the oldest when full."""
        self._require(Access.QUEUE, Access.BLOOM)
        self._check(self.bpf_push(self._value_codec.encode(value), UpdateFlag.EXIST if overwrite else 0))

    def pop(self, key: object = _MISSING, default: Any = _MISSING) -> Any:
        if self.kind.access is Access.QUEUE:
            if key is not _MISSING and default is _MISSING:
                default = key
            raw = self.bpf_pop(True)
            if raw is None:
                if default is not _MISSING:
                    return default
                raise IndexError(f"pop from an empty {self.type.name} map {self.name!r}")
            return self._value_codec.decode(raw)
        if key is _MISSING:
            raise TypeError("pop() needs a key for a keyed map")
        value = self.lookup(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        del self[key]
        return value

    def peek(self, default: Any = _MISSING) -> Any:
        self._require(Access.QUEUE)
        raw = self.bpf_pop(False)
        if raw is None:
            if default is not _MISSING:
                return default
            raise IndexError(f"peek into an empty {self.type.name} map {self.name!r}")
        return self._value_codec.decode(raw)

    def load_contents(self, contents: Mapping[Any, Any], *, resolve: Any = None) -> None:
        """Write initial slots: bytes as they are; a name (program/map) through ``resolve``."""
        for key, value in contents.items():
            if isinstance(value, str):
                if resolve is None:
                    raise MapOperationError(f"slot {key} of map {self.name!r} names {value!r}; pass resolve=")
                value = resolve(value)
            self[key] = value

    def format(self) -> str:
        """Every entry, one per line."""
        return "\n".join(f"{k!r}: {v!r}" for k, v in self.iter_items())

    # ---- region helpers for subclasses ---------------------------------------------------

    def _new_region(self, data: bytes | None, size: int, label: str, *, writable: bool = True) -> Region:
        buf = bytearray(size) if data is None else bytearray(data)
        return self.memory.map(buf, f"a value of map {self.name!r}{label}", writable=writable)


class _Items(ItemsView[Any, Any]):
    _mapping: VMMap

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping.iter_items()


class _Values(ValuesView[Any]):
    _mapping: VMMap

    def __iter__(self) -> Iterator[Any]:
        for _k, v in self._mapping.iter_items():
            yield v
