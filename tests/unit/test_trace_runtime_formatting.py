"""printf formatting: every case compares with what bpftrace 0.17 printed for the same call.

The expected strings were captured by running the quoted bpftrace program on this machine.
"""

from __future__ import annotations

import pytest

from pybpf.trace.runtime.formatting import PrintfError, escape_buffer, format_printf

# bpftrace -e 'BEGIN { printf("[%d] [%5d] [%-5d] [%05d] [%u] [%x] [%X] [%lu] [%llu] [%ld] [%lld] [%hhd] [%hd]
#   [%c] [%s] [%-10s] [%10s] [%.2s] [%p] [%o] [%%] [%lx] [%08x]\n", -3, 42, 42, 42, -1, 255, 255, -1, 5, -7,
#   -8, 300, 70000, 65, "str", "ab", "ab", "hello", 4096, 8, 255, 255); }'
CAPTURED_MANY = ("[-3] [   42] [42   ] [00042] [4294967295] [ff] [FF] [18446744073709551615] [5] [-7] [-8] "
                 "[44] [4464] [A] [str] [ab        ] [        ab] [he] [0x1000] [10] [%] [ff] [000000ff]\n")


def test_many_conversions_like_bpftrace() -> None:
    fmt = ("[%d] [%5d] [%-5d] [%05d] [%u] [%x] [%X] [%lu] [%llu] [%ld] [%lld] [%hhd] [%hd] [%c] [%s] "
           "[%-10s] [%10s] [%.2s] [%p] [%o] [%%] [%lx] [%08x]\n")
    args = [-3, 42, 42, 42, -1, 255, 255, -1, 5, -7, -8, 300, 70000, 65, b"str\0\0\0", b"ab", b"ab", b"hello",
            4096, 8, 255, 255]
    assert format_printf(fmt, args) == CAPTURED_MANY


@pytest.mark.parametrize(("fmt", "args", "expected"), [
    # printf("%d %u %x\n", ($x<<32)+1, ($x<<32)+1, ($x<<32)+255) with $x = 1
    ("%d %u %x\n", [(1 << 32) + 1, (1 << 32) + 1, (1 << 32) + 255], "1 1 ff\n"),
    # (int32)-1 with %lu is sign-extended to 64 bits; (uint32)4294967295 with %d reads as -1
    ("%lu %d %u\n", [-1, 4294967295, -1], "18446744073709551615 -1 4294967295\n"),
    ("%10d|%-4s|%3c|\n", [7, b"abcdef", 66], "         7|abcdef|  B|\n"),
    ("%rx|%rh|%p|%s|%5.2s|%-3c|%3c|%c\n", [b"a\x01b", b"a\x01b", 0, b"", b"xyz", 65, 66, 256 + 67],
     "\\x61\\x01\\x62|61 01 62|(nil)||   xy|A  |  B|C\n"),
    ("%r|\n", [b'a\\"\x7f\xff\n '], 'a\\"\\x7f\\xff\\x0a |\n'),
    ("%o %x %X %hu %hhu %lo\n", [8, -1, -1, -1, -1, -1], "10 ffffffff FFFFFFFF 65535 255 1777777777777777777777\n"),
    ("%-5d|%-5u|%5x|%-8lx|%08d|%.3d\n", [-3, 3, 255, 255, -42, 7], "-3   |3    |   ff|ff      |-0000042|007\n"),
])
def test_conversion_edge_cases_like_bpftrace(fmt: str, args: list[object], expected: str) -> None:
    assert format_printf(fmt, args) == expected


def test_c_flags_bpftrace_refuses_still_format_as_c() -> None:
    assert format_printf("%#x %#o %+d % d %+5d", [255, 8, 5, 5, -5]) == "0xff 010 +5  5    -5"


def test_string_stops_at_nul_and_str_arguments_work() -> None:
    assert format_printf("<%s>", [b"bash\0garbage"]) == "<bash>"
    assert format_printf("<%s>", ["text"]) == "<text>"


def test_escape_buffer() -> None:
    assert escape_buffer(b"ok\x00\x80~") == "ok\\x00\\x80~"


@pytest.mark.parametrize(("fmt", "args", "message"), [
    ("%d", [b"str"], "expected an integer"),
    ("%s", [5], "expected a string"),
    ("%d %d", [1], "not enough arguments"),
    ("%k", [1], "invalid conversion"),
])
def test_mismatched_arguments_raise_a_bpferror(fmt: str, args: list[object], message: str) -> None:
    with pytest.raises(PrintfError, match=message):
        format_printf(fmt, args)
