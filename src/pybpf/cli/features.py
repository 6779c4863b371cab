"""``pybpf features``: what this kernel can do, each answer with its reason.

``pybpf features`` prints every probe (program types, map types, named features) as an
aligned table; ``pybpf features helpers --prog-type xdp`` the helpers one program type may
call; ``--json`` gives the same data as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..features import FeatureResult

_HEADER = ("NAME", "SUPPORTED", "SINCE", "REASON")


def _prog_type_names() -> list[str]:
    from ..features import PROGRAM_TYPES

    return [pt.name.lower() for pt in PROGRAM_TYPES]


class _ProgTypeNames:
    """``--prog-type`` choices, listed on first use: building the parser (which every ``pybpf``
    command does) must not import :mod:`pybpf.features`."""

    def __contains__(self, name: object) -> bool:
        return name in _prog_type_names()

    def __iter__(self) -> Iterator[str]:
        return iter(_prog_type_names())


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "features", help="what this kernel supports, and why not",
        description="Probe the running kernel (needs root): program types, map types, helpers, attach kinds "
                    "and other features, each with the reason when it is not supported.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--only", choices=("program_types", "map_types", "features"), action="append",
                        help="print only these sections (repeatable)")
    parser.set_defaults(func=run_all)
    sub = parser.add_subparsers(dest="what", metavar="WHAT")
    helpers = sub.add_parser("helpers", help="the helpers one program type may call")
    helpers.add_argument("--prog-type", required=True, choices=_ProgTypeNames(), metavar="TYPE",
                         help="program type, e.g. xdp, tracepoint, sched_cls")
    helpers.add_argument("--supported-only", action="store_true", help="list only the helpers it may call")
    helpers.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    helpers.set_defaults(func=run_helpers)


def _rows(results: Mapping[str, FeatureResult]) -> list[tuple[str, str, str, str]]:
    return [(name, "yes" if r.supported else "no", r.min_kernel or "-", r.reason) for name, r in results.items()]


def format_table(rows: Iterable[tuple[str, ...]], header: tuple[str, ...] = _HEADER) -> str:
    """Rows as plain text columns aligned to the widest cell (the last column is not padded)."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _as_json(results: Mapping[str, FeatureResult]) -> dict[str, dict[str, object]]:
    return {name: {"supported": r.supported, "reason": r.reason, "min_kernel": r.min_kernel} for name, r in results.items()}


def collect(sections: Iterable[str] | None = None) -> dict[str, dict[str, FeatureResult]]:
    """Section name -> (item name -> answer), probing what was not asked yet."""
    from .. import features

    builders = {
        "program_types": lambda: {pt.name.lower(): features.program_type(pt) for pt in features.PROGRAM_TYPES},
        "map_types": lambda: {mt.name.lower(): features.map_type(mt) for mt in features.MAP_TYPES},
        "features": features.all_features,
    }
    chosen = list(sections) if sections else list(builders)
    return {name: builders[name]() for name in chosen}


def run_all(args: argparse.Namespace) -> int:
    data = collect(args.only)
    if args.json:
        sys.stdout.write(json.dumps({k: _as_json(v) for k, v in data.items()}, indent=2) + "\n")
        return 0
    titles = {"program_types": "Program types", "map_types": "Map types", "features": "Features"}
    blocks = [f"{titles[name]}:\n{format_table(_rows(results))}" for name, results in data.items()]
    uname = os.uname()
    sys.stdout.write(f"Kernel {uname.release} ({uname.machine})\n\n" + "\n\n".join(blocks) + "\n")
    return 0


def run_helpers(args: argparse.Namespace) -> int:
    from .. import features
    from ..enums import ProgramType

    pt = ProgramType[args.prog_type.upper()]
    results = features.helpers(pt)
    if args.supported_only:
        results = {name: r for name, r in results.items() if r.supported}
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"program_type": args.prog_type, "helpers": _as_json(results)}, indent=2) + "\n")
        return 0
    base = features.program_type(pt)
    if not base.supported:
        sys.stdout.write(f"{args.prog_type} programs cannot be loaded: {base.reason}\n")
    rows = [(name, "yes" if r.supported else "no", r.reason.split(": ", 1)[-1]) for name, r in results.items()]
    count = sum(1 for r in results.values() if r.supported)
    sys.stdout.write(f"Helpers for {args.prog_type} programs ({count} callable):\n")
    sys.stdout.write(format_table(rows, ("HELPER", "CALLABLE", "REASON")) + "\n")
    return 0
