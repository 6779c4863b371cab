"""``pybpf trace`` command lines parsed without argparse (pybpf.cli.trace.parse_launch) give what
the argparse parser gives; the forms it does not take are left to argparse."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pybpf.cli import build_parser, main
from pybpf.cli.trace import _OPTIONS, parse_launch, register

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


def _each_option_alone() -> list[list[str]]:
    """Every option of the table in a plain form: a flag alone, an option with a sample value of its
    kind (each choice of a choice), each then followed by a script and a parameter."""
    lines: list[list[str]] = []
    for strings, _dest, kind, choices, _default, _metavar, _help in _OPTIONS:
        samples = {"flag": [[]], "value": [["a value"], [""]], "int": [["42"]]}.get(kind)
        for string in strings:
            for sample in samples if samples is not None else [[choice] for choice in choices or ()]:
                lines += [[string, *sample], [string, *sample, "script.bt", "1"]]
    return lines


@pytest.mark.parametrize("argv", _each_option_alone(), ids=lambda a: " ".join(a) or "empty")
def test_each_option_of_the_table_parses_as_argparse_parses_it(argv: list[str]) -> None:
    expected = vars(build_parser("trace").parse_args(["trace", *argv]))
    got = parse_launch(argv)
    assert got is not None
    assert vars(got) == expected


def test_the_argparse_parser_has_the_options_of_the_table_and_no_other() -> None:
    """``register`` builds the parser's options from the table parse_launch reads: the same option
    strings, dests, defaults and choices (plus argparse's -h and the positional ``args``)."""
    subparsers = argparse.ArgumentParser().add_subparsers()
    register(subparsers)
    parsed = {tuple(a.option_strings): (a.dest, a.default, tuple(a.choices) if a.choices else None)
              for a in subparsers.choices["trace"]._actions if a.dest not in ("help", "args")}
    declared = {strings: (dest, default, choices) for strings, dest, _kind, choices, default, _m, _h in _OPTIONS}
    assert parsed == declared


#: each option with a value, without it and with a bad one (not an int, not a choice, an option)
BAD_VALUES = [line for strings, _dest, kind, _choices, _default, _metavar, _help in _OPTIONS if kind != "flag"
              for string in strings for line in ([string], [string, {"int": "x", "choice": "xml"}.get(kind, "-q")])]


@pytest.mark.parametrize("argv", BAD_VALUES, ids=" ".join)
def test_a_bad_or_missing_value_of_each_option_is_left_to_argparse(argv: list[str],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_launch(argv) is None
    with pytest.raises(SystemExit) as exc:
        build_parser("trace").parse_args(["trace", *argv])
    assert exc.value.code == 2 and f"argument {argv[0]}: " in capsys.readouterr().err


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
