"""Keys and values of a live map: Python objects <-> the bytes the kernel stores.

A :class:`Codec` turns one key or value into exactly ``size`` bytes and back:

* :class:`BTFCodec` when the map has a BTF type for it: ints, ``bytes`` for char arrays,
  lists for other arrays, :class:`~pybpf.btf.values.StructValue` (``v.pid``) for structs —
  and it accepts what it returns, a ``dict`` for a struct, or raw bytes of the right size.
* :class:`RawCodec` otherwise: a 1/2/4/8-byte key or value decodes to an unsigned ``int``
  (host byte order, like the BPF program sees it); any other size stays ``bytes``. It encodes
  an ``int`` (negative ones as two's complement) or any bytes-like object of exactly ``size``
  bytes (``bytes``, ``bytearray``, ``memoryview``, a ``ctypes`` structure).
* :class:`LPMKeyCodec` for LPM trie keys without BTF: :class:`LPMKey` ``(prefixlen, data)``,
  also accepting an :mod:`ipaddress` network (``ip_network("10.0.0.0/8")``).
* :class:`FdCodec` for maps of file descriptors (prog array, map-in-map, perf event array):
  writes take a ``Map``/``Program`` (anything with ``.fd``), an ``FD`` or an ``int`` fd; reads
  return the id (``int``) of the object stored there.
* :class:`PerCPUCodec` wraps one of the above for per-CPU maps: reads give
  :class:`PerCPUValues` (one value per possible CPU, with :meth:`PerCPUValues.sum`);
  writes take such a list or a single value for every CPU.

``decode_many``/``encode_many`` work on whole batches, with a fast path for plain integers.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import BTFError, MapEncodingError

if TYPE_CHECKING:
    from ..btf import BTF
    from ..btf.types import Array

_ORDER = sys.byteorder
#: struct-module codes for unsigned and signed ints by size (for memoryview.cast)
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _unpack_ints(raw: bytes, count: int, size: int, code: str) -> list[Any]:
    """``count`` integers of ``size`` bytes each, in the ``struct`` format ``code``, from ``raw``."""
    view: Any = memoryview(raw)[: count * size]  # typeshed's cast() wants a literal format code
    ints: list[Any] = view.cast(code).tolist()
    return ints
_SIGNED = {1: "b", 2: "h", 4: "i", 8: "q"}


class Codec(Protocol):
    """Turns one key or value into ``size`` bytes and back."""

    size: int
    #: what the bytes hold, for error messages ("u32", "struct key_t", "16 bytes")
    description: str
    #: True when decoded values are themselves sequences (so a list is not a per-CPU list)
    sequence: bool

    def encode(self, value: object) -> bytes: ...

    def decode(self, raw: bytes) -> Any: ...

    def decode_many(self, raw: bytes, count: int) -> list[Any]: ...

    def encode_many(self, values: Sequence[object]) -> bytes: ...


def _as_bytes(value: object) -> bytes | None:
    """``value`` as bytes if it is bytes-like (buffer protocol), else None."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)) or hasattr(value, "_fields_") or hasattr(value, "_length_"):
        try:
            return bytes(memoryview(value).cast("B"))  # type: ignore[arg-type]
        except TypeError:
            return None
    return None


def _wrong_size(what: str, codec: Codec, got: int) -> MapEncodingError:
    return MapEncodingError(
        f"{what} must be {codec.size} bytes ({codec.description}), got {got} bytes"
    )


class _Base:
    size: int
    description: str
    what: str
    sequence = False

    def encode(self, value: object) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def decode(self, raw: bytes) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _exact(self, raw: bytes) -> bytes:
        if len(raw) != self.size:
            raise _wrong_size(self.what, self, len(raw))
        return raw

    def decode_many(self, raw: bytes, count: int) -> list[Any]:
        n = self.size
        return [self.decode(raw[i * n:(i + 1) * n]) for i in range(count)]

    def encode_many(self, values: Sequence[object]) -> bytes:
        return b"".join(self.encode(v) for v in values)


