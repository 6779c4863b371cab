"""What a compiled bpftrace program tells its runtime: the layout of each event record it sends
through the ring buffer and the key and value types of its maps.

Code generation writes these and the runtime reads them; a program from the cache is made of
them, so they live apart from :mod:`pybpf.trace.semantic.model` (which re-exports them): a
cached launch imports neither the analyser's model nor its environment.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import Type


@dataclass(frozen=True)
class MapInfo:
    """A map's ``key`` type (None for a scalar map; a TupleType for several keys) and ``value`` type."""

    name: str
    key: Type | None
    value: Type


class EventKind(enum.StrEnum):
    """Records sent from BPF to the runtime through the ring buffer."""

    PRINTF = "printf"
    PRINT = "print"          # print(value) / print(@map)
    TIME = "time"
    JOIN = "join"
    EXIT = "exit"
    CAT = "cat"
    SYSTEM = "system"
    CLEAR = "clear"
    ZERO = "zero"
    WATCH = "watch"          # watchpoint:FUNC+argN: the address to watch (node_id: the attach point)
    UNWATCH = "unwatch"      # unwatch(addr): remove the watchpoints set on addr


@dataclass(frozen=True)
class EventField:
    """One value in an event record, at ``offset`` from the record start."""

    type: Type
    offset: int


#: every event record starts with this header: u64 event id
EVENT_HEADER_SIZE = 8


@dataclass(frozen=True)
class EventLayout:
    """Layout of one event record: ``u64 id`` at offset 0, then ``fields`` (C-aligned).

    ``fmt`` is the printf/time/system/cat format string, ``map`` the map name for
    ``print(@m)``/``clear``/``zero``, ``node_id`` the call that emits it.
    """

    id: int
    kind: EventKind
    fields: tuple[EventField, ...]
    size: int
    fmt: str = ""
    map: str = ""
    node_id: int = 0
    #: print(@m, top, div) / join separator / exit code ... extra constant arguments
    extra: tuple[object, ...] = ()
