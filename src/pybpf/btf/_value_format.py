"""Formatting the bytes of a BTF type as one line of C-initialiser-like text (see :mod:`pybpf.btf.values`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BTFError
from .types import Array, Datasec, Enum, Enum64, Int, IntEncoding, Member, Pointer, Struct, Type, Union_, Var
from .values import (
    _MAX_DEPTH, _MAX_ZERO_SIZE_ELEMS, EnumInt, _bitfield, _enum_lookup, _is_char, _need, _plan, _resolved,
)

if TYPE_CHECKING:
    from .container import BTF

# --- format ---------------------------------------------------------------------------


def _fmt_bytes(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append({9: "\\t", 10: "\\n", 13: "\\r"}.get(b, f"\\x{b:02x}"))
    return '"' + "".join(out) + '"'


def _fmt_scalar(t: Type, value: Any) -> str:
    if isinstance(t, Pointer):
        return hex(value)
    if isinstance(value, EnumInt):
        return value.name if value.name else str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, (float, bytes)) else str(value)


def _fmt_members(btf: BTF, members: Sequence[Member], raw: memoryview, depth: int, parts: list[str]) -> None:
    for m in members:
        if m.bitfield_size:
            t = btf[btf.resolve(m.type_id)]
            value: Any = _bitfield(btf, m, raw)
            if isinstance(t, (Enum, Enum64)):
                value = _enum_lookup(t, value)
            elif isinstance(t, Int) and t.encoding & IntEncoding.BOOL:
                value = bool(value)
            parts.append(f".{m.name} = {_fmt_scalar(t, value)}")
            continue
        if not m.name:
            t = btf[btf.resolve(m.type_id)]
            if isinstance(t, (Struct, Union_)):  # anonymous member: its fields inline, as in decode_value
                _need(btf, m.type_id, raw[m.byte_offset:], t)
                _fmt_members(btf, t.members, raw[m.byte_offset:], depth + 1, parts)
            continue
        parts.append(f".{m.name} = {_fmt(btf, m.type_id, raw[m.byte_offset:], depth + 1)}")


def _fmt(btf: BTF, type_id: int, raw: memoryview, depth: int) -> str:
    if depth > _MAX_DEPTH:
        raise BTFError(f"type id {type_id} nests more than {_MAX_DEPTH} levels deep")
    rid, t = _resolved(btf, type_id)
    parts: list[str] = []
    if isinstance(t, (Struct, Union_)):
        _need(btf, rid, raw, t)
        _fmt_members(btf, t.members, raw, depth, parts)
    elif isinstance(t, Datasec):
        for v in t.vars:
            var = btf[v.type_id]
            if isinstance(var, Var):
                if v.offset + v.size > len(raw):
                    raise BTFError(f"variable {var.name!r} of {t.name} lies outside the {len(raw)}-byte value")
                parts.append(f".{var.name} = {_fmt(btf, var.type_id, raw[v.offset:v.offset + v.size], depth + 1)}")
    elif isinstance(t, Array):
        _need(btf, rid, raw, t)
        eid, elem = _resolved(btf, t.elem_type_id)
        if _is_char(elem):
            data = bytes(raw[:t.nelems])
            nul = data.find(b"\0")
            return _fmt_bytes(data if nul < 0 else data[:nul])
        esize = btf.size_of(eid)
        if esize == 0 and t.nelems > _MAX_ZERO_SIZE_ELEMS:
            raise BTFError(f"array of {t.nelems} zero-size elements (type id {rid}) is not a decodable value")
        items = (_fmt(btf, eid, raw[i * esize:(i + 1) * esize], depth + 1) for i in range(t.nelems))
        return "[" + ", ".join(items) + "]"
    elif isinstance(t, Var):
        return _fmt(btf, t.type_id, raw, depth + 1)
    else:
        _need(btf, rid, raw, t)
        return _fmt_scalar(t, _plan(btf, rid)(bytes(raw), 0))
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def format_raw(btf: BTF, type_id: int, raw: bytes | bytearray | memoryview) -> str:
    """The text of ``raw`` as a value of ``type_id`` (:func:`pybpf.btf.values.format_value`)."""
    _plan(btf, type_id)  # checks the layout, as decode_value does
    return _fmt(btf, type_id, memoryview(bytes(raw)), 0)
