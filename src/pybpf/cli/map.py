"""``pybpf map list|dump ID``: maps in the kernel (like ``bpftool map``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..map import MapInfo


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "map", help="list or dump maps in the kernel",
        description="Maps in the running kernel (needs root), like bpftool map.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="one line per map").set_defaults(func=run_list)
    dump = sub.add_parser("dump", help="every entry, pretty-printed through the map's BTF when it has one")
    dump.add_argument("id", type=int)
    dump.set_defaults(func=run_dump)


def summary(m: MapInfo) -> str:
    flags = f"  flags {int(m.flags):#x}" if int(m.flags) else ""
    btf = f"  btf_id {m.btf_id}" if m.btf_id else ""
    return (f"{m.id}: {m.type.name.lower()}  name {m.name or '-'}  key {m.key_size}B  value {m.value_size}B  "
            f"max_entries {m.max_entries}{flags}{btf}")


def run_list(args: argparse.Namespace) -> int:
    from ..loader.inventory import maps

    for m in maps():
        sys.stdout.write(summary(m) + "\n")
    return 0


def run_dump(args: argparse.Namespace) -> int:
    from ..map import Map

    with Map.from_id(args.id) as m:
        sys.stdout.write(m.format() + "\n")
    return 0
