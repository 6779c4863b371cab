"""argparse help formatters for ``pybpf`` (apart from ``pybpf.cli``, so that a ``pybpf trace``
launch, parsed without argparse, does not import it)."""

from __future__ import annotations

import argparse
import os
import sys


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
