"""``Map``: a live eBPF map that behaves like a Python dict.

>>> from pybpf.map import Map                                 # doctest: +SKIP
>>> from pybpf.enums import MapType
>>> with Map.create(MapType.HASH, 4, 8, 1024, name="counts") as m:
...     m[1] = 10
...     m.update({2: 20, 3: 30})      # one BPF_MAP_UPDATE_BATCH when the kernel has it
...     dict(m.items())                # dumped with BPF_MAP_LOOKUP_BATCH, per key otherwise
{1: 10, 2: 20, 3: 30}

Keys and values go through their BTF types when the map has them (structs decode to
objects with attribute access); without BTF a 1/2/4/8-byte key or value is an ``int`` and any
other size is ``bytes`` (see :mod:`pybpf.maps.codec`). Per-CPU maps give a
:class:`PerCPUValues` list per key. Queues and stacks have ``push/pop/peek``; bloom filters
``push`` and ``in``; prog arrays and map-in-maps take a ``Program``/``Map`` (or fd) on write
and give its id on read.
"""

from __future__ import annotations

import errno
import os
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _sys
from ._lifetime import Finalized
from ._log import get_logger
from ._sys import FD, FdLike, ObjectKind, UpdateFlags
from ._sys.map_probe import map_lookup_value
from .enums import MapFlags, MapType
from .errors import (
    BPFError, MapEncodingError, MapFullError, MapOperationError, SyscallError,
)
from .maps import batch
from .maps.api import MapAPI
from .maps.codec import LPMKey, PerCPUValues
from .maps.create import create_fd, required, type_id_of
from .maps.info import MapInfo, kernel_btf_of
from .maps.kinds import Access, kind_of

if TYPE_CHECKING:
    from .btf import BTF
    from .spec import MapSpec

log = get_logger("pybpf.map")

__all__ = ["LPMKey", "Map", "MapInfo", "PerCPUValues"]

