"""The :class:`BTF` container: a lazily decoded set of types addressed by id.

Opening a blob checks its header and walks the type section once, recording the word
index of every record (records are variable-length, so an id cannot be located without
this pass). A type is decoded into its dataclass the first time it is asked for and then
cached; the name index is built on the first :meth:`BTF.find`.

Split BTF (kernel modules) sits on top of a base: its ids and string offsets continue
where the base's end, and lookups of lower ids fall through to the base.
"""

from __future__ import annotations

import gc
import logging
import os
import struct
from array import array
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import BTFError
from . import _wire
from ._decode import DECODER_BY_KIND, MemberRow, member_rows, member_rows_many
from .types import MODIFIER_KINDS, Array, Kind, Type, Void

log = logging.getLogger("pybpf.btf")

__all__ = ["BTF"]

_VOID = Void()
_MODIFIERS = frozenset(int(k) for k in MODIFIER_KINDS)
_RECORD_OWNER = {int(Kind.STRUCT): "struct", int(Kind.UNION): "union"}  # raw kind -> C keyword
_RECORD_KINDS = frozenset(_RECORD_OWNER)
_SIZED = frozenset({Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.STRUCT, Kind.UNION, Kind.FLOAT, Kind.DATASEC})


class BTF:
    """A BTF type graph. Build it with :meth:`from_bytes`, :meth:`from_file` or :meth:`from_types`.

    >>> from pybpf.btf import kernel_btf, Kind
    >>> btf = kernel_btf()
    >>> task = btf[btf.find_one("task_struct", Kind.STRUCT)]
    """

    __slots__ = (
        "base", "type_id_start", "header", "_words", "_offsets", "_kinds", "_all_kinds", "_strings", "_n",
        "_cache", "_names", "_ptr_size", "_value_plans", "_value_writers", "_int_bitfields", "__weakref__",
    )
    base: BTF | None
    type_id_start: int
    header: _wire.Header
    _words: array[int]
    _offsets: array[int]
    _kinds: array[int]  # raw kind of every own record, indexed like _offsets
    _all_kinds: bytes | None  # kinds() (cached)
    _int_bitfields: frozenset[int] | None  # own INT ids that describe a bit-field (see _decode)
    _strings: _wire.StringTable
    _n: int
    _cache: list[Any]
    _names: dict[str, list[int]] | None
    _ptr_size: int | None
    _value_plans: dict[int, Any] | None  # compiled value decoders (pybpf.btf.values)
    _value_writers: dict[int, Any] | None  # compiled value encoders (pybpf.btf._value_encode)

    def __init__(self, data: bytes, *, base: BTF | None = None) -> None:
        data = bytes(data)
        self.base = base
        self.header = _wire.parse_header(data)
        h = self.header
        start = h.hdr_len + h.str_off
        base_strings: _wire.StringTable | None = base._strings if base is not None else None
        self._strings = _wire.StringTable(
            data[start:start + h.str_len],
            start=base_strings.end if base_strings is not None else 0,
            base=base_strings,
        )
        self.type_id_start = len(base) if base is not None else 1
        self._words = _wire.type_words(data, h)
        self._offsets, self._kinds = self._index(self._words)
        self._all_kinds = None
        self._int_bitfields = None
        self._n = self.type_id_start + len(self._offsets)
        self._cache = [None] * len(self._offsets)
        self._names = None
        self._ptr_size = None
        self._value_plans = None
        self._value_writers = None

    @staticmethod
    def _index(words: array[int]) -> tuple[array[int], array[int]]:
        """Word index and raw kind of every record; BTFError on an unknown kind or a truncated record."""
        offsets = array("I")
        kinds = array("B")
        append = offsets.append
        append_kind = kinds.append
        fixed = _wire.FIXED_BY_KIND
        per_vlen = _wire.VLEN_BY_KIND
        end = len(words)
        i = 0
        try:
            while i < end:
                info = words[i + 1]
                kind = (info >> 24) & 0x1F
                size = fixed[kind]
                if size < 0:
                    raise BTFError(
                        f"unknown BTF kind {kind} in the record at byte {i * 4} of the type section"
                    )
                append(i)
                append_kind(kind)
                i += size + per_vlen[kind] * (info & 0xFFFF)
        except IndexError:
            raise BTFError(f"truncated BTF type record at byte {i * 4} of the type section") from None
        if i != end:
            raise BTFError(f"truncated BTF type record at byte {offsets[-1] * 4} of the type section")
        return offsets, kinds

    # --- construction ----------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, base: BTF | None = None) -> BTF:
        """Parse a ``.BTF`` blob (``base`` for split BTF such as a kernel module's)."""
        return cls(data, base=base)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, base: BTF | None = None) -> BTF:
        """Parse a raw BTF file (e.g. ``/sys/kernel/btf/vmlinux``) or the ``.BTF`` section of an ELF."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise BTFError(f"cannot read BTF from {os.fspath(path)}: {e.strerror}") from e
        if data[:4] == b"\x7fELF":
            data = _elf_section(data, ".BTF", os.fspath(path))
        return cls(data, base=base)

    @classmethod
    def from_types(cls, types: Iterable[Type], *, base: BTF | None = None) -> BTF:
        """Build BTF from type dataclasses; ids are assigned in order from 1 (or after ``base``)."""
        from .marshal import marshal_types

        btf = cls(marshal_types(list(types), base=base), base=base)
        btf.validate()
        return btf

    def with_types(self, replace: Mapping[int, Type] | None = None, *, append: Sequence[Type] = ()) -> BTF:
        """A new BTF with some types swapped by id and/or appended, keeping this one's strings.

        Unlike :meth:`from_types`, the string section (and so every string offset, e.g. those
        that ``.BTF.ext`` line info refers to) is kept; new names are appended to it.
        """
        from .marshal import marshal

        btf = BTF(marshal(self, replace=replace, append=append), base=self.base)
        btf.validate()
        return btf

    def flattened(self) -> BTF:
        """This BTF with its base merged in (itself when it has no base): one standalone BTF
        with the same type ids, names and string offsets.

        Split BTF continues its base's type ids and string offsets, so merging is only a
        concatenation of the type sections and of the string sections.
        """
        if self.base is None:
            return self
        from .marshal import pack_sections

        base = self.base.flattened()
        words = base._words + self._words
        return BTF(pack_sections(words, base._strings.data + self._strings.data))

    def validate(self) -> None:
        """Decode every type now, so that any malformed record raises BTFError here."""
        for _ in self.types(include_base=False):
            pass

    def to_bytes(self, *, byteorder: str = _wire.HOST_ORDER) -> bytes:
        """Marshal this BTF (only its own types for split BTF) to a blob the kernel accepts."""
        from .marshal import marshal

        return marshal(self, byteorder=byteorder)

    # --- lookup ----------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of type ids, including void (id 0) and, for split BTF, the base's."""
        return self._n

    def __getitem__(self, type_id: int) -> Type:
        idx = type_id - self.type_id_start
        if idx >= 0:
            try:
                t = self._cache[idx]
            except IndexError:
                raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})") from None
            if t is None:
                t = self._cache[idx] = self._decode(idx)
            return t  # type: ignore[no-any-return]
        if self.base is not None:
            return self.base[type_id]
        if type_id == 0:
            return _VOID
        raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})")

    def _decode(self, idx: int) -> Type:
        w = self._words
        off = self._offsets[idx]
        info = w[off + 1]
        decoder = DECODER_BY_KIND[(info >> 24) & 0x1F]
        if decoder is None:  # not reachable: the index pass rejects unknown kinds
            raise BTFError(f"unknown BTF kind {(info >> 24) & 0x1F} for type index {idx}")
        return decoder(self, w, off, self._strings.get(w[off]), info, w[off + 2])

    def _kind(self, type_id: int) -> int:
        """The raw kind of ``type_id`` without decoding it."""
        idx = type_id - self.type_id_start
        if idx >= 0:
            if idx >= len(self._offsets):
                raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})")
            kind: int = self._kinds[idx]
            return kind
        if self.base is not None:
            return self.base._kind(type_id)
        if type_id == 0:
            return Kind.UNKNOWN
        raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})")

    def kind_of(self, type_id: int) -> Kind:
        """The :class:`Kind` of ``type_id`` (cheap: does not decode the type)."""
        return Kind(self._kind(type_id))

    def kinds(self) -> bytes:
        """The raw kind number of every type id at once: ``kinds()[type_id]``, id 0 (void) included.

        Cheap (nothing is decoded; the index pass records kinds) and meant for scanning the
        whole graph: ``[tid for tid, k in enumerate(btf.kinds()) if k == Kind.STRUCT]``.
        For split BTF the base's ids come first, as with every other id.
        """
        kinds = self._all_kinds
        if kinds is None:
            head = self.base.kinds() if self.base is not None else bytes([Kind.UNKNOWN])
            kinds = self._all_kinds = head + self._kinds.tobytes()
        return kinds

    def decode_many(self, type_ids: Iterable[int]) -> list[Type]:
        """The types of ``type_ids``, in order (as ``[btf[i] for i in type_ids]``, but faster
        when there are thousands: no per-id method calls, and the cyclic GC is paused)."""
        cache = self._cache
        start = self.type_id_start
        n = len(cache)
        getitem = self.__getitem__
        decode = self._decode
        out: list[Type] = []
        append = out.append
        gc_was_enabled = gc.isenabled()
        gc.disable()  # see _decode_all
        try:
            for tid in type_ids:
                idx = tid - start
                if 0 <= idx < n:
                    t = cache[idx]
                    if t is None:
                        t = cache[idx] = decode(idx)
                    append(t)
                else:
                    append(getitem(tid))
        finally:
            if gc_was_enabled:
                gc.enable()
        return out

    def record_rows(self, type_id: int) -> tuple[str, int, list[MemberRow]]:
        """``(name, size, members)`` of struct/union ``type_id`` without building dataclasses:
        each member is a ``(name, type_id, bit_offset, bitfield_size)`` tuple, exactly the fields
        of its :class:`~pybpf.btf.types.Member`. For bulk readers (the C dumper) that walk
        thousands of records once; BTFError if ``type_id`` is not a struct or union."""
        idx = type_id - self.type_id_start
        if idx < 0 and self.base is not None:
            return self.base.record_rows(type_id)
        kind = self._kind(type_id)
        if kind != Kind.STRUCT and kind != Kind.UNION:
            raise BTFError(f"type id {type_id} is a {Kind(kind).name}, not a struct or union")
        cached = self._cache[idx]
        if cached is not None:
            rows = [(m.name, m.type_id, m.bit_offset, m.bitfield_size) for m in cached.members]
            return cached.name, cached.size, rows
        w = self._words
        off = self._offsets[idx]
        name = self._strings.get(w[off])
        keyword = "struct" if kind == Kind.STRUCT else "union"
        return name, w[off + 2], member_rows(self, w, off, w[off + 1], f"{keyword} {name or '(anon)'}")

    def record_rows_many(self, type_ids: Iterable[int]) -> list[tuple[str, int, list[MemberRow]]]:
        """:meth:`record_rows` of each of ``type_ids`` (all structs/unions), in order: the same
        rows, read in bulk (the C dumper reads every record of a BTF this way)."""
        type_ids = list(type_ids)
        start = self.type_id_start
        cache = self._cache
        offsets = self._offsets
        kinds = self._kinds
        out: list[tuple[str, int, list[MemberRow]] | None] = [None] * len(type_ids)
        raw: list[int] = []  # positions in out read from the raw records, in bulk below
        for pos, tid in enumerate(type_ids):
            idx = tid - start
            if (self.base is not None or idx < 0 or idx >= len(offsets) or cache[idx] is not None
                    or kinds[idx] not in _RECORD_KINDS):
                out[pos] = self.record_rows(tid)  # base ids, decoded ones, and errors
            else:
                raw.append(pos)
        if raw:
            w = self._words
            record_offsets = [offsets[type_ids[pos] - start] for pos in raw]
            names = self._strings.get_many([w[off] for off in record_offsets])
            members = member_rows_many(self, record_offsets)
            for pos, off, name, rows in zip(raw, record_offsets, names, members):
                out[pos] = (name, w[off + 2], rows)
        return out  # type: ignore[return-value]

    def name_of(self, type_id: int) -> str:
        """The name of ``type_id`` ("" for anonymous types and void)."""
        idx = type_id - self.type_id_start
        if idx >= 0:
            if idx >= len(self._offsets):
                raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})")
            return self._strings.get(self._words[self._offsets[idx]])
        if self.base is not None:
            return self.base.name_of(type_id)
        if type_id == 0:
            return ""
        raise BTFError(f"type id {type_id} is out of range (this BTF has ids 0..{self._n - 1})")

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the string section (offsets continue from the base for split BTF)."""
        return self._strings.get(offset)

    def string_offset(self, text: str) -> int:
        """Offset of ``text`` as a whole string in the string section (base first); BTFError if absent."""
        table: _wire.StringTable | None = self._strings
        while table is not None:
            off = table.offsets().get(text)
            if off is not None and (table.base is None or text not in table.base.offsets()):
                return off
            table = table.base
        raise BTFError(f"string {text!r} is not in this BTF's string section")

    def types(self, *, include_base: bool = True) -> Iterator[tuple[int, Type]]:
        """``(id, type)`` for every type id from 1 (or only this split BTF's own ids)."""
        if include_base and self.base is not None:
            yield from self.base.types()
        self._decode_all()
        yield from enumerate(self._cache, self.type_id_start)

    def _decode_all(self) -> None:
        """Decode every type not decoded yet (the fast path behind :meth:`types`)."""
        cache = self._cache
        if None not in cache:
            return
        strings = self._strings
        strings.load_all()
        names = strings._cache
        get = strings.get
        w = self._words
        decoders = DECODER_BY_KIND
        # Hundreds of thousands of small acyclic objects: the cyclic GC would rescan them over
        # and over while they are being created (a third of the time); pause it meanwhile.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for idx, off in enumerate(self._offsets):
                if cache[idx] is None:
                    info = w[off + 1]
                    name = names.get(w[off])
                    if name is None:
                        name = get(w[off])
                    decoder = decoders[(info >> 24) & 0x1F]
                    assert decoder is not None  # the index pass rejects unknown kinds
                    cache[idx] = decoder(self, w, off, name, info, w[off + 2])
        finally:
            if gc_was_enabled:
                gc.enable()

    def __iter__(self) -> Iterator[tuple[int, Type]]:
        return self.types()

    def find(self, name: str, kind: Kind | None = None) -> list[int]:
        """Ids of the types called ``name`` (optionally only of ``kind``), base first, ascending."""
        names = self._names
        if names is None:
            names = self._names = self._build_names()
        found = list(self.base.find(name, kind)) if self.base is not None else []
        ids = names.get(name, ())
        if kind is None:
            found.extend(ids)
        else:
            found.extend(i for i in ids if self._kind(i) == kind)
        return found

    def find_one(self, name: str, kind: Kind | None = None) -> int:
        """The one type id called ``name``; BTFError when there is none or more than one."""
        ids = self.find(name, kind)
        what = f"{kind.name} {name!r}" if kind is not None else repr(name)
        if not ids:
            raise BTFError(f"no type {what} in this BTF")
        if len(ids) > 1:
            raise BTFError(f"type {what} is ambiguous: ids {ids[:10]}; pass a kind to narrow it")
        return ids[0]

    def _build_names(self) -> dict[str, list[int]]:
        strings = self._strings
        strings.load_all()
        cache = strings._cache
        get = strings.get
        w = self._words
        names: dict[str, list[int]] = {}
        gc_was_enabled = gc.isenabled()
        gc.disable()  # ~100k small lists: see _decode_all
        try:
            for tid, off in enumerate(self._offsets, self.type_id_start):
                name_off = w[off]
                if name_off:
                    name = cache.get(name_off)
                    if name is None:
                        name = get(name_off)
                    lst = names.get(name)
                    if lst is None:
                        names[name] = [tid]
                    else:
                        lst.append(tid)
        finally:
            if gc_was_enabled:
                gc.enable()
        return names

    def resolve(self, type_id: int) -> int:
        """Skip typedef/const/volatile/restrict/type_tag and return the underlying type id."""
        for _ in range(self._n + 1):
            if self._kind(type_id) not in _MODIFIERS:
                return type_id
            type_id = self[type_id].type_id  # type: ignore[union-attr]
        raise BTFError(f"type id {type_id} is part of a loop of modifiers (typedef/const/...)")

    @property
    def pointer_size(self) -> int:
        """Size of a pointer on the target: the size of ``long`` in this BTF, else 8."""
        if self._ptr_size is None:
            size = 8
            for name in ("long int", "long unsigned int", "unsigned long", "long"):
                ids = self.find(name, Kind.INT)
                if ids:
                    size = self[ids[0]].size  # type: ignore[union-attr]
                    break
            self._ptr_size = size
        return self._ptr_size

    def size_of(self, type_id: int) -> int:
        """Size in bytes of a value of ``type_id`` (arrays multiplied out, modifiers skipped)."""
        nelems = 1
        orig = type_id
        for _ in range(self._n + 1):
            t = self[type_id]
            kind = t.kind
            if kind in _SIZED:
                return nelems * t.size  # type: ignore[union-attr]
            if kind == Kind.PTR:
                return nelems * self.pointer_size
            if kind == Kind.ARRAY:
                assert isinstance(t, Array)
                nelems *= t.nelems
                type_id = t.elem_type_id
            elif kind in MODIFIER_KINDS or kind == Kind.VAR:
                type_id = t.type_id  # type: ignore[union-attr]
            else:
                raise BTFError(f"type id {orig} ({kind.name}) has no size")
        raise BTFError(f"type id {orig} is part of a reference loop")

    def __repr__(self) -> str:
        split = f", split on {len(self.base)} base ids" if self.base is not None else ""
        return f"<BTF {self._n} ids{split}>"

    # --- values (see pybpf.btf.values) -----------------------------------------------

    def decode_value(self, type_id: int, raw: bytes) -> object:
        """Decode ``raw`` bytes holding a value of ``type_id`` into a Python value."""
        from .values import decode_value

        return decode_value(self, type_id, raw)

    def encode_value(self, type_id: int, value: object) -> bytes:
        """Encode a Python value (as :meth:`decode_value` returns, a dict, an int, bytes) to bytes."""
        from .values import encode_value

        return encode_value(self, type_id, value)

    def format_value(self, type_id: int, raw: bytes) -> str:
        """Pretty-print ``raw`` as a value of ``type_id`` (``{ .pid = 12, .comm = "bash" }``)."""
        from .values import format_value

        return format_value(self, type_id, raw)


def _elf_section(data: bytes, name: str, path: str) -> bytes:
    from io import BytesIO

    from elftools.common.exceptions import ELFError as _PyELFError
    from elftools.elf.elffile import ELFFile

    try:
        section = ELFFile(BytesIO(data)).get_section_by_name(name)
        if section is None:
            raise BTFError(f"{path} has no {name} section (compile with -g to get BTF)")
        return bytes(section.data())
    except (_PyELFError, ValueError, EOFError, struct.error, KeyError, IndexError, AssertionError,
            OverflowError) as e:
        # pyelftools raises a mix of these on malformed files
        raise BTFError(f"{path} is not a readable ELF file: {e}") from e
