"""C -> BTF (clang) -> C (dump_c) -> clang again: the second compile must lay every type out
exactly as the BTF of the first says, for randomly generated structs, unions, bit-fields,
packed and over-aligned records, anonymous members, enums of odd sizes and function pointers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf import cc
from pybpf.btf import BTF, Int, IntEncoding, Kind, Member, Pointer, Struct
from pybpf.btf.c_dump import dump_c
from pybpf.btf.c_dump_check import layout_asserts

SCALARS = ("char", "unsigned char", "short", "unsigned short", "int", "unsigned int", "long",
           "unsigned long", "long long", "__int128")
BITFIELD_TYPES = {"unsigned char": 8, "unsigned short": 16, "unsigned int": 32, "unsigned long": 64, "int": 32}


@st.composite
def member(draw: st.DrawFn, index: int, earlier: list[str]) -> str:
    """One member of a record that may use the ``earlier`` records (their keywords) by value."""
    name = f"m{index}"
    choice = draw(st.sampled_from(
        ["scalar", "bitfield", "pointer", "array", "record", "anon", "enum", "funcptr", "typedef",
         "recarray", "zero", "ptrarray"]))
    if choice in ("record", "recarray") and not earlier:
        choice = "scalar"
    if choice == "typedef":
        return f"{draw(st.sampled_from(['td_int', 'td_fn', 'td_arr', 'td_anon']))} {name};"
    if choice == "recarray":
        r = draw(st.integers(0, len(earlier) - 1))
        return f"{earlier[r]} r{r} {name}[{draw(st.integers(1, 3))}][2];"
    if choice == "zero":
        return f"{draw(st.sampled_from(SCALARS))} {name}[0];"
    if choice == "ptrarray":
        return f"int (*{name})[{draw(st.integers(1, 4))}];"
    if choice == "bitfield":
        ctype = draw(st.sampled_from(sorted(BITFIELD_TYPES)))
        return f"{ctype} {name}: {draw(st.integers(1, BITFIELD_TYPES[ctype]))};"
    if choice == "pointer":
        target = draw(st.sampled_from(["void", "int", "struct r0", "struct later", "const char"]))
        return f"{target} *{name};"
    if choice == "array":
        dims = "".join(f"[{draw(st.integers(1, 3))}]" for _ in range(draw(st.integers(1, 2))))
        return f"{draw(st.sampled_from(SCALARS))} {name}{dims};"
    if choice == "record":
        r = draw(st.integers(0, len(earlier) - 1))
        return f"{earlier[r]} r{r} {name};"
    if choice == "anon":
        keyword = draw(st.sampled_from(["struct", "union"]))
        inner = " ".join(f"{draw(st.sampled_from(SCALARS))} a{index}_{i};" for i in range(draw(st.integers(1, 3))))
        packed = " __attribute__((packed))" if draw(st.booleans()) else ""
        return f"{keyword} {{ {inner} }}{packed}{'' if draw(st.booleans()) else ' ' + name};"
    if choice == "enum":
        values = draw(st.sampled_from(["E{0}a = 0, E{0}b = 200", "E{0}a = -1, E{0}b = 1",
                                       "E{0}a = 0x100000000ULL"])).format(f"{len(earlier)}_{index}")
        packed = " __attribute__((packed))" if draw(st.booleans()) else ""
        return f"enum {{ {values} }}{packed} {name};"
    if choice == "funcptr":
        return f"int (*{name})(struct r0 *, long, ...);"
    suffix = ""
    if draw(st.integers(0, 4)) == 0:
        suffix = f" __attribute__((aligned({draw(st.sampled_from([1, 2, 4, 8, 16, 32]))})))"
    return f"{draw(st.sampled_from(SCALARS))} {name}{suffix};"


@st.composite
def program(draw: st.DrawFn) -> str:
    records = []
    keywords: list[str] = []
    for r in range(draw(st.integers(1, 4))):
        keyword = "union" if draw(st.integers(0, 4)) == 0 else "struct"
        keyword = "struct" if r == 0 else keyword  # r0 is used as "struct r0" by pointers
        members = " ".join(draw(member(i, keywords)) for i in range(draw(st.integers(1, 6))))
        keywords.append(keyword)
        attrs = draw(st.sampled_from(["", " __attribute__((packed))", " __attribute__((aligned(16)))",
                                      " __attribute__((packed, aligned(4)))"]))
        records.append(f"{keyword} r{r} {{ {members} }}{attrs};\n{keyword} r{r} g{r};\n")
    return PRELUDE + "".join(records)


PRELUDE = """struct later { int x; };
typedef long td_int;
typedef void (*td_fn)(struct later *, const char *);
typedef unsigned short td_arr[3];
typedef struct { char c; long l; } __attribute__((packed)) td_anon;
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=program())
def test_dump_of_clang_btf_compiles_with_the_same_layout(source: str, tmp_path: Path) -> None:
    obj = cc.compile(source, output=tmp_path / "first.o", cache=False)
    btf = BTF.from_file(obj)
    assert any(t.kind is Kind.STRUCT and t.name == "r0" for _, t in btf.types())
    (tmp_path / "vmlinux.h").write_text(dump_c(btf))
    cc.compile(f'#include "vmlinux.h"\n{layout_asserts(btf)}', include_dirs=[tmp_path],
               output=tmp_path / "second.o", cflags=["-Wall", "-Werror"], cache=False)


def test_split_btf_dump_includes_the_base(tmp_path: Path) -> None:
    int_type = Int("int", 4, IntEncoding.SIGNED, 32)
    base = BTF.from_types([int_type, Struct("base_s", 4, (Member("v", 1, 0),))])
    split = BTF.from_types([Pointer(2), Struct("mod_s", 16, (Member("b", 2, 0), Member("p", 3, 64)))], base=base)
    body = dump_c(split, header_guard=None)
    assert "struct base_s {\n\tint v;\n};\n\nstruct mod_s {\n\tstruct base_s b;\n\tstruct base_s *p;\n};" in body
