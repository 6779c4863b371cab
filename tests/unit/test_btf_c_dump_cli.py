"""``pybpf btf dump``: the raw format for every kind, the C format, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.btf import (
    BTF, Array, Const, Datasec, DeclTag, Enum, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto,
    Fwd, Int, IntEncoding, Member, Param, Pointer, Restrict, Struct, Typedef, TypeTag, Union_, Var,
    VarLinkage, VarSecInfo, Volatile,
)
from pybpf.btf.c_dump import dump_c
from pybpf.cli import main

TYPES = [
    Int("int", 4, IntEncoding.SIGNED, 32),                                         # 1
    Pointer(1),                                                                    # 2
    Array(1, 1, 4),                                                                # 3
    Struct("s", 8, (Member("a", 1, 0), Member("", 1, 32, 3))),                     # 4
    Union_("", 4, (Member("x", 1, 0),)),                                           # 5
    Enum("e", 4, (EnumValue("NEG", -2),), signed=True),                            # 6
    Enum64("", 8, (EnumValue("BIG", 1 << 40),)),                                   # 7
    Fwd("f", is_union=True),                                                       # 8
    Typedef("t", 1),                                                               # 9
    Volatile(1),                                                                   # 10
    Const(1),                                                                      # 11
    Restrict(2),                                                                   # 12
    FuncProto(1, (Param("x", 1), Param("", 0))),                                   # 13
    Func("fn", 13, FuncLinkage.GLOBAL),                                            # 14
    Var("v", 1, VarLinkage.GLOBAL_ALLOCATED),                                      # 15
    Datasec(".data", 4, (VarSecInfo(15, 0, 4),)),                                  # 16
    Float("double", 8),                                                            # 17
    DeclTag("tag", 4, 0),                                                          # 18
    TypeTag("user", 1),                                                            # 19
    Enum("u", 1, (EnumValue("HIGH", 0xFFFFFFFF),)),                                # 20
]

RAW = """\
[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
[2] PTR '(anon)' type_id=1
[3] ARRAY '(anon)' type_id=1 index_type_id=1 nr_elems=4
[4] STRUCT 's' size=8 vlen=2
\t'a' type_id=1 bits_offset=0
\t'(anon)' type_id=1 bits_offset=32 bitfield_size=3
[5] UNION '(anon)' size=4 vlen=1
\t'x' type_id=1 bits_offset=0
[6] ENUM 'e' encoding=SIGNED size=4 vlen=1
\t'NEG' val=-2
[7] ENUM64 '(anon)' encoding=UNSIGNED size=8 vlen=1
\t'BIG' val=1099511627776ULL
[8] FWD 'f' fwd_kind=union
[9] TYPEDEF 't' type_id=1
[10] VOLATILE '(anon)' type_id=1
[11] CONST '(anon)' type_id=1
[12] RESTRICT '(anon)' type_id=2
[13] FUNC_PROTO '(anon)' ret_type_id=1 vlen=2
\t'x' type_id=1
\t'(anon)' type_id=0
[14] FUNC 'fn' type_id=13 linkage=global
[15] VAR 'v' type_id=1, linkage=global
[16] DATASEC '.data' size=4 vlen=1
\ttype_id=15 offset=0 size=4 (VAR 'v')
[17] FLOAT 'double' size=8
[18] DECL_TAG 'tag' type_id=4 component_idx=0
[19] TYPE_TAG 'user' type_id=1
[20] ENUM 'u' encoding=UNSIGNED size=1 vlen=1
\t'HIGH' val=4294967295
"""


@pytest.fixture()
def btf_file(tmp_path: Path) -> Path:
    path = tmp_path / "types.btf"
    path.write_bytes(BTF.from_types(TYPES).to_bytes())
    return path


def test_raw_format_of_every_kind(btf_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "dump", str(btf_file), "--format", "raw"]) == 0
    assert capsys.readouterr().out == RAW


def test_raw_is_the_default_format(btf_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "dump", str(btf_file)]) == 0
    assert capsys.readouterr().out == RAW


def test_c_format_prints_dump_c(btf_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "dump", str(btf_file), "--format", "c", "--header-guard", "TYPES_H"]) == 0
    out = capsys.readouterr().out
    assert out == dump_c(BTF.from_file(btf_file), header_guard="TYPES_H")
    assert "struct s {\n\tint a;\n\tint: 32;\n};" in out


def test_split_btf_needs_its_base(btf_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = BTF.from_file(btf_file)
    split = tmp_path / "module.btf"
    split.write_bytes(BTF.from_types([Pointer(4)], base=base).to_bytes())
    assert main(["btf", "dump", str(split), "--base", str(btf_file)]) == 0
    assert capsys.readouterr().out == "[21] PTR '(anon)' type_id=4\n"


def test_unreadable_or_malformed_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "dump", str(tmp_path / "missing")]) == 1
    assert "cannot read BTF" in capsys.readouterr().err
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"not btf at all")
    assert main(["btf", "dump", str(bad), "--format", "c"]) == 1
    assert capsys.readouterr().err.startswith("pybpf: error: ")
