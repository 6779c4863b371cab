"""Map printing against output captured from Debian's bpftrace 0.17 (tests/unit/golden_trace/).

Each ``NAME.bt`` there is a BEGIN block of map assignments and print/clear/zero/delete calls;
``NAME.txt`` and ``NAME.json`` are what ``bpftrace -q [-f json] NAME.bt`` printed (see
golden_trace/regen.py; tests/kernel/test_trace_listing_golden.py re-checks them against bpftrace).
Here a small interpreter replays the statements into :class:`MapData` snapshots, and the runtime
must print exactly the captured bytes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

from pybpf.trace.runtime import aggregations as G
from pybpf.trace.runtime import hist as H
from pybpf.trace.runtime import json as J
from pybpf.trace.runtime.aggregations import Agg, MapData, Stats

GOLDEN = Path(__file__).parent / "golden_trace"
CASES = sorted(p.stem for p in GOLDEN.glob("*.bt"))

_ASSIGN = re.compile(r"^(?P<map>@\w*)(?:\[(?P<key>.*)\])?\s*=\s*(?P<rhs>.+)$")
_CALL = re.compile(r"^(?P<fn>\w+)\((?P<args>.*)\)$")
_CAST = re.compile(r"\((?:u?int(?:8|16|32|64))\)")


def _literals(text: str) -> tuple[Any, ...]:
    text = _CAST.sub("", text).strip()
    return tuple(ast.literal_eval(f"({text},)")) if text else ()


class Replay:
    """Runs the statements of a golden program against MapData snapshots."""

    def __init__(self, json: bool) -> None:
        self.json = json
        self.maps: dict[str, MapData] = {}
        self.out: list[str] = []

    def _map(self, name: str, agg: Agg, keyed: bool, lhist: tuple[int, int, int] = (0, 0, 0)) -> MapData:
        return self.maps.setdefault(name, MapData(name, agg, keyed=keyed, lhist=lhist))

    def assign(self, name: str, key: tuple[Any, ...], rhs: str) -> None:
        call = _CALL.match(rhs)
        if call is None or call["fn"] not in Agg.__members__.values():
            self._map(name, Agg.VALUE, bool(key)).entries[key] = _literals(rhs)[0] if not rhs.startswith("(") \
                else ast.literal_eval(rhs)
            return
        agg = Agg(call["fn"])
        args = _literals(call["args"])
        m = self._map(name, agg, bool(key), (args[1], args[2], args[3]) if agg is Agg.LHIST else (0, 0, 0))
        old = m.entries.get(key)
        update: dict[Agg, Callable[[], Any]] = {
            Agg.COUNT: lambda: (old or 0) + 1,
            Agg.SUM: lambda: (old or 0) + args[0],
            Agg.MIN: lambda: args[0] if old is None else min(old, args[0]),
            Agg.MAX: lambda: args[0] if old is None else max(old, args[0]),
            Agg.AVG: lambda: Stats((old or Stats(0, 0)).count + 1, (old or Stats(0, 0)).total + args[0]),
            Agg.STATS: lambda: Stats((old or Stats(0, 0)).count + 1, (old or Stats(0, 0)).total + args[0]),
            Agg.HIST: lambda: self._bump(old, 66, H.log2_bucket_index(args[0])),
            Agg.LHIST: lambda: self._bump(old, (args[2] - args[1]) // args[3] + 2,
                                          H.linear_bucket_index(args[0], args[1], args[2], args[3])),
        }
        m.entries[key] = update[agg]()

    @staticmethod
    def _bump(old: list[int] | None, n: int, i: int) -> list[int]:
        counts = list(old or [0] * n)
        counts[i] += 1
        return counts

    def call(self, fn: str, args: str) -> None:
        if fn == "exit":
            maps = list(self.maps.values())
            self.out.append(J.exit_records(maps) if self.json else G.exit_text(maps))
            return
        target = _ASSIGN.match(args + " = 0") if fn == "delete" else None
        name, _, rest = args.partition(",")
        if fn == "print":
            top_div = _literals(rest)
            kw = dict(zip(("top", "div"), top_div))
            m = self.maps[name.strip()]
            self.out.append(J.map_record(m, **kw) if self.json else G.map_text(m, **kw))
        elif fn == "clear":
            self.maps[name].entries = G.clear(self.maps[name].entries)
        elif fn == "zero":
            self.maps[name] = G.zero(self.maps[name])
        elif fn == "delete":
            assert target is not None
            self.maps[target["map"]].entries.pop(_literals(target["key"] or ""), None)
        else:
            raise AssertionError(f"statement {fn}() not understood by the replay")

    def run(self, source: str) -> str:
        body = source.strip()
        assert body.startswith("BEGIN {") and body.endswith("}")
        for stmt in (s.strip() for s in body[len("BEGIN {"):-1].split(";")):
            if not stmt:
                continue
            a = _ASSIGN.match(stmt)
            if a:
                self.assign(a["map"], _literals(a["key"] or ""), a["rhs"].strip())
                continue
            c = _CALL.match(stmt)
            assert c, stmt
            self.call(c["fn"], c["args"])
        return "".join(self.out)


#: where our output differs from bpftrace 0.17 on purpose (its bugs): golden_trace/deviations.json
DEVIATIONS = json.loads((GOLDEN / "deviations.json").read_text())


def expected_output(case: str, suffix: str) -> str:
    """The captured output with our known, deliberate deviations applied."""
    text = (GOLDEN / f"{case}{suffix}").read_text()
    for d in DEVIATIONS:
        if (d["case"], d["suffix"]) == (case, suffix):
            assert d["theirs"] in text, d["why"]
            text = text.replace(d["theirs"], d["ours"])
    return text


@pytest.mark.parametrize("case", CASES)
def test_text_output_matches_bpftrace(case: str) -> None:
    source = (GOLDEN / f"{case}.bt").read_text()
    expected = expected_output(case, ".txt")
    assert Replay(json=False).run(source) == expected


@pytest.mark.parametrize("case", CASES)
def test_json_output_matches_bpftrace_record_by_record(case: str) -> None:
    source = (GOLDEN / f"{case}.bt").read_text()
    expected = expected_output(case, ".json")
    got = Replay(json=True).run(source)
    assert got.splitlines() == expected.splitlines()
    assert got == expected


def test_every_golden_program_has_captured_output() -> None:
    assert len(CASES) >= 6
    for case in CASES:
        assert (GOLDEN / f"{case}.txt").exists() and (GOLDEN / f"{case}.json").exists(), case
