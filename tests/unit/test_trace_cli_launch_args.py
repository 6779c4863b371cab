"""``pybpf trace`` command lines parsed without argparse (pybpf.cli.trace.parse_launch) give what
the argparse parser gives; the forms it does not take are left to argparse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pybpf.cli import build_parser, main
from pybpf.cli.trace import parse_launch

PROGRAM = 'tracepoint:syscalls:sys_enter_getppid { printf("x\\n"); exit(); }'

TAKEN = [
    ["-e", PROGRAM],
    ["-q", "-e", PROGRAM],
    ["-e", PROGRAM, "-f", "json", "-o", "out.txt", "--no-cache", "--unsafe"],
    ["-c", "ls /", "-p", "42", "-e", "BEGIN { exit(); }"],
    ["-p", " 7", "-e", "x"],  # int() takes the spaces, as argparse's type=int does
    ["-e", "a", "-e", "b"],  # the last one wins
    ["script.bt"],
    ["-q", "script.bt", "1", "two words", "", "-"],
    ["--dry-run", "--emit-obj", "o.elf", "-e", "x"],
    ["-l", "tracepoint:sched:*"],
    ["-l", "-v", "tracepoint:sched:*"],
    ["-f", "text", "-e", "x"],
    ["-e", ""],
    [],
]

LEFT_TO_ARGPARSE = [
    ["-h"], ["--help"], ["-qv", "-e", "x"], ["-ex"], ["--emit-obj=o.elf", "-e", "x"], ["--no-c", "-e", "x"],
    ["-e"], ["-e", "-q"], ["-e", "-1"], ["-p", "x", "-e", "y"], ["-p", "-3", "-e", "y"], ["-f", "xml", "-e", "x"],
    ["--", "-e"], ["script.bt", "-q"], ["script.bt", "-1"], ["-x"], ["-e", "a b", "--bogus"],
]


@pytest.mark.parametrize("argv", TAKEN, ids=lambda a: " ".join(a) or "empty")
def test_plain_command_lines_parse_as_argparse_parses_them(argv: list[str]) -> None:
    expected = vars(build_parser("trace").parse_args(["trace", *argv]))
    got = parse_launch(argv)
    assert got is not None
    assert vars(got) == expected


@pytest.mark.parametrize("argv", LEFT_TO_ARGPARSE, ids=" ".join)
def test_other_command_lines_are_left_to_argparse(argv: list[str]) -> None:
    assert parse_launch(argv) is None


def test_argparse_still_answers_what_the_plain_parser_leaves(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["trace", "-f", "xml", "-e", "BEGIN { exit(); }"])
    assert exc.value.code == 2 and "invalid choice: 'xml'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["trace", "-h"])
    assert exc.value.code == 0 and "--no-cache" in capsys.readouterr().out


def test_a_plain_launch_does_not_import_argparse() -> None:
    code = ("import sys\nfrom pybpf.cli import _launch_args\n"
            f"assert _launch_args(['trace', '-q', '-e', {PROGRAM!r}]) is not None\n"
            "print('argparse' in sys.modules, 'gettext' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]