class Map(Finalized, MapAPI):
    """A map in the kernel, owning its fd; a ``MutableMapping`` for keyed map types.

    Make one with :meth:`create`, :meth:`from_spec`, :meth:`from_pin`, :meth:`from_id` or
    :meth:`from_fd`. Closing (``close()``, a ``with`` block, or garbage collection) releases
    the fd; the kernel frees the map once nothing else (a program, a pin) holds it.
    """

    #: entries per BPF_MAP_*_BATCH call
    batch_size: int = 4096

    def __init__(
        self,
        fd: FD,
        map_type: MapType,
        key_size: int,
        value_size: int,
        max_entries: int,
        *,
        flags: MapFlags = MapFlags.NONE,
        name: str = "",
        btf: BTF | None = None,
        key_type_id: int = 0,
        value_type_id: int = 0,
        map_id: int = 0,
    ) -> None:
        self.fd = fd
        self._id = map_id
        self._describe(map_type, key_size, value_size, max_entries, flags=flags, name=name, btf=btf,
                       key_type_id=key_type_id, value_type_id=value_type_id,
                       ncpus=_sys.possible_cpus() if kind_of(MapType(map_type)).percpu else 1)
        self._finalizer = weakref.finalize(self, fd.close)

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        map_type: MapType,
        key_size: int | None = None,
        value_size: int | None = None,
        max_entries: int | None = None,
        *,
        flags: MapFlags = MapFlags.NONE,
        name: str = "",
        inner_map: Map | FdLike | None = None,
        map_extra: int = 0,
        numa_node: int = 0,
        btf: BTF | None = None,
        key_type: int | str = 0,
        value_type: int | str = 0,
        btf_fd: FdLike | None = None,
    ) -> Map:
        """BPF_MAP_CREATE, without any ELF object.

        ``key_type``/``value_type`` (BTF type ids or names in ``btf``) make the kernel and
        this object know the types; sizes then default to the types' sizes. ``btf`` is loaded
        into the kernel unless ``btf_fd`` (the same BTF, already loaded) is given.
        ``inner_map`` is the template of a map-in-map.

        >>> m = Map.create(MapType.ARRAY, 4, 8, 16, name="arr")   # doctest: +SKIP
        """
        map_type = MapType(map_type)
        key_id = type_id_of(btf, key_type)
        value_id = type_id_of(btf, value_type)
        if key_size is None:
            key_size = btf.size_of(key_id) if btf is not None and key_id else required("key_size", map_type)
        if value_size is None:
            value_size = btf.size_of(value_id) if btf is not None and value_id else required("value_size", map_type)
        if max_entries is None:
            max_entries = required("max_entries", map_type)
        inner_fd = None
        if inner_map is not None:
            inner_fd = inner_map.fd if isinstance(inner_map, Map) else inner_map
        loaded = None
        if btf is not None and (key_id or value_id) and btf_fd is None:
            loaded = _sys.btf_load(btf.to_bytes()).fd
            btf_fd = loaded
        try:
            fd = create_fd(
                map_type, key_size, value_size, max_entries, flags=flags, name=name, inner_map_fd=inner_fd,
                map_extra=map_extra, numa_node=numa_node, btf_fd=btf_fd, key_type_id=key_id,
                value_type_id=value_id,
            )
        finally:
            if loaded is not None:
                loaded.close()  # the map holds its own reference to the BTF
        return cls(
            fd, map_type, key_size, value_size, max_entries, flags=flags, name=name, btf=btf,
            key_type_id=key_id, value_type_id=value_id,
        )

    @classmethod
    def from_spec(
        cls,
        spec: MapSpec,
        *,
        btf: BTF | None = None,
        btf_fd: FdLike | None = None,
        inner_map_fd: FdLike | None = None,
        pin_path: str | os.PathLike[str] | None = None,
    ) -> Map:
        """Create the map ``spec`` describes (what the loader calls for each map of an object).

        With ``btf_fd`` (the object's BTF, loaded) the map gets its BTF key/value types;
        ``btf`` (the same BTF, parsed) lets this object decode values. ``spec.data`` is written
        (and the map frozen if ``spec.freeze``); ``spec.contents`` given as bytes are written,
        slots naming a program or map are left for :meth:`load_contents`. With
        ``spec.pinning`` BY_NAME and ``pin_path``, a compatible map pinned at
        ``pin_path/spec.name`` is reused (:class:`~pybpf.errors.PinMismatchError` when it is
        not compatible), else the new map is pinned there.
        """
        from .maps.create import map_from_spec

        return map_from_spec(cls, spec, btf=btf, btf_fd=btf_fd, inner_map_fd=inner_map_fd, pin_path=pin_path)

    @classmethod
    def from_fd(cls, fd: FD | int, *, btf: BTF | bool = True, name: str = "") -> Map:
        """Take ownership of a map fd. ``btf=True`` reads the map's BTF from the kernel (if it has
        one) to decode keys and values; pass a parsed ``BTF`` instead, or False for raw values."""
        owned = fd if isinstance(fd, FD) else FD(fd, kind="map")
        try:
            info = MapInfo.from_fd(owned)
        except BaseException:
            owned.close()
            raise
        parsed: BTF | None = None
        if btf is True and info.btf_id:
            parsed = kernel_btf_of(info.btf_id)
        elif btf is not True and btf is not False:
            parsed = btf
        self_btf = parsed if parsed is not None and (info.btf_key_type_id or info.btf_value_type_id) else None
        try:
            return cls(
                owned, info.type, info.key_size, info.value_size, info.max_entries, flags=info.flags,
                name=name or info.name, btf=self_btf,
                key_type_id=info.btf_key_type_id if self_btf else 0,
                value_type_id=info.btf_value_type_id if self_btf else 0, map_id=info.id,
            )
        except BaseException:
            owned.close()
            raise

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str], *, btf: BTF | bool = True) -> Map:
        """Open the map pinned at ``path`` (in a bpf filesystem)."""
        m = cls.from_fd(_sys.obj_get(path, kind="map"), btf=btf)
        m.pinned_path = os.fspath(path)
        return m

    @classmethod
    def from_id(cls, map_id: int, *, btf: BTF | bool = True) -> Map:
        """Open the map with kernel id ``map_id`` (needs CAP_SYS_ADMIN)."""
        try:
            fd = _sys.get_fd_by_id(ObjectKind.MAP, map_id)
        except SyscallError as exc:
            if exc.errno == errno.ENOENT:
                raise BPFError(f"no map with id {map_id} is loaded (it may have been freed)") from None
            raise
        return cls.from_fd(fd, btf=btf)

    # ---- resource ----------------------------------------------------------------------

    def fileno(self) -> int:
        """The map's fd number."""
        return self.fd.fileno()

    @property
    def closed(self) -> bool:
        return self.fd.closed

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self.fd.fileno()}"
        ident = f" id={self._id}" if self._id else ""
        name = f" {self.name!r}" if self.name else ""
        return (f"<Map {self.type.name}{name}{ident} key_size={self.key_size} value_size={self.value_size} "
                f"max_entries={self.max_entries} {state}>")

    # ---- kernel object -----------------------------------------------------------------

    @property
    def id(self) -> int:
        """The kernel's id of this map."""
        if not self._id:
            self._id = MapInfo.from_fd(self.fd).id
        return self._id

    def info(self) -> MapInfo:
        """The kernel's ``bpf_map_info`` for this map."""
        info = MapInfo.from_fd(self.fd)
        self._id = info.id
        return info

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the map at ``path`` in a bpf filesystem so it outlives this process."""
        _sys.obj_pin(self.fd, path)
        self.pinned_path = os.fspath(path)

    def unpin(self) -> None:
        """Remove the pin made by :meth:`pin` (or found by :meth:`from_pin`)."""
        if self.pinned_path is not None:
            os.unlink(self.pinned_path)
            self.pinned_path = None

    def freeze(self) -> None:
        """Make the map read-only for user space (BPF programs can still write it; kernel >= 5.2)."""
        _sys.map_freeze(self.fd)

    # ---- element access ----------------------------------------------------------------

    def _raw_lookup(self, key: bytes) -> bytes | None:
        return _sys.map_lookup_elem(self.fd, key, self._value_codec.size)

    def _raw_pop(self, delete: bool) -> bytes | None:
        # BPF_MAP_LOOKUP_AND_DELETE_ELEM pops, BPF_MAP_LOOKUP_ELEM peeks (no key for either)
        read = _sys.map_lookup_and_delete_elem if delete else _sys.map_lookup_elem
        return read(self.fd, None, self._value_codec.size)

    def _raw_bloom_has(self, value: bytes) -> bool:
        return map_lookup_value(self.fd, value)

    def set(self, key: object, value: object, *, flags: UpdateFlags = UpdateFlags.ANY) -> None:
        """Write one element; ``flags`` NOEXIST (only insert) or EXIST (only replace)."""
        self._require(Access.KEYED)
        k = self._key_codec.encode(key)
        v = self._value_codec.encode(value)
        try:
            _sys.map_update_elem(self.fd, k, v, flags=flags)
        except SyscallError as exc:
            raise self._write_error(exc, key) from None

    def __setitem__(self, key: object, value: object) -> None:
        self.set(key, value)

    def __delitem__(self, key: object) -> None:
        self._require(Access.KEYED)
        if self.kind.fixed:
            raise MapOperationError(
                f"elements of {self.type.name} map {self.name!r} cannot be deleted; assign zero instead"
            )
        try:
            deleted = _sys.map_delete_elem(self.fd, self._key_codec.encode(key))
        except SyscallError as exc:
            raise self._write_error(exc, key) from None
        if not deleted:
            raise KeyError(key)

    def _write_error(self, exc: SyscallError, key: object = None) -> BPFError:
        """A write failure, told in terms of this map."""
        where = f"{self.type.name} map {self.name!r}"
        if exc.errno == errno.E2BIG and self.kind.indexed:
            return MapEncodingError(f"index {key!r} is out of range for {where} (max_entries={self.max_entries})")
        if exc.errno == errno.E2BIG:
            return MapFullError(
                exc.command, errno.E2BIG,
                f"{where} is full: it already holds max_entries={self.max_entries} elements; delete some, "
                "or create it with a larger max_entries (spec.max_entries before load)",
                max_entries=self.max_entries,
            )
        if exc.errno in (errno.EPERM, errno.EACCES):
            return SyscallError(
                exc.command, exc.errno,
                f"{where} is frozen or read-only for user space (BPF_F_RDONLY / freeze()); "
                "only BPF programs can write it",
            )
        if exc.errno in (errno.EBADF, errno.EINVAL) and self.kind.fd_target:
            return SyscallError(
                exc.command, exc.errno,
                f"{where} stores {self.kind.fd_target}s: the fd given is not a compatible {self.kind.fd_target} "
                f"({exc})",
            )
        return exc

    # ---- iteration ---------------------------------------------------------------------

    def _batch_ok(self) -> bool:
        return self.kind.access is Access.KEYED and not self.kind.fd_target

    def _raw_chunks(self, use_batch: bool = True) -> Iterator[tuple[bytes, bytes, int]]:
        """All entries as packed ``(keys, values, count)`` chunks: batch ops, else per key."""
        vsize = self._value_codec.size
        chunks = (
            batch.lookup_batches(self.fd, self.type, self.key_size, vsize, self.batch_size)
            if use_batch and self._batch_ok() else None
        )
        if chunks is not None:
            for r in chunks:
                yield r.keys, r.values, r.count
            return
        key: bytes | None = None
        while (nxt := _sys.map_get_next_key(self.fd, key, self.key_size)) is not None:
            key = nxt
            raw = _sys.map_lookup_elem(self.fd, nxt, vsize)
            if raw is not None:  # deleted meanwhile, or an empty slot of an fd array
                yield nxt, raw, 1

    def _raw_keys(self) -> Iterator[bytes]:
        """Every key's bytes (per key via GET_NEXT_KEY when batch ops are unavailable)."""
        if self._batch_ok() and batch.batch_supported(self.type, "lookup") is not False:
            n = self.key_size
            for keys, _values, count in self._raw_chunks():
                yield from (keys[i * n:(i + 1) * n] for i in range(count))
            return
        if self.kind.fd_target:  # fd arrays list every index; keep the filled ones
            for keys, _values, _count in self._raw_chunks():
                yield keys
            return
        key: bytes | None = None
        while (nxt := _sys.map_get_next_key(self.fd, key, self.key_size)) is not None:
            key = nxt
            yield nxt

    def iter_items(self, *, use_batch: bool = True) -> Iterator[tuple[Any, Any]]:
        """Every ``(key, value)``, decoded a batch at a time.

        BPF_MAP_LOOKUP_BATCH is used when the kernel has it for this map type; ``use_batch=False``
        walks the map key by key (BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM) instead.
        """
        self._require(Access.KEYED)
        kc, vc = self._key_codec, self._value_codec
        for keys, values, count in self._raw_chunks(use_batch):
            yield from zip(kc.decode_many(keys, count), vc.decode_many(values, count))

    def __iter__(self) -> Iterator[Any]:
        self._require(Access.KEYED)
        decode = self._key_codec.decode
        for raw in self._raw_keys():
            yield decode(raw)

    def __len__(self) -> int:
        """Number of elements (ARRAY: max_entries; otherwise counted by walking the map)."""
        if self.kind.fixed:
            return self.max_entries
        self._require(Access.KEYED)
        if self.kind.fd_target or not self._batch_ok():
            return sum(1 for _ in self._raw_keys())
        return sum(count for _k, _v, count in self._raw_chunks())

    # ---- bulk writes -------------------------------------------------------------------

    def update(  # type: ignore[override]  # one signature for MutableMapping.update's five overloads
        self, other: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (), /, **kwargs: Any
    ) -> None:
        """Write many entries: BPF_MAP_UPDATE_BATCH (``batch_size`` at a time) when supported."""
        self._require(Access.KEYED)
        pairs = self._pairs(other, kwargs)
        if not pairs:
            return
        kc, vc = self._key_codec, self._value_codec
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start:start + self.batch_size]
            keys = kc.encode_many([k for k, _ in chunk])
            values = vc.encode_many([v for _, v in chunk])
            if self._write_batch(keys, values, len(chunk)):
                continue
            for key, value in chunk:
                self.set(key, value)

    def _write_batch(self, keys: bytes, values: bytes, count: int) -> bool:
        if not self._batch_ok() or count < 2:
            return False
        try:
            return batch.update_batch(self.fd, self.type, keys, values, count)
        except SyscallError as exc:
            raise self._write_error(exc) from None

    def _clear_fixed(self) -> None:
        zero = bytes(self._value_codec.size)
        idx = list(range(self.max_entries))
        for start in range(0, len(idx), self.batch_size):
            part = idx[start:start + self.batch_size]
            keys = self._key_codec.encode_many(part)
            if not self._write_batch(keys, zero * len(part), len(part)):
                for i in part:
                    self.set(i, zero)

    def _clear_keyed(self) -> None:
        raw_keys = list(self._raw_keys())
        n = self.key_size
        for start in range(0, len(raw_keys), self.batch_size):
            chunk = raw_keys[start:start + self.batch_size]
            if self._batch_ok() and batch.delete_batch(self.fd, self.type, b"".join(chunk), len(chunk)):
                continue
            for raw in chunk:
                _sys.map_delete_elem(self.fd, raw)
        log.debug("cleared %d entries (%d-byte keys) from %r", len(raw_keys), n, self)

    # ---- queue / stack / bloom ---------------------------------------------------------

    def push(self, value: object, *, overwrite: bool = False) -> None:
        """QUEUE/STACK/BLOOM_FILTER: add ``value``. ``overwrite`` drops the oldest when full."""
        self._require(Access.QUEUE, Access.BLOOM)
        flags = UpdateFlags.EXIST if overwrite else UpdateFlags.ANY
        try:
            _sys.map_update_elem(self.fd, None, self._value_codec.encode(value), flags=flags)
        except SyscallError as exc:
            raise self._write_error(exc) from None

    # ---- map-in-map / prog array -------------------------------------------------------

    def get_map(self, key: object) -> Map:
        """ARRAY_OF_MAPS/HASH_OF_MAPS: open the inner map stored at ``key`` (close it when done)."""
        if self.kind.fd_target != "map":
            raise MapOperationError(f"{self.type.name} map {self.name!r} does not hold maps")
        return Map.from_id(self[key])

    # ---- display -----------------------------------------------------------------------

    def format(self) -> str:
        """Every entry, one per line, like ``bpftool map dump`` (BTF-formatted when typed)."""
        from .maps.dump import format_map

        return format_map(self)

