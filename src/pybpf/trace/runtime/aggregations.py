"""Printing maps as bpftrace does: at exit, on Ctrl-C, and for ``print(@m[, top[, div]])``.

A map is given to this module as a :class:`MapData`: its name, its aggregation kind (or None for
a plain value map), for histograms the bucket parameters, and its entries as decoded Python
values (``key`` tuple -> value), where a value is

- ``int`` for count/sum/min/max and integer maps,
- :class:`Stats` (count, total) for avg/stats,
- ``list[int]`` of bucket counts for hist/lhist (see :mod:`.hist`),
- ``str``/``bytes``/``tuple``/other printable values for plain maps.

A scalar map (``@x = ...``) has the single key ``()``.

Rules (observed from bpftrace 0.17):

- maps are printed in name order; before them, at exit, two empty lines;
- count/sum/min/max/int maps are sorted by value (ascending), avg and stats by average,
  hist/lhist by their total count, maps of other values by key; ties are broken by key
  (bpftrace leaves them in hash order);
- avg and stats maps are followed by an empty line, and so is each hist/lhist entry;
- a keyed map without entries prints an empty line (and no record in JSON);
- a scalar count/sum/min/max map that has no entry prints 0.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import hist as H
from .formatting import Buffer, escape_buffer


class Agg(enum.StrEnum):
    """What a map's values are (the aggregation function, or a plain value)."""

    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    STATS = "stats"
    HIST = "hist"
    LHIST = "lhist"
    VALUE = "value"


@dataclass(frozen=True)
class Stats:
    """An avg/stats value: how many values were seen and their total."""

    count: int
    total: int

    @property
    def average(self) -> int:
        """``total / count`` truncated toward zero (C division), 0 when empty."""
        if not self.count:
            return 0
        q = abs(self.total) // self.count
        return -q if self.total < 0 else q


@dataclass
class MapData:
    """A snapshot of one map ready to print.

    ``name`` includes the ``@`` (``"@"`` for the anonymous map). ``lhist`` is ``(lo, hi, step)``.
    ``keyed`` is False for a scalar map (its only key is ``()``).
    """

    name: str
    agg: Agg
    entries: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    keyed: bool = True
    lhist: tuple[int, int, int] = (0, 0, 0)

    def buckets(self, counts: list[int]) -> list[H.Bucket]:
        """The buckets of a histogram value of this map."""
        if self.agg is Agg.LHIST:
            return H.linear_buckets(counts, *self.lhist)
        return H.log2_buckets(counts)


_INT_AGGS = frozenset({Agg.COUNT, Agg.SUM, Agg.MIN, Agg.MAX})
_HISTS = frozenset({Agg.HIST, Agg.LHIST})


# ------------------------------------------------------------------ values and keys

def format_value(v: Any) -> str:
    """A key element or plain value as bpftrace's text output shows it (tuples as ``(1, a)``)."""
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x) for x in v) + ")"
    if isinstance(v, Buffer):
        return escape_buffer(v)
    if isinstance(v, bytes):
        return v.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(v)


def format_key(key: tuple[Any, ...]) -> str:
    """``[1, x]`` for a key tuple, ``""`` for a scalar map."""
    return "[" + ", ".join(format_value(k) for k in key) + "]" if key else ""


def _sort_token(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int):
        return (0, v)
    if isinstance(v, tuple):
        return (2, tuple(_sort_token(x) for x in v))
    return (1, format_value(v))


def _key_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_sort_token(k) for k in key)


def _value_order(agg: Agg) -> Callable[[Any], Any] | None:
    if agg in _INT_AGGS:
        return lambda v: v
    if agg in (Agg.AVG, Agg.STATS):
        return lambda v: v.average
    if agg in _HISTS:
        return sum
    return None


def sorted_entries(m: MapData) -> list[tuple[tuple[Any, ...], Any]]:
    """The entries in bpftrace's print order (see the module docstring)."""
    items = sorted(m.entries.items(), key=lambda kv: _key_order(kv[0]))
    by_value = _value_order(m.agg)
    if m.agg is Agg.VALUE and all(isinstance(v, int) for _, v in items):
        by_value = _value_order(Agg.COUNT)
    if by_value is not None:
        items.sort(key=lambda kv: by_value(kv[1]))
    return items


