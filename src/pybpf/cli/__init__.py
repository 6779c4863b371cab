"""The ``pybpf`` command line.

Each subcommand lives in its own module under ``pybpf.cli`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit status).
"""

from __future__ import annotations

import sys

from ..errors import BPFError

#: not ``typing``'s: the ``pybpf`` command imports this module first, and ``typing`` (with ``re``,
#: ``enum``, ``collections``, ``functools``...) costs ~8 ms of a ``pybpf trace`` start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from ._help import HelpFormatter, RawDescriptionHelpFormatter  # noqa: F401  (re-exported below)

#: subcommand modules, in the order they are listed in ``pybpf --help``
_SUBCOMMANDS = ("disasm", "btf", "spec", "prog", "map", "features", "vm", "bcc", "trace")


def __getattr__(name: str) -> Any:
    # the formatters subclass argparse's, which a ``pybpf trace`` launch does not import
    if name in ("HelpFormatter", "RawDescriptionHelpFormatter"):
        from . import _help

        return getattr(_help, name)
    raise AttributeError(f"module 'pybpf.cli' has no attribute {name!r}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``pybpf`` parser; ``only`` registers that one subcommand (its module alone is imported:
    start-up of ``pybpf trace`` does not pay for the imports of ``pybpf disasm`` or ``pybpf btf``)."""
    import argparse
    import importlib

    from ._help import HelpFormatter

    parser = argparse.ArgumentParser(prog="pybpf", description="eBPF for Python", formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only in _SUBCOMMANDS else _SUBCOMMANDS:
        importlib.import_module(f"pybpf.cli.{name}").register(sub)
    return parser


def _subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word: ``pybpf`` has no options of its own but ``-h``)."""
    return argv[0] if argv and argv[0] in _SUBCOMMANDS else None


def _launch_args(argv: Sequence[str]) -> Any:
    """The parsed arguments of a plain ``pybpf trace`` command line without argparse (whose
    import, translations and parser building cost ~5 ms of a cached launch), or None: anything
    but the plain forms (help, mistakes, ``--opt=value``...) goes to the argparse parser."""
    if argv and argv[0] == "trace":
        from .trace import parse_launch

        return parse_launch(argv[1:])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = _launch_args(argv)
    if args is None:
        args = build_parser(_subcommand(argv)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BPFError as exc:
        print(f"pybpf: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C before a command took it over (while loading...): no traceback
        return 130


if __name__ == "__main__":
    sys.exit(main())
