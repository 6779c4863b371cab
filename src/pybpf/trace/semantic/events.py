"""Event record layouts (printf/print/time/...): ``u64 id`` header then C-aligned fields."""

from __future__ import annotations

from ..types import Type
from .model import EVENT_HEADER_SIZE, EventField, EventKind, EventLayout


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def layout(event_id: int, kind: EventKind, types: list[Type], *, fmt: str = "", map_name: str = "",
           node_id: int = 0, extra: tuple[object, ...] = ()) -> EventLayout:
    """Place ``types`` after the 8-byte header at C alignment; the size is a multiple of 8."""
    off = EVENT_HEADER_SIZE
    fields: list[EventField] = []
    for t in types:
        off = _round_up(off, max(1, min(8, t.align)))
        fields.append(EventField(t, off))
        off += t.size
    return EventLayout(event_id, kind, tuple(fields), _round_up(off, 8), fmt, map_name, node_id, extra)
