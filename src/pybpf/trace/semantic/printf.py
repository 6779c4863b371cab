"""printf-style format strings: parse the conversions and check argument types like bpftrace."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ..types import BufType, IntType, PointerType, Type


class ArgClass(enum.StrEnum):
    """What a conversion accepts (the word is the one bpftrace's messages use)."""

    INTEGER = "integer"
    STRING = "string"
    BUFFER = "buffer"


@dataclass(frozen=True)
class Conversion:
    """One ``%...`` conversion: its full ``text`` (``%-10lld``), ``conv`` letter(s) and class."""

    text: str
    conv: str
    accepts: ArgClass


_SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?"
                   r"(?P<len>hh|h|ll|l|z|j|t)?(?P<conv>rx|rh|[diouxXcspr])")
_CLASS = {"d": ArgClass.INTEGER, "i": ArgClass.INTEGER, "o": ArgClass.INTEGER, "u": ArgClass.INTEGER,
          "x": ArgClass.INTEGER, "X": ArgClass.INTEGER, "c": ArgClass.INTEGER, "p": ArgClass.INTEGER,
          "s": ArgClass.STRING, "r": ArgClass.BUFFER, "rx": ArgClass.BUFFER, "rh": ArgClass.BUFFER}


class FormatStringError(ValueError):
    """A format string is malformed; the analyser turns this into a TraceSemanticError."""


def conversions(fmt: str) -> list[Conversion]:
    """The conversions of ``fmt`` in order (``%%`` skipped)."""
    out: list[Conversion] = []
    i = 0
    while True:
        i = fmt.find("%", i)
        if i < 0:
            return out
        if fmt.startswith("%%", i):
            i += 2
            continue
        m = _SPEC.match(fmt, i)
        if not m:
            bad = fmt[i:i + 2]
            raise FormatStringError(f"Invalid format string: '{bad}' is not a supported conversion")
        if m.group("width") == "*" or m.group("prec") == "*":
            raise FormatStringError("Invalid format string: '*' width and precision are not supported")
        out.append(Conversion(m.group(), m.group("conv"), _CLASS[m.group("conv")]))
        i = m.end()


def classify(t: Type) -> ArgClass:
    """Which conversion class a value of type ``t`` satisfies."""
    if isinstance(t, (IntType, PointerType)):
        return ArgClass.INTEGER
    if isinstance(t, BufType):
        return ArgClass.BUFFER
    return ArgClass.STRING


def check_args(func: str, fmt: str, args: list[Type]) -> str | None:
    """None when ``args`` fit ``fmt``, else bpftrace's message for the first problem."""
    try:
        convs = conversions(fmt)
    except FormatStringError as e:
        return f"{func}: {e}"
    if len(args) > len(convs):
        return f"{func}: Too many arguments for format string ({len(args)} supplied, {len(convs)} expected)"
    if len(args) < len(convs):
        return f"{func}: Not enough arguments for format string ({len(args)} supplied, {len(convs)} expected)"
    for conv, t in zip(convs, args):
        got = classify(t)
        if conv.accepts is got:
            continue
        if conv.accepts is ArgClass.STRING and got is ArgClass.BUFFER:
            continue
        return (f"{func}: %{conv.conv} specifier expects a value of type {conv.accepts} "
                f"({got} supplied)")
    return None
