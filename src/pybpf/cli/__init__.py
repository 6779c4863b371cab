"""The ``pybpf`` command line.

Each subcommand lives in its own module under ``pybpf.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from ..errors import BPFError

#: subcommand modules, in the order they are listed in ``pybpf --help``
_SUBCOMMANDS = ("disasm", "btf", "spec", "prog", "map", "features", "vm", "bcc", "trace")


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says ($COLUMNS, else the terminal's, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the terminal width: argparse makes one for every argument
    added and would otherwise import shutil (with zlib, bz2 and lzma) at each start-up to ask."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's RawDescriptionHelpFormatter (descriptions and epilogs kept as written), as :class:`HelpFormatter`."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``pybpf`` parser; ``only`` registers that one subcommand (its module alone is imported:
    start-up of ``pybpf trace`` does not pay for the imports of ``pybpf disasm`` or ``pybpf btf``)."""
    parser = argparse.ArgumentParser(prog="pybpf", description="eBPF for Python", formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only in _SUBCOMMANDS else _SUBCOMMANDS:
        importlib.import_module(f"pybpf.cli.{name}").register(sub)
    return parser


def _subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word: ``pybpf`` has no options of its own but ``-h``)."""
    return argv[0] if argv and argv[0] in _SUBCOMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(_subcommand(argv))
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
