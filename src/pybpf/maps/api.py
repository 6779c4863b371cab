"""``MapAPI``: the user's face of a map, shared by the kernel :class:`~pybpf.map.Map` and the VM's maps.

Everything here is decided by the map's type and codecs alone: how keys and values are
encoded, which access a map type allows (and the error telling what to use instead), the
``dict`` reads, and the queue/stack ``pop``/``peek`` rules. A backend provides three raw
primitives on bytes -- :meth:`~MapAPI._raw_lookup`, :meth:`~MapAPI._raw_pop` and
:meth:`~MapAPI._raw_bloom_has` -- and keeps its own writes, iteration and error mapping (a
syscall's errno in the kernel, a helper's return code in the VM).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from typing import TYPE_CHECKING, Any, Callable

from ..enums import MapFlags, MapType
from ..errors import MapEncodingError, MapOperationError
from .codec import BTFCodec, Codec, FdCodec, LPMKeyCodec, PerCPUCodec, RawCodec
from .kinds import Access, MapKind, kind_of

if TYPE_CHECKING:
    from ..btf import BTF

__all__ = ["MISSING", "MapAPI"]

#: "no argument given" for pop()/peek() defaults (None is a valid default)
MISSING: Any = object()

#: what to use instead, per access a map type has (the hint of a refused operation)
_USE_INSTEAD: dict[Access, str] = {
    Access.KEYED: "use m[key], m[key] = value and iteration",
    Access.QUEUE: "use push(), pop() and peek()",
    Access.BLOOM: "use push() and `value in m`",
}


class MapAPI(MutableMapping[Any, Any]):
    """Mixin: description, codecs, access checks, ``dict`` reads, clear() and queue/stack pop/peek over raw primitives."""

    type: MapType
    flags: MapFlags
    name: str
    key_size: int
    value_size: int
    max_entries: int
    btf: BTF | None
    key_type_id: int
    value_type_id: int
    kind: MapKind
    _key_codec: Codec
    _elem_codec: Codec
    _value_codec: Codec

    # ---- raw primitives each backend provides ------------------------------------------

    def _raw_lookup(self, key: bytes) -> bytes | None:
        """The value's bytes for ``key`` (every CPU's slot for per-CPU maps), None if absent."""
        raise NotImplementedError

    def _raw_pop(self, delete: bool) -> bytes | None:
        """QUEUE/STACK: the next value's bytes, removed when ``delete``; None when empty."""
        raise NotImplementedError

    def _raw_bloom_has(self, value: bytes) -> bool:
        """BLOOM_FILTER: whether ``value`` (maybe) was pushed."""
        raise NotImplementedError

    def _clear_fixed(self) -> None:
        """clear() of a map whose slots always exist (ARRAY): zero every slot."""
        raise NotImplementedError

    def _clear_keyed(self) -> None:
        """clear() of any other keyed map: delete every element."""
        raise NotImplementedError

    # ---- description and codecs --------------------------------------------------------

    def _describe(self, map_type: MapType, key_size: int, value_size: int, max_entries: int, *,
                  flags: MapFlags, name: str, btf: BTF | None, key_type_id: int, value_type_id: int,
                  ncpus: int) -> None:
        """Set what the map is (type, sizes, flags, name, BTF types, traits) and make its codecs;
        per-CPU values get ``ncpus`` slots."""
        self.type = MapType(map_type)
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = MapFlags(flags)
        self.name = name
        self.btf = btf
        self.key_type_id = key_type_id
        self.value_type_id = value_type_id
        self.kind = kind_of(self.type)
        self.pinned_path: str | None = None
        self._key_codec = self._make_key_codec()
        self._elem_codec = self._make_value_codec()
        self._value_codec = PerCPUCodec(self._elem_codec, ncpus) if self.kind.percpu else self._elem_codec

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
        """The raw bytes of ``key`` as the map stores them."""
        return self._key_codec.encode(key)

    def encode_value(self, value: object) -> bytes:
        """The raw bytes of ``value`` (all CPUs' slots for a per-CPU map)."""
        return self._value_codec.encode(value)

    def decode_key(self, raw: bytes) -> Any:
        return self._key_codec.decode(raw)

    def decode_value(self, raw: bytes) -> Any:
        return self._value_codec.decode(raw)

    # ---- access checks -----------------------------------------------------------------

    def _require(self, *access: Access) -> None:
        """MapOperationError unless this map type has one of ``access``; it says what to use instead."""
        if self.kind.access in access:
            return
        have = _USE_INSTEAD.get(self.kind.access) or self.kind.hint or "user space cannot access its elements"
        wanted = "/".join(a.value for a in access)
        raise MapOperationError(f"{self.type.name} map {self.name!r} has no {wanted} access: {have}")

    # ---- keyed reads -------------------------------------------------------------------

    def lookup(self, key: object, default: Any = None) -> Any:
        """The value for ``key``, or ``default`` when absent (like ``dict.get``)."""
        self._require(Access.KEYED)
        raw = self._raw_lookup(self._key_codec.encode(key))
        return default if raw is None else self._value_codec.decode(raw)

    def __getitem__(self, key: object) -> Any:
        value = self.lookup(key, MISSING)
        if value is MISSING:
            raise KeyError(key)
        return value

    def get(self, key: object, default: Any = None) -> Any:
        return self.lookup(key, default)

    def __contains__(self, item: object) -> bool:
        if self.kind.access is Access.BLOOM:
            return self._raw_bloom_has(self._value_codec.encode(item))
        self._require(Access.KEYED)
        try:
            key = self._key_codec.encode(item)
        except MapEncodingError:
            return False
        return self._raw_lookup(key) is not None

    def iter_items(self, *, use_batch: bool = True) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def clear(self) -> None:
        """Remove every element (ARRAY: set every slot to zero; QUEUE/STACK: pop everything)."""
        if self.kind.access is Access.QUEUE:
            self._drain()
            return
        self._require(Access.KEYED)
        if self.kind.fixed:
            self._clear_fixed()
        else:
            self._clear_keyed()

    def keys(self) -> KeysView[Any]:
        return KeysView(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)

    def items(self) -> ItemsView[Any, Any]:
        return _Items(self)

    # ---- queue / stack -----------------------------------------------------------------

    def pop(self, key: object = MISSING, default: Any = MISSING) -> Any:
        """QUEUE/STACK: remove and return the next value (IndexError when empty, or ``default``).

        Keyed maps: ``dict.pop`` semantics (KeyError, or ``default``).
        """
        if self.kind.access is Access.QUEUE:
            if key is not MISSING and default is MISSING:
                default = key  # pop(default) reads naturally for a queue
            return self._next_value(delete=True, default=default)
        if key is MISSING:
            raise TypeError("pop() needs a key for a keyed map")
        value = self.lookup(key, MISSING)
        if value is MISSING:
            if default is MISSING:
                raise KeyError(key)
            return default
        del self[key]
        return value

    def peek(self, default: Any = MISSING) -> Any:
        """QUEUE/STACK: the next value without removing it (IndexError when empty, or ``default``)."""
        self._require(Access.QUEUE)
        return self._next_value(delete=False, default=default)

    def _next_value(self, *, delete: bool, default: Any) -> Any:
        raw = self._raw_pop(delete)
        if raw is not None:
            return self._value_codec.decode(raw)
        if default is not MISSING:
            return default
        what = "pop from" if delete else "peek into"
        raise IndexError(f"{what} an empty {self.type.name} map {self.name!r}")

    def _drain(self) -> None:
        while self._raw_pop(True) is not None:
            pass

    # ---- writes ------------------------------------------------------------------------

    @staticmethod
    def _pairs(other: Mapping[Any, Any] | Iterable[tuple[Any, Any]], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
        """The (key, value) pairs of ``update(other, **kwargs)``, as ``dict.update`` takes them."""
        return list(other.items() if isinstance(other, Mapping) else other) + list(kwargs.items())

    # ---- contents ----------------------------------------------------------------------

    def load_contents(self, contents: Mapping[Any, Any], *, resolve: Callable[[str], Any] | None = None) -> None:
        """Write initial slots (``MapSpec.contents``): bytes as they are; a name through ``resolve``.

        ``resolve(name)`` returns what the slot should hold (a Program, Map or fd) -- the loader
        passes its own lookup of programs and maps by name.
        """
        for key, value in contents.items():
            if isinstance(value, str):
                if resolve is None:
                    raise MapOperationError(
                        f"slot {key} of map {self.name!r} names {value!r}; pass resolve= to look it up"
                    )
                value = resolve(value)
            self[key] = value

    # a live object: equal only to itself (not by content, as Mapping would), and hashable
    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__


class _Items(ItemsView[Any, Any]):
    _mapping: MapAPI

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping.iter_items()


class _Values(ValuesView[Any]):
    _mapping: MapAPI

    def __iter__(self) -> Iterator[Any]:
        for _k, v in self._mapping.iter_items():
            yield v