def with_scalar_default(m: MapData) -> MapData:
    """A scalar count/sum/min/max/avg/stats map with no entry reads as zero."""
    if m.keyed or m.entries:
        return m
    zero: dict[Agg, Any] = {Agg.AVG: Stats(0, 0), Agg.STATS: Stats(0, 0)}
    default = zero.get(m.agg, 0 if m.agg in _INT_AGGS else None)
    if default is None:
        return m
    return MapData(m.name, m.agg, {(): default}, keyed=False, lhist=m.lhist)


def select(m: MapData, top: int = 0, div: int = 1) -> list[tuple[tuple[Any, ...], Any]]:
    """Sorted entries, only the last ``top`` when ``top > 0``, values divided by ``div``."""
    items = sorted_entries(with_scalar_default(m))
    if top > 0:
        items = items[-top:]
    if div not in (0, 1):
        items = [(k, _divide(m.agg, v, div)) for k, v in items]
    return items


def _divide(agg: Agg, v: Any, div: int) -> Any:
    if isinstance(v, Stats):
        return Stats(v.count, int(v.total / div))
    if isinstance(v, int):
        return int(v / div)
    return v


# ------------------------------------------------------------------ text

def _plain(m: MapData, items: list[tuple[tuple[Any, ...], Any]]) -> str:
    return "".join(f"{m.name}{format_key(k)}: {format_value(v)}\n" for k, v in items)


def _avg(m: MapData, items: list[tuple[tuple[Any, ...], Any]]) -> str:
    return "".join(f"{m.name}{format_key(k)}: {v.average}\n" for k, v in items) + "\n"


def _stats(m: MapData, items: list[tuple[tuple[Any, ...], Any]]) -> str:
    return "".join(f"{m.name}{format_key(k)}: count {v.count}, average {v.average}, total {v.total}\n"
                   for k, v in items) + "\n"


def _hist(m: MapData, items: list[tuple[tuple[Any, ...], Any]]) -> str:
    return "".join(f"{m.name}{format_key(k)}: \n" + H.render(m.buckets(v), linear=m.agg is Agg.LHIST) + "\n"
                   for k, v in items)


_TEXT: dict[Agg, Callable[[MapData, list[tuple[tuple[Any, ...], Any]]], str]] = {
    Agg.COUNT: _plain, Agg.SUM: _plain, Agg.MIN: _plain, Agg.MAX: _plain, Agg.VALUE: _plain,
    Agg.AVG: _avg, Agg.STATS: _stats, Agg.HIST: _hist, Agg.LHIST: _hist,
}


def map_text(m: MapData, *, top: int = 0, div: int = 1) -> str:
    """One map as ``print(@m, top, div)`` shows it."""
    items = select(m, top, div)
    if not items:
        return "\n"
    return _TEXT[m.agg](m, items)


def maps_text(maps: Iterable[MapData]) -> str:
    """Every map in name order, as printed at exit (without the leading empty lines)."""
    return "".join(map_text(m) for m in sorted(maps, key=lambda m: m.name))


def exit_text(maps: Iterable[MapData]) -> str:
    """What bpftrace prints when the program ends: two empty lines, then the maps."""
    return "\n\n" + maps_text(maps)


def clear(entries: Mapping[tuple[Any, ...], Any]) -> dict[tuple[Any, ...], Any]:
    """``clear(@m)``: no entries left."""
    return {}


def zero(m: MapData) -> MapData:
    """``zero(@m)``: every entry kept with a zero value."""
    def z(v: Any) -> Any:
        if isinstance(v, Stats):
            return Stats(0, 0)
        if isinstance(v, list):
            return [0] * len(v)
        return 0 if isinstance(v, int) else v
    return MapData(m.name, m.agg, {k: z(v) for k, v in m.entries.items()}, keyed=m.keyed, lhist=m.lhist)
