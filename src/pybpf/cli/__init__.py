"""The ``pybpf`` command line.

Each subcommand lives in its own module under ``pybpf.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import BPFError

#: subcommand modules, in the order they are listed in ``pybpf --help``
_SUBCOMMANDS = ("disasm", "btf", "spec", "prog", "map", "features", "vm", "bcc", "trace")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pybpf", description="eBPF for Python")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"pybpf.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BPFError as exc:
        print(f"pybpf: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
