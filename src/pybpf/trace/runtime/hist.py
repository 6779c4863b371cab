"""Histogram bucket math and bar rendering, as bpftrace prints ``hist()`` and ``lhist()`` maps.

A histogram value is a list of bucket counts:

- ``hist`` (log2): bucket 0 counts negative values, bucket 1 counts 0, bucket ``k >= 2`` counts
  ``[2**(k-2), 2**(k-1))`` (so bucket 2 is ``[1]``).
- ``lhist(lo, hi, step)``: bucket 0 counts values below ``lo``, bucket ``k`` in ``1..n`` counts
  ``[lo + (k-1)*step, lo + k*step)``, and the last bucket counts values ``>= hi``.

Only the buckets from the first to the last non-empty one are shown, each line as
``label`` (left-aligned in 16 columns), the count (right-aligned in 8), and a 52-column bar of
``@`` scaled to the largest count::

    [4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: columns of the ``@`` bar between the ``|``
BAR_WIDTH = 52
#: columns of the bucket label (left-aligned) and of the count (right-aligned)
LABEL_WIDTH = 16
COUNT_WIDTH = 8

_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def size_label(n: int) -> str:
    """``n`` with bpftrace's binary suffix when it is an exact multiple: 1024 -> ``1K``, 3072 -> ``3K``."""
    if n == 0:
        return "0"
    power = 0
    while power + 1 < len(_SUFFIXES) and n % (1 << (10 * (power + 1))) == 0:
        power += 1
    return f"{n >> (10 * power)}{_SUFFIXES[power]}" if power else str(n)


@dataclass(frozen=True)
class Bucket:
    """One bucket: ``lo``/``hi`` are inclusive bounds (None: unbounded), ``count`` its count."""

    lo: int | None
    hi: int | None
    count: int


def log2_bucket_index(value: int) -> int:
    """The ``hist()`` bucket of ``value`` (what the BPF side computes)."""
    if value < 0:
        return 0
    if value == 0:
        return 1
    return value.bit_length() + 1


def linear_bucket_index(value: int, lo: int, hi: int, step: int) -> int:
    """The ``lhist(lo, hi, step)`` bucket of ``value``."""
    if value < lo:
        return 0
    if value >= hi:
        return (hi - lo) // step + 1
    return (value - lo) // step + 1


def log2_buckets(counts: Sequence[int]) -> list[Bucket]:
    """Every bucket of a ``hist()`` value with its bounds."""
    out: list[Bucket] = []
    for k, c in enumerate(counts):
        if k == 0:
            out.append(Bucket(None, -1, c))
        elif k == 1:
            out.append(Bucket(0, 0, c))
        else:
            lo = 1 << (k - 2)
            out.append(Bucket(lo, 2 * lo - 1, c))
    return out


def linear_buckets(counts: Sequence[int], lo: int, hi: int, step: int) -> list[Bucket]:
    """Every bucket of an ``lhist(lo, hi, step)`` value with its bounds.

    Bucket ``(hi - lo) // step + 1`` counts values ``>= hi``; any bucket past it (storage may keep
    a spare one) is added to it.
    """
    over = (hi - lo) // step + 1
    out: list[Bucket] = []
    for k, c in enumerate(counts[:over]):
        if k == 0:
            out.append(Bucket(None, lo - 1, c))
        else:
            b = lo + (k - 1) * step
            out.append(Bucket(b, b + step - 1, c))
    # labelled from ``hi``, as bpftrace does, even when step does not divide hi - lo (then the
    # values in [lo + (over - 1) * step, hi) are counted here too)
    out.append(Bucket(hi, None, sum(counts[over:])))
    return out


def shown(buckets: Sequence[Bucket]) -> list[Bucket]:
    """The buckets from the first to the last non-empty one (none when all are empty)."""
    nz = [i for i, b in enumerate(buckets) if b.count]
    return list(buckets[nz[0]:nz[-1] + 1]) if nz else []


def log2_label(b: Bucket) -> str:
    """``(..., 0)``, ``[0]``, ``[1]``, ``[2, 4)``, ``[1K, 2K)``."""
    if b.lo is None:
        return "(..., 0)"
    if b.hi is not None and b.lo == b.hi:
        return f"[{b.lo}]"
    assert b.hi is not None
    return f"[{size_label(b.lo)}, {size_label(b.hi + 1)})"


def linear_label(b: Bucket) -> str:
    """``(..., lo)``, ``[a, b)`` and ``[hi, ...)``, with ``K``/``M`` suffixes on exact multiples."""
    if b.lo is None:
        assert b.hi is not None
        return f"(..., {size_label(b.hi + 1)})"
    if b.hi is None:
        return f"[{size_label(b.lo)}, ...)"
    return f"[{size_label(b.lo)}, {size_label(b.hi + 1)})"


def bar(count: int, max_count: int, width: int = BAR_WIDTH) -> str:
    """``|@@@@   |``: ``count * width // max_count`` at signs padded to ``width``."""
    n = count * width // max_count if max_count else 0
    return "|" + "@" * n + " " * (width - n) + "|"


def render(buckets: Sequence[Bucket], *, linear: bool) -> str:
    """The lines of a histogram (each ending in a newline), only the shown range."""
    rows = shown(buckets)
    if not rows:
        return ""
    top = max(b.count for b in rows)
    label = linear_label if linear else log2_label
    return "".join(f"{label(b):<{LABEL_WIDTH}}{b.count:>{COUNT_WIDTH}} {bar(b.count, top)}\n" for b in rows)


def json_buckets(buckets: Sequence[Bucket]) -> list[dict[str, int]]:
    """bpftrace's JSON for the shown buckets: ``{"min": a, "max": b, "count": n}``.

    An unbounded side is left out (``{"max": -1, "count": n}`` for negatives).
    """
    out: list[dict[str, int]] = []
    for b in shown(buckets):
        d: dict[str, int] = {}
        if b.lo is not None:
            d["min"] = b.lo
        if b.hi is not None:
            d["max"] = b.hi
        d["count"] = b.count
        out.append(d)
    return out
