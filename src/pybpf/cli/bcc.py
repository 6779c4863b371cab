"""``pybpf bcc SCRIPT [ARGS...]``: run a script written for bcc (``from bcc import BPF``) unmodified."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bcc", help="run a script written for bcc",
        description="Run a Python script written for bcc (from bcc import BPF, bcc.utils, bcc.table, "
                    "bcc.syscall) with pybpf's bcc API: no libbcc, LLVM or kernel headers needed.",
    )
    parser.add_argument("script", help="the bcc script")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bcc.compat import run_script

    try:
        run_script(args.script, args.args)
    except KeyboardInterrupt:
        return 130
    return 0
