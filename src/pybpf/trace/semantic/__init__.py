"""Semantic analysis of bpftrace programs: ``analyse(program, env=Env()) -> TypedProgram``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import (
    EVENT_HEADER_SIZE, ContextKind, Env, EventField, EventKind, EventLayout, FieldBase, FieldInfo, MapInfo,
    ProbeInfo, TypedProgram,
)

if TYPE_CHECKING:
    from .. import ast as A

__all__ = [
    "analyse", "Env", "TypedProgram", "MapInfo", "ProbeInfo", "FieldInfo", "FieldBase", "EventLayout",
    "EventField", "EventKind", "ContextKind", "EVENT_HEADER_SIZE",
]


def analyse(program: A.Program, *, env: Env | None = None) -> TypedProgram:
    """Type-check ``program``; raises :class:`~pybpf.trace.errors.TraceSemanticError` on the first error.

    >>> from pybpf.trace import parse
    >>> tp = analyse(parse('BEGIN { @n[comm] = count(); printf("%d\\\\n", 1); }'))
    >>> str(tp.maps["@n"].value), len(tp.events)
    ('count', 1)
    """
    from .analyser import Analyser  # here: the runtime imports .model, and must not pay for the analyser

    return Analyser(program, env or Env()).run()
