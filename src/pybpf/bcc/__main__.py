"""``python -m pybpf.bcc script.py [args...]``: run a script written for bcc, unmodified."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m pybpf.bcc SCRIPT [ARGS...]\n\n"
              "Run a script written for bcc (from bcc import BPF ...) with pybpf's bcc API.")
        return 0 if args else 2
    from .compat import run_script

    try:
        run_script(args[0], args[1:])
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
