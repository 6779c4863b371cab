"""struct_ops tables in the kernel's layout (no kernel: hand-built local and kernel BTF)."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, Array, FuncProto, Int, IntEncoding, Member, Param, Pointer, Struct
from pybpf.enums import MapFlags, MapType, ProgramType
from pybpf.errors import NotSupportedError
from pybpf.loader.struct_ops import StructOpsError, kernel_value, layout, program_attach
from pybpf.spec import MapSpec, ObjectSpec, ProgramSpec

U32 = Int("u32", 4, bits=32)
CHAR = Int("char", 1, IntEncoding.SIGNED, bits=8)


def _local() -> BTF:
    # struct my_ops { u32 (*go)(u32); u32 flags; char name[8]; }  (a ___flavor of the kernel's)
    return BTF.from_types([
        U32,  # 1
        FuncProto(1, (Param("x", 1),)),  # 2
        Pointer(2),  # 3
        CHAR,  # 4
        Array(4, 1, 8),  # 5
        Struct("my_ops___local", 24, (Member("go", 3, 0), Member("flags", 1, 64), Member("name", 5, 96))),  # 6
    ])


def _kernel() -> BTF:
    # struct my_ops { u64 pad; char name[8]; u32 (*go)(u32); u32 flags; u32 stop; }
    return BTF.from_types([
        U32,  # 1
        FuncProto(1, (Param("x", 1),)),  # 2
        Pointer(2),  # 3
        CHAR,  # 4
        Array(4, 1, 8),  # 5
        Int("u64", 8, bits=64),  # 6
        Struct("my_ops", 32, (Member("pad", 6, 0), Member("name", 5, 64), Member("go", 3, 128),
                              Member("flags", 1, 192), Member("stop", 1, 224))),  # 7
        Struct("bpf_struct_ops_my_ops", 48, (Member("common", 6, 0), Member("data", 7, 128))),  # 8
    ])


def _map(data: bytes, **progs: str) -> MapSpec:
    return MapSpec("ops", MapType.STRUCT_OPS, 4, 24, 1, value_type_id=6, data=bytearray(data),
                   section=".struct_ops", flags=MapFlags.NONE, struct_ops_programs=dict(progs))


def test_layout_and_value() -> None:
    m = _map(bytes(8) + (3).to_bytes(4, "little") + b"abc\0" + bytes(8), go="prog_go")
    lay = layout(m, _local(), _kernel())
    assert (lay.type_id, lay.wrapper_id, lay.value_size, lay.data_offset) == (7, 8, 48, 16)
    assert lay.member_index["go"] == 2
    value = kernel_value(m, lay, _local(), _kernel(), {"prog_go": 77})
    assert len(value) == 48
    assert value[16 + 16:16 + 24] == (77).to_bytes(8, "little")  # go
    assert value[16 + 24:16 + 28] == (3).to_bytes(4, "little")  # flags
    assert value[16 + 8:16 + 16] == b"abc\0" + bytes(4)  # name
    assert value[:16] == bytes(16) and value[16 + 28:] == bytes(48 - 44)


def test_program_attach_targets() -> None:
    spec = ObjectSpec(programs={"prog_go": ProgramSpec("prog_go", "struct_ops", ProgramType.STRUCT_OPS, [])},
                      maps={"ops": _map(bytes(24), go="prog_go")}, btf=_local())
    lay = layout(spec.maps["ops"], _local(), _kernel())
    assert program_attach(spec, {"ops": lay}) == {"prog_go": (7, 2)}


def test_errors() -> None:
    kernel_without = BTF.from_types([U32])
    with pytest.raises(NotSupportedError, match="struct my_ops"):
        layout(_map(bytes(24)), _local(), kernel_without)
    m = _map(bytes(24), missing="p")
    lay = layout(m, _local(), _kernel())
    spec = ObjectSpec(maps={"ops": m}, btf=_local())
    with pytest.raises(StructOpsError, match="no member 'missing'"):
        program_attach(spec, {"ops": lay})
