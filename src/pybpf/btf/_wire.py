"""The on-disk layout of BTF (see the kernel's Documentation/bpf/btf.rst).

Everything in the type section is a 32-bit word (``struct btf_type`` is three of them and
every kind's trailing data is made of ``__u32``/``__s32`` fields), so the parser views the
type section as an ``array('I')`` in host byte order and walks it by word index.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Iterable, Literal

from ..errors import BTFError
from .types import Kind

MAGIC = 0xEB9F
VERSION = 1
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type_off/len, str_off/len
HEADER_SIZE = HEADER.size  # 24
HOST_ORDER = sys.byteorder  # "little" or "big"

#: Words after the 3-word ``struct btf_type`` head: fixed part and per-``vlen`` part.
#: A kind missing here is unknown to us (and to the kernel).
FIXED_WORDS: dict[Kind, int] = {
    Kind.INT: 1, Kind.PTR: 0, Kind.ARRAY: 3, Kind.STRUCT: 0, Kind.UNION: 0, Kind.ENUM: 0,
    Kind.FWD: 0, Kind.TYPEDEF: 0, Kind.VOLATILE: 0, Kind.CONST: 0, Kind.RESTRICT: 0,
    Kind.FUNC: 0, Kind.FUNC_PROTO: 0, Kind.VAR: 1, Kind.DATASEC: 0, Kind.FLOAT: 0,
    Kind.DECL_TAG: 1, Kind.TYPE_TAG: 0, Kind.ENUM64: 0,
}
VLEN_WORDS: dict[Kind, int] = {
    Kind.STRUCT: 3, Kind.UNION: 3, Kind.ENUM: 2, Kind.FUNC_PROTO: 2, Kind.DATASEC: 3,
    Kind.ENUM64: 3,
}

#: Record length in words indexed by kind number (``-1``: unknown kind), without vlen part.
FIXED_BY_KIND: list[int] = [-1] * 32
VLEN_BY_KIND: list[int] = [0] * 32
for _k, _n in FIXED_WORDS.items():
    FIXED_BY_KIND[_k] = 3 + _n
for _k, _n in VLEN_WORDS.items():
    VLEN_BY_KIND[_k] = _n


def info_word(kind: int, vlen: int, kind_flag: bool) -> int:
    """Pack ``btf_type.info``: vlen in bits 0-15, kind in 24-28, kind_flag in bit 31."""
    return (vlen & 0xFFFF) | (kind << 24) | (int(kind_flag) << 31)


@dataclass(frozen=True, slots=True)
class Header:
    """``struct btf_header`` with the byte order the blob was written in."""

    byteorder: Literal["little", "big"]
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


def parse_header(data: bytes | memoryview) -> Header:
    """Read and check the header; raise :class:`BTFError` saying what is wrong."""
    if len(data) < 8:
        raise BTFError(f"BTF data is {len(data)} bytes, too short for a BTF header (needs {HEADER_SIZE})")
    magic = int.from_bytes(data[0:2], "little")
    order: Literal["little", "big"]
    if magic == MAGIC:
        order = "little"
    elif magic == 0x9FEB:
        order = "big"
    else:
        raise BTFError(f"bad BTF magic 0x{magic:04x} (expected 0xeb9f): this is not BTF data")
    version = data[2]
    if version != VERSION:
        raise BTFError(f"unsupported BTF version {version} (only version {VERSION} exists)")
    hdr_len = int.from_bytes(data[4:8], order)
    if hdr_len < HEADER_SIZE:
        raise BTFError(f"BTF header length {hdr_len} is shorter than the {HEADER_SIZE}-byte header")
    if hdr_len > len(data):
        raise BTFError(f"BTF header length {hdr_len} is beyond the end of the {len(data)}-byte data")
    if any(data[HEADER_SIZE:hdr_len]):
        raise BTFError("BTF header has non-zero bytes past the known fields (unsupported header extension)")
    fmt = "<" if order == "little" else ">"
    type_off, type_len, str_off, str_len = struct.unpack_from(fmt + "IIII", data, 8)
    body = len(data) - hdr_len
    for what, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
        if off + length > body:
            raise BTFError(
                f"BTF {what} section [{off}, {off + length}) is out of bounds of the "
                f"{body} bytes after the header"
            )
    if type_off % 4 or type_len % 4:
        raise BTFError(f"BTF type section offset {type_off} / length {type_len} is not 4-byte aligned")
    if type_off < str_off + str_len and str_off < type_off + type_len and type_len and str_len:
        raise BTFError("BTF type and string sections overlap")
    return Header(order, data[3], hdr_len, type_off, type_len, str_off, str_len)


def type_words(data: bytes | memoryview, header: Header) -> array[int]:
    """The type section as host-order 32-bit words."""
    start = header.hdr_len + header.type_off
    words = array("I")
    words.frombytes(data[start:start + header.type_len])
    if header.byteorder != HOST_ORDER:
        words.byteswap()
    return words


class StringTable:
    """A BTF string section: NUL-terminated strings addressed by byte offset.

    ``start`` is the offset of this table's first byte in the id space of string offsets
    (non-zero for split BTF, whose offsets continue after the base BTF's strings).
    """

    __slots__ = ("data", "start", "base", "_cache", "_all", "_offsets", "_text")

    def __init__(self, data: bytes, *, start: int = 0, base: StringTable | None = None) -> None:
        if data and data[-1] != 0:
            raise BTFError("BTF string section does not end with a NUL byte")
        if base is None and data and data[0] != 0:
            raise BTFError("BTF string section does not start with the empty string")
        self.data = data
        self.start = start
        self.base = base
        self._cache: dict[int, str] = {0: ""}
        self._all = False
        self._offsets: dict[str, int] | None = None
        self._text: str | None = None  # the whole table as one str when it is ASCII, else ""

    @property
    def end(self) -> int:
        """One past the last string offset of this table (the base for a split table)."""
        return self.start + len(self.data)

    def get(self, offset: int) -> str:
        """The string at ``offset``; BTFError when the offset is outside the table."""
        text = self._cache.get(offset)
        if text is not None:
            return text
        if offset < self.start:
            if self.base is None:
                raise BTFError(f"string offset {offset} is out of bounds")
            return self.base.get(offset)
        rel = offset - self.start
        if rel >= len(self.data):
            raise BTFError(
                f"string offset {offset} is out of bounds of the string section "
                f"[{self.start}, {self.end})"
            )
        whole = self.ascii_text()
        if whole:
            text = whole[rel:whole.index("\0", rel)]
        else:
            end = self.data.index(b"\0", rel)
            text = self.data[rel:end].decode("utf-8", "surrogateescape")
        self._cache[offset] = text
        return text

    def get_many(self, offsets: Iterable[int]) -> list[str]:
        """:meth:`get` of each of ``offsets``: one pass over the cache, then the misses, sliced
        from the decoded table in one comprehension when the table is ASCII."""
        offsets = list(offsets)
        cache = self._cache
        found: list[str | None] = list(map(cache.get, offsets))
        if None not in found:
            return found  # type: ignore[return-value]
        missing = list(dict.fromkeys([offset for offset, text in zip(offsets, found) if text is None]))
        whole = self.ascii_text()
        first = self.start
        if not whole or min(missing) < first or max(missing) >= first + len(whole):
            get = self.get  # another table (the base's), non-ASCII text, or out of bounds
            return [get(offset) for offset in offsets]
        index = whole.index
        relative = [offset - first for offset in missing] if first else missing
        cache.update(zip(missing, [whole[rel:index("\0", rel)] for rel in relative]))
        return list(map(cache.__getitem__, offsets))

    def ascii_text(self) -> str:
        """This table (without the base) as one str, or "" when it is not ASCII; a string at
        offset ``o`` is then ``text[o - start:text.index("\\0", o - start)]`` (decoded once)."""
        whole = self._text
        if whole is None:
            whole = self._text = self.data.decode("ascii") if self.data.isascii() else ""
        return whole

    def load_all(self) -> None:
        """Decode every string at once (faster than one by one when most will be needed)."""
        if self._all:
            return
        self._all = True
        if self.data.isascii():  # the usual case: character offsets equal byte offsets
            parts = self.data.decode("ascii").split("\0")[:-1]
            offsets = accumulate((len(p) + 1 for p in parts), initial=self.start)
            decoded = dict(zip(offsets, parts))
            decoded.update(self._cache)
            self._cache = decoded
        else:
            pos = self.start
            cache = self._cache
            for raw in self.data.split(b"\0")[:-1]:
                if pos not in cache:
                    cache[pos] = raw.decode("utf-8", "surrogateescape")
                pos += len(raw) + 1
        if self.base is not None:
            self.base.load_all()

    def offsets(self) -> dict[str, int]:
        """First offset of each whole string in this table (for re-using offsets when marshalling)."""
        if self._offsets is not None:
            return self._offsets
        result: dict[str, int] = {}
        self._offsets = result
        pos = self.start
        for raw in self.data.split(b"\0")[:-1]:
            result.setdefault(raw.decode("utf-8", "surrogateescape"), pos)
            pos += len(raw) + 1
        return result
