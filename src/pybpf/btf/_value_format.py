"""Formatting a decoded BTF value as one line of C-initialiser-like text (see :mod:`pybpf.btf.values`).

The text is rendered from what :func:`~pybpf.btf.values.decode_value` returns, so it shows
exactly the decoded value: structs/unions/datasecs as ``{ .name = value, ... }``, arrays as
``[a, b]``, char arrays as C strings, enums by enumerator name (the number when none
matches), pointers in hex, ``_Bool`` as ``true``/``false``.
"""

from __future__ import annotations

from typing import Any, Callable

from .values import Address, EnumInt, StructValue

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", 9: "\\t", 10: "\\n", 13: "\\r"}


def _c_string(data: bytes) -> str:
    out = []
    for b in data:
        escaped = _ESCAPES.get(b)
        if escaped is not None:
            out.append(escaped)
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"'


def _struct(value: StructValue) -> str:
    parts = [f".{name} = {format_decoded(v)}" for name, v in value.items()]
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def _list(value: list[Any]) -> str:
    return "[" + ", ".join(format_decoded(v) for v in value) + "]"


def _enum(value: EnumInt) -> str:
    return value.name if value.name else str(int(value))


FORMATTERS: dict[type, Callable[[Any], str]] = {
    StructValue: _struct, list: _list, bytes: _c_string, EnumInt: _enum, Address: hex,
    bool: lambda v: "true" if v else "false", float: repr, int: str,
}


def format_decoded(value: Any) -> str:
    """The text of a value as :func:`~pybpf.btf.values.decode_value` returns it."""
    return FORMATTERS.get(type(value), repr)(value)
