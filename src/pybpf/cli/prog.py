"""``pybpf prog list|show ID|dump ID``: programs loaded in the kernel (like ``bpftool prog``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..program import ProgramInfo


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "prog", help="list, show or dump programs loaded in the kernel",
        description="Programs loaded in the running kernel (needs root), like bpftool prog.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="one line per loaded program").set_defaults(func=run_list)
    show = sub.add_parser("show", help="everything the kernel reports about one program")
    show.add_argument("id", type=int)
    show.set_defaults(func=run_show)
    dump = sub.add_parser("dump", help="disassemble the program as the verifier rewrote it (xlated)")
    dump.add_argument("id", type=int)
    dump.add_argument("--jited", action="store_true", help="print the native code's size instead")
    dump.set_defaults(func=run_dump)


def _summary(p: ProgramInfo) -> str:
    maps = f"  map_ids {','.join(map(str, p.map_ids))}" if p.map_ids else ""
    return f"{p.id}: {p.type.name.lower()}  name {p.name or '-'}  tag {p.tag}{'  gpl' if p.gpl_compatible else ''}{maps}"


def print_info(p: ProgramInfo, out: TextIO) -> None:
    out.write(_summary(p) + "\n")
    boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    loaded = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - boot + p.load_time / 1e9))
    out.write(f"\tloaded_at {loaded}  uid {p.uid}\n")
    out.write(f"\txlated {p.xlated_bytes}B  jited {len(p.jited)}B  verified_insns {p.verified_insns}\n")
    out.write(f"\trun_cnt {p.run_count}  run_time_ns {p.run_time_ns}  recursion_misses {p.recursion_misses}\n")
    if p.btf_id:
        out.write(f"\tbtf_id {p.btf_id}\n")


def run_list(args: argparse.Namespace) -> int:
    from ..loader.inventory import programs

    for p in programs():
        sys.stdout.write(_summary(p) + "\n")
    return 0


def _one(prog_id: int) -> ProgramInfo:
    from ..program import Program

    with Program.from_id(prog_id) as prog:
        return prog.info()


def run_show(args: argparse.Namespace) -> int:
    print_info(_one(args.id), sys.stdout)
    return 0


def run_dump(args: argparse.Namespace) -> int:
    from ..isa import disassemble

    info = _one(args.id)
    if args.jited:
        sys.stdout.write(f"{len(info.jited)} bytes of native code\n")
        return 0
    sys.stdout.write(disassemble(info.xlated) + "\n")
    return 0
