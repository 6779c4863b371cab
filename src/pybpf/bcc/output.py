"""Histogram printing in bcc's exact text formats (log2, linear, and the JSON-ish dict).

The ``format_*`` functions return the text; the table methods print it. ``vals[i]`` is the
count of bucket ``i``: for log2 histograms bucket ``i`` (>= 1) holds values in
``[2**(i-1), 2**i - 1]`` (``bpf_log2l``); bucket 0 is not printed, as in bcc.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

#: width of the star bar of a histogram row
STARS_MAX = 40
#: buckets of a log2 / linear histogram table
LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025

_LOG2_NARROW = ("     %-19s : count     distribution", "%10d -> %-10d : %-8d |%-*s|", STARS_MAX)
_LOG2_WIDE = ("               %-29s : count     distribution", "%20d -> %-20d : %-8d |%-*s|", STARS_MAX // 2)
_LINEAR = ("     %-13s : count     distribution", "        %-10d : %-8d |%-*s|")


def stars(val: int, val_max: int, width: int) -> str:
    """The bar of one row: ``width * val / val_max`` stars (at most ``width``); a value above
    ``val_max`` ends in ``+``."""
    if val_max <= 0:
        return ""
    n = int(min(width, max(0, width * val / val_max)))
    text = "*" * n
    if val > val_max:
        text = text[:-1] + "+"
    return text


def _extent(vals: Sequence[int]) -> tuple[int, int]:
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    return idx_max, val_max


def format_log2_hist(vals: Sequence[int], val_type: str = "value", strip_leading_zero: bool | None = None) -> str:
    """The text bcc's ``print_log2_hist`` prints for one histogram (no trailing newline;
    empty when no bucket above 0 has a count)."""
    idx_max, val_max = _extent(vals)
    header, body, width = _LOG2_NARROW if idx_max <= 32 else _LOG2_WIDE
    lines: list[str] = []
    if idx_max > 0:
        lines.append(header % val_type)
    strip = bool(strip_leading_zero)
    for i in range(1, idx_max + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        val = vals[i]
        if strip and not val:
            continue
        strip = False
        lines.append(body % (low, high, val, width, stars(val, val_max, width)))
    return "\n".join(lines)


def format_linear_hist(vals: Sequence[int], val_type: str = "value", strip_leading_zero: bool | None = None) -> str:
    """The text bcc's ``print_linear_hist`` prints for one histogram (bucket ``i`` is value ``i``)."""
    idx_max, val_max = _extent(vals)
    header, body = _LINEAR
    lines: list[str] = []
    if idx_max >= 0:
        lines.append(header % val_type)
    strip = bool(strip_leading_zero)
    for i in range(0, idx_max + 1):
        val = vals[i]
        if strip and not val:
            continue
        strip = False
        lines.append(body % (i, val, STARS_MAX, stars(val, val_max, STARS_MAX)))
    return "\n".join(lines)


def json_hist(vals: Sequence[int], val_type: str = "value", section_bucket: tuple[str, Any] | None = None,
              *, now: float | None = None) -> dict[str, Any]:
    """The dict bcc's ``print_json_hist`` prints: ``ts``, ``val_type`` and ``data`` (one
    ``interval-start``/``interval-end``/``count`` entry per log2 bucket up to the last non-zero
    one), plus ``{section_header: bucket}`` for a section."""
    last = max((i for i, v in enumerate(vals) if v), default=0)
    data: list[dict[str, int]] = []
    index, prev = 1, 0
    for i in range(1, last + 1):
        index *= 2
        data.append({"interval-start": prev, "interval-end": index - 1, "count": int(vals[i])})
        prev = index
    hist: dict[str, Any] = {"ts": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)), "val_type": val_type,
                            "data": data}
    if section_bucket:
        hist[section_bucket[0]] = section_bucket[1]
    return hist


def section_title(section_header: str, bucket: Any, section_print_fn: Any = None) -> str:
    """The line above each section of a histogram keyed by (section, slot): ``\\n<header> = <bucket>``."""
    shown = section_print_fn(bucket) if section_print_fn else repr(bucket)
    return f"\n{section_header} = {shown}"


__all__ = ["LINEAR_INDEX_MAX", "LOG2_INDEX_MAX", "STARS_MAX", "format_linear_hist", "format_log2_hist", "json_hist",
           "section_title", "stars"]
