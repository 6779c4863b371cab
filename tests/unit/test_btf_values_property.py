"""Property: for random struct layouts (bitfields anywhere, nested structs, arrays, enums),
encode_value then decode_value gives the value back, and decode then encode gives the bytes back."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, Array, Enum, EnumValue, Int, IntEncoding, Member, Struct, Type

INT_NAMES = {(1, True): "signed char", (1, False): "unsigned char", (2, True): "short",
             (2, False): "unsigned short", (4, True): "int", (4, False): "unsigned int",
             (8, True): "long long", (8, False): "unsigned long long"}


class Layout:
    """Types being built (ids from 1) plus, per struct id, how to draw a value for it."""

    def __init__(self) -> None:
        self.types: list[Type] = []
        self.ints: dict[tuple[int, bool], int] = {}

    def add(self, t: Type) -> int:
        self.types.append(t)
        return len(self.types)

    def int_id(self, size: int, signed: bool) -> int:
        key = (size, signed)
        if key not in self.ints:
            enc = IntEncoding.SIGNED if signed else IntEncoding.NONE
            self.ints[key] = self.add(Int(INT_NAMES[key], size, enc, size * 8))
        return self.ints[key]


def int_range(bits: int, signed: bool) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << bits) - 1)


@st.composite
def struct_with_value(draw: st.DrawFn, layout: Layout, depth: int = 0) -> tuple[int, dict[str, Any]]:
    members: list[Member] = []
    value: dict[str, Any] = {}
    bit = 0
    for i in range(draw(st.integers(1, 6))):
        name = f"m{depth}_{i}"
        choice = draw(st.sampled_from(["int", "bitfield", "array", "enum", "struct"] if depth < 2
                                      else ["int", "bitfield", "array", "enum"]))
        if choice == "bitfield":
            size, signed = draw(st.sampled_from([(4, False), (4, True), (8, False), (8, True)]))
            width = draw(st.integers(1, size * 8))
            if (bit % (size * 8)) + width > size * 8:  # a bitfield may not straddle its storage unit
                bit = -(-bit // (size * 8)) * (size * 8)
            members.append(Member(name, layout.int_id(size, signed), bit, width))
            value[name] = draw(int_range(width, signed))
            bit += width
            continue
        if choice == "struct":
            sid, sval = draw(struct_with_value(layout, depth + 1))
            sub = layout.types[sid - 1]
            assert isinstance(sub, Struct)
            size, tid, v = sub.size, sid, sval
        elif choice == "enum":
            values = tuple(EnumValue(f"E{depth}_{i}_{k}", k * 3 - 2) for k in range(3))
            tid = layout.add(Enum(f"e{depth}_{i}_{len(layout.types)}", 4, values, signed=True))
            size, v = 4, draw(st.sampled_from([ev.value for ev in values]))
        elif choice == "array":
            esize, signed = draw(st.sampled_from(sorted(INT_NAMES)))
            n = draw(st.integers(1, 4))
            elem = layout.int_id(esize, signed)
            tid = layout.add(Array(elem, layout.int_id(4, False), n))
            size, v = esize * n, draw(st.lists(int_range(esize * 8, signed), min_size=n, max_size=n))
            if esize == 1 and not signed:  # arrays of 1-byte integers also accept bytes
                v = bytes(x & 0xFF for x in v) if draw(st.booleans()) else v
        else:
            size, signed = draw(st.sampled_from(sorted(INT_NAMES)))
            tid, v = layout.int_id(size, signed), draw(int_range(size * 8, signed))
        align = min(size, 8) * 8
        bit = -(-bit // align) * align
        members.append(Member(name, tid, bit))
        value[name] = v
        bit += size * 8
    sid = layout.add(Struct(f"s{depth}_{len(layout.types)}", -(-bit // 64) * 8, tuple(members)))
    return sid, value


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return int(value)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_encode_decode_round_trip(data: st.DataObject) -> None:
    layout = Layout()
    sid, value = data.draw(struct_with_value(layout))
    btf = BTF.from_types(layout.types)
    raw = btf.encode_value(sid, value)
    assert len(raw) == btf.size_of(sid)
    decoded = btf.decode_value(sid, raw)
    assert normalise(decoded.to_dict()) == normalise(value)
    assert btf.encode_value(sid, decoded) == raw
    assert BTF.from_bytes(btf.to_bytes()).decode_value(sid, raw) == decoded
