"""The bcc histogram printers, against golden text in bcc's exact format."""

from __future__ import annotations

import ctypes as ct
from typing import Any

import pytest

from pybpf.bcc import output
from pybpf.bcc.tables.base import TableBase

BAR = 40


def row(low: int, high: int, count: int, stars: int, width: int = BAR) -> str:
    # written out from bcc's documented layout: "%10d -> %-10d : %-8d |%-40s|"
    return f"{low:>10} -> {high:<10} : {count:<8} |{'*' * stars:<{width}}|"


def test_log2_golden_rows() -> None:
    vals = [0] * 65
    vals[1], vals[2], vals[4] = 5, 10, 20
    text = output.format_log2_hist(vals, "kbytes")
    assert text.splitlines() == [
        "     kbytes              : count     distribution",
        "         0 -> 1          : 5        |**********                              |",
        "         2 -> 3          : 10       |********************                    |",
        "         4 -> 7          : 0        |                                        |",
        "         8 -> 15         : 20       |****************************************|",
    ]
    assert all(len(line) == len(text.splitlines()[1]) for line in text.splitlines()[1:])


def test_log2_example_from_the_brief() -> None:
    vals = [0, 5, 8] + [0] * 62
    assert output.format_log2_hist(vals).splitlines()[1] == (
        "         0 -> 1          : 5        |*************************               |")
    assert output.format_log2_hist(vals).splitlines()[0] == "     value               : count     distribution"


def test_log2_bars_round_down() -> None:
    vals = [0, 1, 3] + [0] * 62
    lines = output.format_log2_hist(vals).splitlines()
    assert lines[1] == row(0, 1, 1, 13)  # 40 * 1/3 = 13.3 -> 13 stars


def test_log2_empty_prints_nothing_and_bucket_zero_is_not_shown() -> None:
    assert output.format_log2_hist([0] * 65) == ""
    only_zero = [7] + [0] * 64
    assert output.format_log2_hist(only_zero) == ""


def test_log2_strip_leading_zero() -> None:
    vals = [0, 0, 0, 4, 8] + [0] * 60
    lines = output.format_log2_hist(vals, "usecs", strip_leading_zero=True).splitlines()
    assert lines == [
        "     usecs               : count     distribution",
        "         4 -> 7          : 4        |********************                    |",
        "         8 -> 15         : 8        |****************************************|",
    ]


def test_log2_wide_layout_above_bucket_32() -> None:
    vals = [0] * 65
    vals[1], vals[34] = 2, 4
    lines = output.format_log2_hist(vals, "ns").splitlines()
    assert lines[0] == "               ns                            : count     distribution"
    assert lines[1] == f"{0:>20} -> {1:<20} : {2:<8} |{'*' * 10:<20}|"
    assert lines[-1] == f"{1 << 33:>20} -> {(1 << 34) - 1:<20} : {4:<8} |{'*' * 20}|"
    assert len(lines) == 35


def test_linear_golden() -> None:
    vals = [0, 3, 1] + [0] * 10
    assert output.format_linear_hist(vals, "slot").splitlines() == [
        "     slot          : count     distribution",
        "        0          : 0        |                                        |",
        "        1          : 3        |****************************************|",
        "        2          : 1        |*************                           |",
    ]
    assert output.format_linear_hist([0] * 5) == ""
    assert output.format_linear_hist([0, 0, 2], strip_leading_zero=True).splitlines()[1:] == [
        "        2          : 2        |****************************************|"]


def test_stars_above_max_end_in_plus() -> None:
    assert output.stars(5, 4, 10) == "*********+"
    assert output.stars(0, 0, 10) == ""


def test_json_hist() -> None:
    vals = [0, 1, 0, 4] + [0] * 61
    h = output.json_hist(vals, "msecs", ("disk", "sda"), now=0)
    assert h["val_type"] == "msecs" and h["disk"] == "sda"
    assert h["data"] == [
        {"interval-start": 0, "interval-end": 1, "count": 1},
        {"interval-start": 2, "interval-end": 3, "count": 0},
        {"interval-start": 4, "interval-end": 7, "count": 4},
    ]
    assert len(h["ts"]) == len("2026-01-01 00:00:00")


class _Key(ct.Structure):
    _fields_ = [("comm", ct.c_char * 8), ("slot", ct.c_uint64)]


class FakeTable(TableBase):
    """A table over a dict (no kernel): the printers only need items()."""

    def __init__(self, key: Any, leaf: Any, entries: list[tuple[Any, Any]]) -> None:
        self.name, self.Key, self.Leaf, self._entries = "dist", key, leaf, entries

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._entries)


def test_table_sections(capsys: pytest.CaptureFixture[str]) -> None:
    entries = [(_Key(b"sh", 1), ct.c_uint64(2)), (_Key(b"cat", 2), ct.c_uint64(1)), (_Key(b"sh", 2), ct.c_uint64(4))]
    FakeTable(_Key, ct.c_uint64, entries).print_log2_hist("bytes", "comm", bucket_sort_fn=sorted)
    assert capsys.readouterr().out == "\n".join([
        "",
        "comm = b'cat'",
        "     bytes               : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 1        |****************************************|",
        "",
        "comm = b'sh'",
        "     bytes               : count     distribution",
        "         0 -> 1          : 2        |********************                    |",
        "         2 -> 3          : 4        |****************************************|",
    ]) + "\n"


def test_table_section_print_fn_and_bucket_fn(capsys: pytest.CaptureFixture[str]) -> None:
    entries = [(_Key(b"sh", 1), ct.c_uint64(2))]
    FakeTable(_Key, ct.c_uint64, entries).print_linear_hist(
        "v", "task", section_print_fn=lambda b: b.decode().upper(), bucket_fn=lambda b: b + b"!")
    assert capsys.readouterr().out.splitlines()[:2] == ["", "task = SH!"]


def test_table_plain_keys(capsys: pytest.CaptureFixture[str]) -> None:
    entries = [(ct.c_int(1), ct.c_uint64(3)), (ct.c_int(3), ct.c_uint64(6))]
    t = FakeTable(ct.c_int, ct.c_uint64, entries)
    t.print_log2_hist()
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "         0 -> 1          : 3        |********************                    |"
    assert out.splitlines()[3] == "         4 -> 7          : 6        |****************************************|"
    t.print_json_hist("us")
    printed = capsys.readouterr().out
    assert printed.startswith("{'ts': ") and "'val_type': 'us'" in printed


def test_unknown_table_method_is_named() -> None:
    t = FakeTable(ct.c_int, ct.c_uint64, [])
    with pytest.raises(AttributeError, match="has no method 'frobnicate'.*print_log2_hist"):
        t.frobnicate()