class RawCodec(_Base):
    """No type information: ints for 1/2/4/8-byte items, bytes otherwise (see module doc)."""

    def __init__(self, size: int, *, what: str = "value") -> None:
        self.size = size
        self.what = what
        self.as_int = size in _UNSIGNED
        self.description = f"u{size * 8}" if self.as_int else f"{size} bytes"

    def encode(self, value: object) -> bytes:
        if isinstance(value, int):
            try:
                return value.to_bytes(self.size, _ORDER, signed=value < 0)
            except OverflowError:
                raise MapEncodingError(
                    f"{self.what} {value} does not fit in {self.size} bytes ({self.description})"
                ) from None
        raw = _as_bytes(value)
        if raw is None:
            raise MapEncodingError(
                f"{self.what} must be an int or {self.size} bytes ({self.description}), "
                f"got {type(value).__name__}"
            )
        return self._exact(raw)

    def decode(self, raw: bytes) -> Any:
        return int.from_bytes(raw, _ORDER) if self.as_int else bytes(raw)

    def decode_many(self, raw: bytes, count: int) -> list[Any]:
        if self.as_int:
            return _unpack_ints(raw, count, self.size, _UNSIGNED[self.size])
        return super().decode_many(raw, count)

    def encode_many(self, values: Sequence[object]) -> bytes:
        if self.as_int and all(type(v) is int for v in values):
            try:
                return struct.pack(f"={len(values)}{_UNSIGNED[self.size]}", *values)
            except struct.error:
                pass  # negative or too large: per item, with a clear error
        return super().encode_many(values)


class BTFCodec(_Base):
    """Encodes through a BTF type (see :mod:`pybpf.btf.values`)."""

    def __init__(self, btf: BTF, type_id: int, size: int, *, what: str = "value") -> None:
        # imported here, where a parsed BTF exists: maps without one (pybpf trace) never import them
        from ..btf.types import Array, Int, IntEncoding, Pointer

        self.btf = btf
        self.type_id = type_id
        self.size = size
        self.what = what
        resolved = btf.resolve(type_id)
        t = btf[resolved]
        name = btf.name_of(type_id) or btf.name_of(resolved)
        kind = t.kind.name.lower()
        self.description = f"{kind} {name}".strip() if kind not in ("int",) else (name or f"int{size * 8}")
        btf_size = btf.size_of(type_id)
        if btf_size != size:
            raise MapEncodingError(
                f"the BTF {what} type {self.description} is {btf_size} bytes but the map's {what} size is {size}"
            )
        self.sequence = isinstance(t, Array) and not _is_char_array(btf, t)
        self._short_bytes_ok = isinstance(t, Array)  # byte arrays take shorter bytes, NUL padded
        #: struct code when the type is a plain integer (fast batch path), else None
        self._int_code: str | None = None
        if isinstance(t, Int) and t.bits == size * 8 and t.offset == 0 and size in _UNSIGNED \
                and not t.encoding & IntEncoding.BOOL:
            self._int_code = (_SIGNED if t.encoding & IntEncoding.SIGNED else _UNSIGNED)[size]
        elif isinstance(t, Pointer) and size in _UNSIGNED:
            self._int_code = _UNSIGNED[size]

    def encode(self, value: object) -> bytes:
        raw = _as_bytes(value)
        if raw is not None and (len(raw) == self.size or not self._short_bytes_ok):
            return self._exact(raw)
        try:
            return self.btf.encode_value(self.type_id, value)
        except (BTFError, TypeError, ValueError, OverflowError) as exc:
            raise MapEncodingError(f"cannot encode {value!r} as the {self.what} type {self.description}: {exc}") from None

    def decode(self, raw: bytes) -> Any:
        return self.btf.decode_value(self.type_id, raw)

    def decode_many(self, raw: bytes, count: int) -> list[Any]:
        if self._int_code is not None:
            return _unpack_ints(raw, count, self.size, self._int_code)
        return super().decode_many(raw, count)

    def format(self, raw: bytes) -> str:
        """One line, C-initialiser-like."""
        return self.btf.format_value(self.type_id, raw)


def _is_char_array(btf: BTF, t: Array) -> bool:
    from ..btf.types import Int

    elem = btf[btf.resolve(t.elem_type_id)]
    return isinstance(elem, Int) and elem.size == 1


class LPMKey(NamedTuple):
    """An LPM trie key: ``prefixlen`` significant bits of ``data`` (network byte order)."""

    prefixlen: int
    data: bytes


