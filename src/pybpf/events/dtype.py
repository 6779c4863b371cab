"""numpy dtypes from BTF types: the record layout of ring/perf buffer batches.

``btf_dtype(btf, type_id)`` maps a BTF struct to a numpy structured dtype with the same
offsets and size: integers and enums to sized ints, ``char[N]`` to ``S<N>`` bytes fields,
other arrays to sub-array fields, nested structs recursively, pointers to ``u8``, unions to
opaque ``V<size>`` bytes. Bitfields have no numpy form and are refused with the member name.

>>> import numpy as np
>>> from pybpf.btf import BTF, Int, IntEncoding, Struct, Member
>>> btf = BTF.from_types([Int("int", 4, IntEncoding.SIGNED), Struct("s", 8, (Member("a", 1, 0), Member("b", 1, 32)))])
>>> btf_dtype(btf, 2).names
('a', 'b')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from ..btf import Array, Enum, Enum64, Float, Int, IntEncoding, Kind, Pointer, Struct, Union_
from .errors import RecordTypeError

if TYPE_CHECKING:
    import numpy as np

    from ..btf import BTF

#: what a caller may give as a record type
RecordType = Union[str, int, "np.dtype[Any]", type]


def _int(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Int)
    if t.encoding & IntEncoding.BOOL:
        return np.dtype("?") if t.size == 1 else np.dtype(f"<u{t.size}")
    if t.size not in (1, 2, 4, 8):
        return np.dtype(f"V{t.size}")  # __int128: opaque bytes
    return np.dtype(f"<{'i' if t.signed else 'u'}{t.size}")


def _enum(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, (Enum, Enum64))
    return np.dtype(f"<{'i' if t.signed else 'u'}{t.size}")


def _float(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Float)
    return np.dtype(f"<f{t.size}") if t.size in (2, 4, 8) else np.dtype(f"V{t.size}")


def _pointer(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Pointer)
    return np.dtype(f"<u{btf.pointer_size}")


def _is_char(btf: BTF, type_id: int) -> bool:
    t = btf[btf.resolve(type_id)]
    # plain ``char`` (not ``unsigned char``/``__u8``, which stay numeric arrays)
    return isinstance(t, Int) and t.size == 1 and (t.name == "char" or bool(t.encoding & IntEncoding.CHAR))


def _array(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Array)
    if _is_char(btf, t.elem_type_id):
        return np.dtype(f"S{t.nelems}")  # char[N]: a bytes field (trailing NULs stripped by numpy)
    elem = btf_dtype(btf, t.elem_type_id)
    return np.dtype((elem, (t.nelems,)))


def _union(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Union_)
    return np.dtype(f"V{t.size}")


def _struct(btf: BTF, t: Any, type_id: int) -> np.dtype[Any]:
    import numpy as np

    assert isinstance(t, Struct)
    names: list[str] = []
    formats: list[np.dtype[Any]] = []
    offsets: list[int] = []
    for i, member in enumerate(t.members):
        if member.bitfield_size or member.bit_offset % 8:
            raise RecordTypeError(
                f"struct {t.name or '<anon>'} member {member.name!r} is a bitfield, which numpy cannot "
                "represent; use whole integer members in records read in batches (or read raw bytes)"
            )
        names.append(member.name or f"_anon{i}")
        formats.append(btf_dtype(btf, member.type_id))
        offsets.append(member.byte_offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": t.size})


_BY_KIND: dict[Kind, Callable[[BTF, Any, int], np.dtype[Any]]] = {
    Kind.INT: _int,
    Kind.ENUM: _enum,
    Kind.ENUM64: _enum,
    Kind.FLOAT: _float,
    Kind.PTR: _pointer,
    Kind.ARRAY: _array,
    Kind.STRUCT: _struct,
    Kind.UNION: _union,
}


def btf_dtype(btf: BTF, type_id: int) -> np.dtype[Any]:
    """The numpy dtype of BTF type ``type_id`` (typedefs and qualifiers skipped)."""
    resolved = btf.resolve(type_id)
    t = btf[resolved]
    handler = _BY_KIND.get(t.kind)
    if handler is None:
        raise RecordTypeError(f"BTF type {btf.name_of(resolved) or resolved} ({t.kind.name}) has no numpy form")
    return handler(btf, t, resolved)


def struct_id(btf: BTF, name: str) -> int:
    """The id of ``struct name`` (or a typedef of that name) in ``btf``."""
    for kind in (Kind.STRUCT, Kind.TYPEDEF, Kind.UNION):
        ids = btf.find(name, kind)
        if ids:
            return ids[0]
    raise RecordTypeError(
        f"no struct {name!r} in the object's BTF; compile with -g and give the type a global use, e.g. "
        f"`struct {name} *{name}_type __attribute__((unused));` (clang emits no BTF for types of locals only)"
    )


def btf_of(source: object) -> BTF | None:
    """The BTF held by ``source``: a BTF, an ObjectSpec (``.btf``), a Collection (``.spec.btf``),
    a Map loaded with typed keys/values (``.btf``), or None."""
    from ..btf import BTF

    if source is None or isinstance(source, BTF):
        return source
    found = getattr(source, "btf", None)
    if isinstance(found, BTF):
        return found
    spec = getattr(source, "spec", None)
    found = getattr(spec, "btf", None)
    return found if isinstance(found, BTF) else None


def resolve_record_type(record_type: RecordType | None, btf: BTF | None) -> np.dtype[Any] | None:
    """Turn what the user gave (struct name, BTF id, numpy dtype, ctypes type) into a dtype."""
    if isinstance(record_type, str):
        record_type = record_type.removeprefix("struct ").strip()
    if record_type is None:
        return None
    import numpy as np  # imported when a record type is used (batches, numpy records), not before

    if isinstance(record_type, np.dtype):
        return record_type
    if isinstance(record_type, type):
        return np.dtype(record_type)  # ctypes structures and numpy scalar types
    if btf is None:
        raise RecordTypeError(
            f"record_type={record_type!r} needs the object's BTF: pass btf=<the Collection or its ObjectSpec> "
            "(compiled with -g), or give a numpy dtype instead"
        )
    type_id = struct_id(btf, record_type) if isinstance(record_type, str) else int(record_type)
    return btf_dtype(btf, type_id)


def record_decoder(dtype: np.dtype[Any] | None, what: str = "record") -> Callable[[bytes], Any] | None:
    """A function from one raw ``what`` (a ring record, a perf sample) to its numpy record,
    or None when there is no record type (records stay bytes).

    A raw record shorter than the record type raises :class:`RecordTypeError`.
    """
    if dtype is None:
        return None
    import numpy as np

    itemsize = dtype.itemsize

    def decode(raw: bytes) -> Any:
        if len(raw) < itemsize:
            raise RecordTypeError(f"a {len(raw)}-byte {what} is shorter than its record type ({itemsize} bytes)")
        return np.frombuffer(raw, dtype, count=1)[0]

    return decode


__all__ = ["RecordType", "btf_dtype", "btf_of", "record_decoder", "resolve_record_type", "struct_id"]
