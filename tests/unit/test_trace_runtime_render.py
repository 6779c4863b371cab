"""printf records rendered straight from their bytes (the busy-trace path) print exactly what
decoding the fields and applying format_printf prints; EventHandler.batch keeps the order of
mixed records and writes each batch once."""

from __future__ import annotations

import io
import random
import struct
from typing import Any

import pytest

from pybpf.trace import analyse, parse
from pybpf.trace.runtime.decode import DecodeError, Decoder, Symbolizer
from pybpf.trace.runtime.formatting import format_printf
from pybpf.trace.runtime.output import make_printer
from pybpf.trace.quick import _renderer
from pybpf.trace.runtime.render import compile_printf, printf_recipe
from pybpf.trace.runtime.session import EventHandler
from pybpf.trace.semantic.model import Env, EventField, EventKind
from pybpf.trace.types import IntType, PointerType, StringType, Type

DECODER = Decoder(Symbolizer())
INT_TYPES = [IntType(bits, signed) for bits in (8, 16, 32, 64) for signed in (True, False)]
FLAGS = ["", "-", "0", "+", " ", "#", "-0", "+0", "- ", "-+"]


def _spec(rng: random.Random, t: Type) -> str:
    flags = rng.choice(FLAGS)
    width = rng.choice(["", "", "1", "5", "12"])
    prec = rng.choice(["", "", "", ".0", ".3"])
    if isinstance(t, StringType):
        return f"%{flags.replace('0', '').replace('+', '').replace(' ', '').replace('#', '')}{width}{prec}s"
    length = rng.choice(["", "", "h", "hh", "l", "ll", "z"])
    conv = rng.choice("diuxXoc" if isinstance(t, IntType) else "diuxXp")
    if conv in "cp":
        return f"%{flags.replace('0', '').replace('+', '').replace(' ', '').replace('#', '')}{width}{conv}"
    return f"%{flags}{width}{prec}{length}{conv}"


