"""``VMMap``: a userspace map with the same API as :class:`pybpf.map.Map`.

Two faces: the user's (a ``MutableMapping`` of decoded keys and values through the codecs of
:mod:`pybpf.maps.codec`, ``push/pop/peek`` for queues, ``in`` for bloom filters) and the
program's (``bpf_*`` methods on raw bytes returning kernel-style results: an address of the
value's region, or 0 / a negative errno). Every value lives in its own region of the VM's
:class:`~pybpf.vm.memory.Memory`, so a program's accesses to it are bounds-checked.
"""

from __future__ import annotations

import errno
import sys
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..._lifetime import Finalized, nothing_to_release
from ...enums import MapFlags, MapType
from ...errors import MapEncodingError, MapFullError, MapOperationError
from ...maps.api import MapAPI
from ...maps.codec import PerCPUValues
from ...maps.kinds import Access

if TYPE_CHECKING:
    from ...btf import BTF
    from ..memory import Memory, Region

__all__ = ["VMMap", "MAP_TAG", "UpdateFlag", "PerCPUValues"]

#: a map pointer in a register: MAP_TAG | handle (never a mapped address)
MAP_TAG = 0xE << 60

class UpdateFlag:
    """``flags`` of map_update_elem (BPF_ANY, BPF_NOEXIST, BPF_EXIST)."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2


class VMMap(Finalized, MapAPI):
    """Base class of the VM's maps (one subclass per family, see :mod:`pybpf.vm.maps`)."""

    def __init__(self, memory: Memory, handle: int, map_type: MapType, key_size: int, value_size: int,
                 max_entries: int, *, flags: MapFlags = MapFlags.NONE, name: str = "", btf: BTF | None = None,
                 key_type_id: int = 0, value_type_id: int = 0, ncpus: int = 1) -> None:
        self.memory = memory
        self.handle = handle
        self.ncpus = ncpus
        self._describe(map_type, key_size, value_size, max_entries, flags=flags, name=name, btf=btf,
                       key_type_id=key_type_id, value_type_id=value_type_id, ncpus=ncpus)
        self._finalizer = weakref.finalize(self, nothing_to_release)
        #: key bytes -> address of the value ``bpf_lookup`` returns, kept by maps whose lookups
        #: have no side effect and do not depend on the CPU (plain HASH and ARRAY), so compiled
        #: code can look a key up with one ``dict.get`` (see :mod:`pybpf.vm.fastpaths`); None
        #: for the others. ``value_addresses_complete``: a key missing from it is absent (HASH),
        #: rather than not looked up yet (ARRAY creates an element's region on first use); keyed
        #: by :meth:`table_key`
        self.value_addresses: dict[int | bytes, int] | None = None
        self.value_addresses_complete = False
        #: the table's keys are the keys' little-endian integers (key sizes 1, 2, 4, 8: the
        #: generated code reads them with one unpack, or takes the register it just stored)
        self.int_keys = self.key_size in (1, 2, 4, 8)
        #: programs can write the values at those addresses
        self.values_writable = True
        #: value address -> the value's bytes as native u64 words, for maps with a table whose
        #: value size is a multiple of 8 on a little-endian host: compiled code reads and adds
        #: to an aligned u64 of a value it looked up with one subscript (see the interpreter)
        self.value_views: dict[int, memoryview] | None = None

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

    def __repr__(self) -> str:
        return (f"<VMMap {self.type.name} {self.name!r} key_size={self.key_size} value_size={self.value_size} "
                f"max_entries={self.max_entries}>")

    def freeze(self) -> None:
        """Make the map read-only for user space (programs can still write it)."""
        self.flags |= MapFlags.RDONLY

    def _keep_views(self) -> None:
        """Called by maps that keep :attr:`value_addresses`: keep :attr:`value_views` too when
        the values are whole u64 words and the host's words are little-endian like the VM's."""
        if self.value_size % 8 == 0 and sys.byteorder == "little":
            self.value_views = {}

    def _add_view(self, region: Region) -> None:
        if self.value_views is not None:
            self.value_views[region.base] = memoryview(region.buf).cast("Q")

    def table_key(self, key: bytes) -> int | bytes:
        """``key``'s key in :attr:`value_addresses`."""
        return int.from_bytes(key, "little") if self.int_keys else key

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

    # ---- the primitives of MapAPI ------------------------------------------------------

    def _raw_lookup(self, key: bytes) -> bytes | None:
        return self.raw_get(key)

    def _raw_pop(self, delete: bool) -> bytes | None:
        return self.bpf_pop(delete)

    def _raw_bloom_has(self, value: bytes) -> bool:
        return False

    # ---- user API (same as pybpf.map.Map) ------------------------------------------------

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

    def update(  # type: ignore[override]  # one signature for MutableMapping.update's five overloads
        self, other: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (), /, **kwargs: Any
    ) -> None:
        self._require(Access.KEYED)
        for key, value in self._pairs(other, kwargs):
            self.set(key, value)

    def _clear_fixed(self) -> None:
        zero = bytes(self._value_codec.size)
        for i in range(self.max_entries):
            self.raw_set(i.to_bytes(4, "little"), zero, 0)

    def _clear_keyed(self) -> None:
        for raw in list(self.raw_keys()):
            self.bpf_delete(raw)

    def push(self, value: object, *, overwrite: bool = False) -> None:
        """QUEUE/STACK/BLOOM_FILTER: add ``value``. ``overwrite`` drops the oldest when full."""
        self._require(Access.QUEUE, Access.BLOOM)
        self._check(self.bpf_push(self._value_codec.encode(value), UpdateFlag.EXIST if overwrite else 0))

    def format(self) -> str:
        """Every entry, one per line."""
        return "\n".join(f"{k!r}: {v!r}" for k, v in self.iter_items())

    # ---- region helpers for subclasses ---------------------------------------------------

    def _new_region(self, data: bytes | None, size: int, label: str, *, writable: bool = True) -> Region:
        buf = bytearray(size) if data is None else bytearray(data)
        return self.memory.map(buf, f"a value of map {self.name!r}{label}", writable=writable)

