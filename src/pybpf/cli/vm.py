"""``pybpf vm xdp|socket PROG.o --pcap in.pcap [-o out.pcap]``: run a program over a capture in
the userspace VM (no kernel, no privileges) and print a verdict summary."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Callable

from ..enums import ProgramType

_XDP_VERDICTS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "vm", help="run an XDP or socket filter program over a pcap in the userspace VM",
        description="Run an eBPF program over a packet capture in pybpf's userspace VM.",
    )
    sub = parser.add_subparsers(dest="hook", required=True, metavar="HOOK")
    for hook, help_text in (("xdp", "an XDP program: passed (possibly rewritten) packets go to -o"),
                            ("socket", "a socket filter: accepted packets (truncated to the verdict) go to -o")):
        p = sub.add_parser(hook, help=help_text)
        p.add_argument("object", help="the eBPF object file (.o)")
        p.add_argument("--pcap", required=True, help="input capture (classic pcap)")
        p.add_argument("-o", "--output", help="write the passed packets here (pcap)")
        p.add_argument("--program", "--section", dest="program",
                       help="program name or section (default: the only program of the right type)")
        p.add_argument("-v", "--verbose", action="store_true", help="one line per packet")
        p.set_defaults(func=run_xdp if hook == "xdp" else run_socket)


def _pick(obj: object, wanted: str | None, types: set[ProgramType], what: str) -> object:
    from ..errors import BPFError

    programs = obj.programs  # type: ignore[attr-defined]
    if wanted:
        for name, prog in programs.items():
            if wanted in (name, getattr(prog.spec, "section", None)):
                return prog
        raise BPFError(f"no program or section {wanted!r} in the object (it has: {', '.join(programs)})")
    matching = [p for p in programs.values() if p.type in types]
    if len(matching) != 1:
        names = ", ".join(f"{n} ({p.type.name})" for n, p in programs.items())
        raise BPFError(f"the object has {len(matching)} {what} programs; choose one with --program ({names})")
    return matching[0]


def _run(args: argparse.Namespace, types: set[ProgramType], what: str,
         verdict: Callable[[int, bytes, bytes], tuple[str, bytes | None]]) -> int:
    import pybpf.vm

    from ..vm.pcap import PcapReader, PcapWriter

    counts: Counter[str] = Counter()
    with pybpf.vm.load(args.object, log_trace=False) as obj, open(args.pcap, "rb") as fin:
        prog = _pick(obj, args.program, types, what)
        reader = PcapReader(fin)
        fout = open(args.output, "wb") if args.output else None
        try:
            writer = PcapWriter(fout, linktype=reader.linktype) if fout else None
            for i, pkt in enumerate(reader):
                res = prog.test_run(pkt.data)  # type: ignore[attr-defined]
                name, out = verdict(res.retval, pkt.data, res.data_out)
                counts[name] += 1
                if args.verbose:
                    sys.stdout.write(f"{i}: {len(pkt.data)} bytes -> {name}\n")
                if writer is not None and out is not None:
                    writer.write(out, ts_sec=pkt.ts_sec, ts_nsec=pkt.ts_nsec)
        finally:
            if fout:
                fout.close()
    total = sum(counts.values())
    sys.stdout.write(f"{total} packets\n")
    for name, n in counts.most_common():
        sys.stdout.write(f"  {name:<14} {n:>8}  {100 * n / total if total else 0:5.1f}%\n")
    return 0


def run_xdp(args: argparse.Namespace) -> int:
    def verdict(ret: int, data: bytes, out: bytes) -> tuple[str, bytes | None]:
        name = _XDP_VERDICTS.get(ret, f"XDP_{ret}(invalid)")
        return name, out if ret in (2,) else None

    return _run(args, {ProgramType.XDP}, "XDP", verdict)


def run_socket(args: argparse.Namespace) -> int:
    def verdict(ret: int, data: bytes, out: bytes) -> tuple[str, bytes | None]:
        if ret == 0:
            return "drop", None
        # a socket filter returns how many bytes of the packet to keep (the capture's snap length)
        keep = data[:ret]
        return ("accept" if len(keep) == len(data) else "truncate"), keep

    return _run(args, {ProgramType.SOCKET_FILTER}, "socket filter", verdict)