def _value(rng: random.Random, t: Type) -> bytes:
    if isinstance(t, StringType):
        text = rng.choice([b"", b"bash", b"x" * t.size, b"caf\xc3\xa9", b"a%sb", b"\xff\xfe"])
        junk = bytes(rng.randrange(256) for _ in range(t.size))
        return (text + b"\0" + junk)[:t.size]
    size = t.size
    edge = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63,
                       (1 << 64) - 1, rng.getrandbits(64)])
    return (edge & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _layout(types: list[Type]) -> tuple[list[EventField], int]:
    fields, off = [], 8
    for t in types:
        align = getattr(t, "align", 1)
        off = (off + align - 1) // align * align
        fields.append(EventField(t, off))
        off += t.size
    return fields, (off + 7) // 8 * 8


def test_rendered_records_equal_decoded_then_formatted() -> None:
    rng = random.Random(6)
    choices: list[Type] = [*INT_TYPES, StringType(16), StringType(5), PointerType(IntType())]
    for case in range(3000):
        types = [rng.choice(choices) for _ in range(rng.randrange(0, 5))]
        fields, size = _layout(types)
        fmt = "".join(rng.choice(["", "|", " % ", "%%", "é"]) + _spec(rng, t) for t in types) + rng.choice(["\n", "%%\n"])
        fmt = fmt.replace(" % ", " %% ")
        raw = bytearray(size)
        for f in fields:
            value = _value(rng, f.type)
            raw[f.offset:f.offset + len(value)] = value
        render = compile_printf(fmt, fields, size, DECODER)
        expected = format_printf(fmt, DECODER.compile([(f.type, f.offset) for f in fields], size)(bytes(raw)))
        assert render(bytes(raw)) == expected, (case, fmt, types, bytes(raw))


def test_recipes_render_what_the_runtime_renders() -> None:
    """A printf recipe (kept with a cached program) rendered by the lean start prints what the
    runtime's renderer prints; formats that need the general way have no recipe."""
    rng = random.Random(7)
    choices: list[Type] = [*INT_TYPES, StringType(16), StringType(5), PointerType(IntType())]
    with_recipe = 0
    for case in range(3000):
        types = [rng.choice(choices) for _ in range(rng.randrange(0, 5))]
        fields, size = _layout(types)
        fmt = "".join(rng.choice(["", "|", " %% ", "é"]) + _spec(rng, t) for t in types) + "\n"
        raw = bytearray(size)
        for f in fields:
            value = _value(rng, f.type)
            raw[f.offset:f.offset + len(value)] = value
        recipe = printf_recipe(fmt, fields, size)
        if recipe is None:
            continue
        with_recipe += 1
        assert _renderer(recipe)(bytes(raw)) == compile_printf(fmt, fields, size, DECODER)(bytes(raw)), (case, fmt)
    assert with_recipe > 500  # most formats of a trace have one
    # precision, %p, %o, # print differently in Python's %: no recipe
    fields, size = _layout([IntType(32, True)])
    assert printf_recipe("%.3d\n", fields, size) is None
    assert printf_recipe("%#x\n", fields, size) is None
    assert printf_recipe("%d\n", fields, size) == ("<8xi4x", "%d\n", ())


def test_integers_are_read_at_the_conversions_width() -> None:
    """%d reads a u64 field's low 32 bits, %u a negative i32 as unsigned; strings stop at NUL."""
    fields, size = _layout([IntType(64, False), IntType(32, True), StringType(16)])
    render = compile_printf("%d %5u %-6s|%%\n", fields, size, DECODER)
    raw = struct.pack("<QQi16s4x", 0, (1 << 32) + 7, -3, b"sh\0junk")
    assert render(raw) == "7 4294967293 sh    |%\n"


def test_short_record_is_a_decode_error() -> None:
    fields, size = _layout([IntType(64, False)])
    with pytest.raises(DecodeError, match="shorter than its layout"):
        compile_printf("%d\n", fields, size, DECODER)(bytes(12))


class CountingOut(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)

    def flush(self) -> None:
        self.flushes += 1


def _handler(program: str, out: io.StringIO, fmt: str = "text") -> tuple[EventHandler, Any]:
    tp = analyse(parse(program), env=Env(btf=None))
    return EventHandler(tp.events, make_printer(out, fmt=fmt, err=io.StringIO()), Decoder(Symbolizer(), ["BEGIN"]),
                        {}.__getitem__, lambda m: None, lambda m: None), tp


def _record(ev: Any, *values: bytes) -> bytes:
    raw = bytearray(ev.size)
    raw[:8] = struct.pack("<Q", ev.id)
    for f, v in zip(ev.fields, values):
        raw[f.offset:f.offset + len(v)] = v
    return bytes(raw)


def test_batch_writes_once_keeps_order_and_stops_at_exit() -> None:
    out = CountingOut()
    handler, tp = _handler(r'BEGIN { printf("a %d\n", 1); print(7); printf("b %s\n", "x"); exit(); }', out)
    a, b = [e for e in tp.events if e.kind is EventKind.PRINTF]
    printed = next(e for e in tp.events if e.kind is EventKind.PRINT)
    exit_ = next(e for e in tp.events if e.kind is EventKind.EXIT)
    records = [_record(a, struct.pack("<q", i)) for i in range(3)]
    handler.batch(records)
    assert out.getvalue() == "a 0\na 1\na 2\n" and out.writes == 1 and out.flushes == 1
    handler.batch([_record(a, struct.pack("<q", 9)), _record(printed, struct.pack("<q", 7)), _record(b, b"x"),
                   _record(exit_), _record(a, struct.pack("<q", 10))])
    assert out.getvalue() == "a 0\na 1\na 2\na 9\n7\nb x\n"
    assert handler.exit_requested


def test_batch_json_printf_records() -> None:
    out = io.StringIO()
    handler, tp = _handler(r'BEGIN { printf("n=%d\n", 1); }', out, fmt="json")
    ev = next(e for e in tp.events if e.kind is EventKind.PRINTF)
    handler.batch([_record(ev, struct.pack("<q", i)) for i in (1, 2)])
    assert out.getvalue() == '{"type": "printf", "data": "n=1\\n"}\n{"type": "printf", "data": "n=2\\n"}\n'


def test_batch_with_an_unknown_event_id_says_why() -> None:
    handler, _ = _handler(r'BEGIN { printf("x\n"); }', io.StringIO())
    from pybpf.trace.runtime.session import TraceRuntimeError
    with pytest.raises(TraceRuntimeError, match="event id 99 is not one"):
        handler.batch([struct.pack("<Q", 99)])
    with pytest.raises(TraceRuntimeError, match="has no id"):
        handler.batch([b"\1\2"])
