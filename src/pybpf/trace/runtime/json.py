"""``-f json``: bpftrace's NDJSON records, one JSON object per line.

Record shapes (bpftrace 0.17)::

    {"type": "attached_probes", "data": {"probes": 1}}
    {"type": "printf", "data": "hi 5\\n"}
    {"type": "time", "data": "02:54\\n"}
    {"type": "join", "data": "/bin/echo a b"}
    {"type": "value", "data": [1,"a"]}                       print(value)
    {"type": "map", "data": {"@c": {"1": 1, "2": 2}}}        count/sum/min/max/plain maps
    {"type": "stats", "data": {"@a": 3}}                     avg maps
    {"type": "stats", "data": {"@s": {"count": 1, "average": 4, "total": 4}}}
    {"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}}
    {"type": "cat", "data": "vm\\n"}                         cat(); system() is "syscall"
    {"type": "lost_events", "data": {"events": 3}}

Objects use ``", "`` and ``": "`` separators, tuples ``[1,"a"]`` none; keys of several elements
are joined with ``,``. Strings escape ``"``, ``\\``, and control characters.

Known deviations, on purpose (bpftrace 0.17 bugs, see tests/unit/test_trace_output_golden.py):
non-ASCII bytes are written as UTF-8 text, where bpftrace writes a sign-extended ``char``
(``\\uffffffc3``); ``hist`` bucket bounds at and above 2**31 are exact, where bpftrace
computes them in 32-bit ``int`` (``{"min": -2147483648, "max": 0}`` for ``[2G, 4G)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import hist as H
from .aggregations import Agg, MapData, Stats, format_value, select

_NAMED = {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r", 0x08: "\\b", 0x0C: "\\f"}


def quote(s: str | bytes) -> str:
    """A JSON string literal as bpftrace writes it."""
    data = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    out = ['"']
    for b in data:
        named = _NAMED.get(b)
        if named is not None:
            out.append(named)
        elif b < 0x20:
            out.append(f"\\u{b:04x}")
        else:
            out.append(chr(b))
    out.append('"')
    # bytes >= 0x80 were kept as Latin-1 code points: turn them back into UTF-8 text
    return "".join(out).encode("latin-1").decode("utf-8", "replace")


def value(v: Any) -> str:
    """A plain value: integers as numbers, strings quoted, tuples as ``[a,b]``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, tuple):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, bytes):
        return quote(v.split(b"\0", 1)[0])
    return quote(str(v))


def record(kind: str, data: str) -> str:
    """One NDJSON line (with its newline) whose ``data`` is already JSON text."""
    return f'{{"type": "{kind}", "data": {data}}}\n'


def _obj(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{quote(k)}: {v}" for k, v in pairs) + "}"


def _key(key: tuple[Any, ...]) -> str:
    return ",".join(format_value(k) for k in key)


def _stats(v: Stats) -> str:
    return _obj([("count", str(v.count)), ("average", str(v.average)), ("total", str(v.total))])


def _hist(m: MapData, counts: list[int]) -> str:
    return "[" + ", ".join(_obj([(k, str(n)) for k, n in b.items()])
                           for b in H.json_buckets(m.buckets(counts))) + "]"


_KIND = {Agg.AVG: "stats", Agg.STATS: "stats", Agg.HIST: "hist", Agg.LHIST: "hist"}


def map_record(m: MapData, *, top: int = 0, div: int = 1) -> str:
    """The record of one map (``print(@m)`` and at exit); ``""`` for a map without entries."""
    encoders: dict[Agg, Callable[[Any], str]] = {
        Agg.AVG: lambda v: str(v.average),
        Agg.STATS: _stats,
        Agg.HIST: lambda v: _hist(m, v),
        Agg.LHIST: lambda v: _hist(m, v),
    }
    encode = encoders.get(m.agg, value)
    items = select(m, top, div)
    if not items:
        return ""
    if m.keyed:
        data = _obj([(_key(k), encode(v)) for k, v in items])
    else:
        data = encode(items[0][1])
    return record(_KIND.get(m.agg, "map"), _obj([(m.name, data)]))


def attached_probes(n: int) -> str:
    """``{"type": "attached_probes", "data": {"probes": n}}``."""
    return record("attached_probes", _obj([("probes", str(n))]))


def text_record(kind: str, text: str | bytes) -> str:
    """printf/time/join/cat/system output."""
    return record(kind, quote(text))


def value_record(v: Any) -> str:
    """``print(value)``."""
    return record("value", value(v))


def lost_events(n: int) -> str:
    """``{"type": "lost_events", "data": {"events": n}}``."""
    return record("lost_events", _obj([("events", str(n))]))


def exit_records(maps: list[MapData]) -> str:
    """What ``-f json`` prints when the program ends: two empty lines, then a record per map."""
    return "\n\n" + "".join(map_record(m) for m in sorted(maps, key=lambda m: m.name))