class LPMKeyCodec(_Base):
    """``struct { __u32 prefixlen; __u8 data[]; }`` without BTF.

    Accepts an :class:`LPMKey` or ``(prefixlen, data)`` tuple (``data`` bytes, zero-padded),
    an :mod:`ipaddress` network or address (a host is a full-length prefix), or raw bytes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.what = "key"
        self.description = f"LPM trie key: u32 prefixlen + {size - 4} data bytes"

    def encode(self, value: object) -> bytes:
        # an ipaddress value means its module is imported: never imported here (~1 ms at start-up)
        ipaddress = sys.modules.get("ipaddress")
        if ipaddress is not None:
            if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                value = (value.prefixlen, value.network_address.packed)
            elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
                value = (value.max_prefixlen, value.packed)
        if isinstance(value, tuple) and len(value) == 2:
            prefixlen, data = value
            blob = _as_bytes(data)
            if not isinstance(prefixlen, int) or blob is None:
                raise MapEncodingError(f"an LPM key is (prefixlen: int, data: bytes), got {value!r}")
            room = self.size - 4
            if len(blob) > room or prefixlen > room * 8 or prefixlen < 0:
                raise MapEncodingError(
                    f"LPM key {value!r} does not fit: the key holds {room} data bytes ({room * 8} prefix bits)"
                )
            return prefixlen.to_bytes(4, _ORDER) + blob.ljust(room, b"\0")
        raw = _as_bytes(value)
        if raw is None:
            raise MapEncodingError(
                f"an LPM trie key must be (prefixlen, data), an ipaddress network or {self.size} bytes; "
                f"got {type(value).__name__}"
            )
        return self._exact(raw)

    def decode(self, raw: bytes) -> LPMKey:
        return LPMKey(int.from_bytes(raw[:4], _ORDER), bytes(raw[4:]))


class FdCodec(_Base):
    """Slots holding kernel objects: write an fd (or an object with ``.fd``), read back its id."""

    def __init__(self, size: int, target: str) -> None:
        self.size = size
        self.what = "value"
        self.target = target
        self.description = f"{target} fd on write, {target} id on read"

    def encode(self, value: object) -> bytes:
        fd = _fd_of(value)
        if fd is None:
            raw = _as_bytes(value)
            if raw is None:
                raise MapEncodingError(
                    f"this map stores {self.target}s: assign a {self.target} object (anything with .fd), "
                    f"an FD or an int file descriptor, got {type(value).__name__}"
                )
            return self._exact(raw)
        return fd.to_bytes(self.size, _ORDER)

    def decode(self, raw: bytes) -> int:
        return int.from_bytes(raw, _ORDER)


def _fd_of(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    inner = getattr(value, "fd", None)
    if inner is not None and inner is not value:
        return _fd_of(inner)
    fileno = getattr(value, "fileno", None)
    if callable(fileno):
        result = fileno()
        return result if isinstance(result, int) else None
    return None


class PerCPUValues(list):  # type: ignore[type-arg]
    """The values of one key of a per-CPU map, indexed by CPU number.

    >>> PerCPUValues([1, 2, 3]).sum()
    6
    """

    def sum(self) -> Any:
        """The total over CPUs: a number, or for struct values a ``dict`` of per-member totals."""
        return _sum(list(self))


def _sum(items: list[Any]) -> Any:
    if not items:
        return 0
    first = items[0]
    if isinstance(first, Mapping):
        return {k: _sum([item[k] for item in items]) for k in first}
    if isinstance(first, (list, tuple)) and not isinstance(first, (bytes, str)):
        return [_sum([item[i] for item in items]) for i in range(len(first))]
    if isinstance(first, (int, float)):
        return sum(int(i) if isinstance(i, int) else i for i in items)
    raise TypeError(f"per-CPU values of type {type(first).__name__} cannot be summed")


class PerCPUCodec(_Base):
    """Per-CPU values: ``ncpus`` slots of ``round_up(elem.size, 8)`` bytes each."""

    sequence = True

    def __init__(self, elem: Codec, ncpus: int) -> None:
        self.elem = elem
        self.ncpus = ncpus
        self.slot = (elem.size + 7) & ~7
        self.size = self.slot * ncpus
        self.what = "value"
        self.description = f"{ncpus} per-CPU values of {elem.description}"

    def _is_per_cpu(self, value: object) -> bool:
        if isinstance(value, PerCPUValues):
            return True
        if not isinstance(value, (list, tuple)):
            return False
        if not self.elem.sequence:
            return True
        # array-typed values: a list counts as per-CPU only if it is a list of such arrays
        return len(value) == self.ncpus and all(isinstance(v, (list, tuple, bytes)) for v in value)

    def encode(self, value: object) -> bytes:
        pad = b"\0" * (self.slot - self.elem.size)
        if self._is_per_cpu(value):
            values = list(value)  # type: ignore[call-overload]
            if len(values) != self.ncpus:
                raise MapEncodingError(
                    f"a per-CPU value needs one item per possible CPU ({self.ncpus}), got {len(values)}; "
                    "or pass a single value to write it on every CPU"
                )
            return b"".join(self.elem.encode(v) + pad for v in values)
        raw = _as_bytes(value)
        if raw is not None and len(raw) == self.size and self.size != self.elem.size:
            return raw
        return (self.elem.encode(value) + pad) * self.ncpus

    def decode(self, raw: bytes) -> PerCPUValues:
        if self.slot == self.elem.size:
            return PerCPUValues(self.elem.decode_many(raw, self.ncpus))
        n, s = self.elem.size, self.slot
        return PerCPUValues(self.elem.decode(raw[i * s:i * s + n]) for i in range(self.ncpus))
