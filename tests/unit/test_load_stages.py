"""The load pipeline's pure stages: kconfig values, BTF sanitising, source lines, relocation
patching, attach targets, ksym resolution (no kernel needed)."""

from __future__ import annotations

import struct

import pytest

from pybpf.btf import (
    BTF, Array, Const, Datasec, DeclTag, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto, Int,
    IntEncoding, LineInfo, Param, Pointer, Struct, Typedef, TypeTag, Union_, Var, VarLinkage, VarSecInfo,
)
from pybpf.enums import AttachType, MapType, ProgramType
from pybpf.errors import NotSupportedError
from pybpf.isa import assemble
from pybpf.isa.opcodes import CallSrc, PseudoSrc
from pybpf.loader.attach import AttachTargetError, attach_btf_id, check_loadable
from pybpf.loader.btf_sanitize import ALL_FEATURES, BTFFeature, sanitize
from pybpf.loader.kconfig import KconfigError, fill_kconfig, kernel_version_code, parse_config
from pybpf.loader.ksyms import KsymError, KsymResolver, ResolvedKsym, resolve_all
from pybpf.loader.relocate import POISON_KFUNC_CALL, RelocationContext, RelocationError, relocate
from pybpf.loader.source import failing_instruction, source_line
from pybpf.spec import ExternKind, ExternSpec, MapSpec, ProgramSpec, Relocation, RelocationKind

# ---- kconfig ---------------------------------------------------------------------------------

CONFIG = """\
# comment
CONFIG_HZ=250
CONFIG_BPF_SYSCALL=y
CONFIG_MODULES=m
# CONFIG_KPROBES is not set
CONFIG_LOCALVERSION="-custom"
CONFIG_NEG=-3
CONFIG_HEX=0x10
"""


def _kconfig_btf() -> BTF:
    return BTF.from_types([
        Int("int", 4, IntEncoding.SIGNED, bits=32),  # 1
        Int("_Bool", 1, IntEncoding.BOOL, bits=8),  # 2
        Int("char", 1, IntEncoding.CHAR, bits=8),  # 3
        Int("unsigned long long", 8, bits=64),  # 4
        Array(3, 1, 16),  # 5: char[16]
    ])


def _ext(name: str, type_id: int, offset: int, size: int, weak: bool = False) -> ExternSpec:
    return ExternSpec(name, ExternKind.KCONFIG, type_id, weak, offset=offset, size=size)


def test_parse_config_reads_values_and_unset_lines() -> None:
    cfg = parse_config(CONFIG)
    assert cfg["CONFIG_HZ"] == "250" and cfg["CONFIG_KPROBES"] == "n" and cfg["CONFIG_LOCALVERSION"] == '"-custom"'
    assert "# comment" not in cfg


def test_kernel_version_code() -> None:
    assert kernel_version_code("6.18.44-fc-v669") == (6 << 16) + (18 << 8) + 44
    assert kernel_version_code("5.4.300") == (5 << 16) + (4 << 8) + 255  # patch level saturates
    assert kernel_version_code("6.1") == (6 << 16) + (1 << 8)


def test_fill_kconfig_encodes_each_type() -> None:
    btf = _kconfig_btf()
    externs = {e.name: e for e in [
        _ext("CONFIG_HZ", 1, 0, 4), _ext("CONFIG_NEG", 1, 4, 4), _ext("CONFIG_HEX", 4, 8, 8),
        _ext("CONFIG_BPF_SYSCALL", 2, 16, 1), _ext("CONFIG_MODULES", 3, 17, 1), _ext("CONFIG_KPROBES", 3, 18, 1),
        _ext("CONFIG_LOCALVERSION", 5, 19, 16), _ext("CONFIG_ABSENT", 1, 36, 4, weak=True),
        _ext("LINUX_KERNEL_VERSION", 1, 40, 4),
    ]}
    kmap = MapSpec(".kconfig", MapType.ARRAY, 4, 44, 1, data=bytearray(44), section=".kconfig", freeze=True)
    out = fill_kconfig(kmap, externs, btf, config=parse_config(CONFIG), overrides={"LINUX_KERNEL_VERSION": 0x060102})
    data = bytes(out.data or b"")
    assert struct.unpack_from("<iiQ", data, 0) == (250, -3, 16)
    assert data[16:19] == bytes([1, 2, 0])  # y, m, n
    assert data[19:35] == b"-custom".ljust(16, b"\0")
    assert data[36:40] == bytes(4)  # weak and absent: 0
    assert struct.unpack_from("<I", data, 40)[0] == 0x060102
    assert kmap.data == bytearray(44)  # the spec is not changed


def test_fill_kconfig_errors() -> None:
    btf = _kconfig_btf()
    kmap = MapSpec(".kconfig", MapType.ARRAY, 4, 8, 1, data=bytearray(8))
    with pytest.raises(KconfigError, match="declare the extern __weak"):
        fill_kconfig(kmap, {"CONFIG_ABSENT": _ext("CONFIG_ABSENT", 1, 0, 4)}, btf, config={})
    with pytest.raises(KconfigError, match="bool extern"):
        fill_kconfig(kmap, {"CONFIG_M": _ext("CONFIG_M", 2, 0, 1)}, btf, config={"CONFIG_M": "m"})
    with pytest.raises(KconfigError, match="does not fit"):
        fill_kconfig(kmap, {"CONFIG_BIG": _ext("CONFIG_BIG", 2, 0, 1)}, btf, config={"CONFIG_BIG": "4096"})


# ---- BTF sanitising ------------------------------------------------------------------------


def _rich_btf() -> BTF:
    return BTF.from_types([
        Int("int", 4, IntEncoding.SIGNED, bits=32),  # 1
        FuncProto(1, (Param("x", 1),)),  # 2
        Func("global_fn", 2, FuncLinkage.GLOBAL),  # 3
        Func("bpf_rcu_read_lock", 2, FuncLinkage.EXTERN),  # 4
        Var("counter", 1, VarLinkage.GLOBAL_ALLOCATED),  # 5
        Var("CONFIG_HZ", 1, VarLinkage.GLOBAL_EXTERN),  # 6
        Datasec(".kconfig", 8, (VarSecInfo(6, 4, 4), VarSecInfo(5, 0, 4))),  # 7: out of offset order
        Datasec(".ksyms", 0, (VarSecInfo(4, 0, 0),)),  # 8
        Float("double", 8),  # 9
        TypeTag("user", 1),  # 10
        Pointer(10),  # 11
        DeclTag("tag", 3, -1),  # 12
        Enum64("big", 8, (EnumValue("A", 1 << 40),)),  # 13
        Var("untyped_ksym", 0, VarLinkage.GLOBAL_EXTERN),  # 14: const void
    ])


def test_extern_fixups_apply_with_every_feature() -> None:
    btf = _rich_btf()
    out = sanitize(btf, ALL_FEATURES)
    assert len(out) == len(btf)  # ids unchanged
    assert out[4] == Typedef("bpf_rcu_read_lock", 2)
    assert out[6] == Var("CONFIG_HZ", 1, VarLinkage.GLOBAL_ALLOCATED)
    assert [v.offset for v in out[7].vars] == [0, 4]  # type: ignore[union-attr]
    assert out[8] == Struct("", 0, ())
    assert isinstance(out[14], Int)
    assert out[3] == btf[3] and out[9] == btf[9] and out[13] == btf[13]  # supported kinds stay


@pytest.mark.parametrize("missing, tid, expected", [
    (BTFFeature.FLOAT, 9, Struct("", 8, ())),
    (BTFFeature.TYPE_TAG, 10, Const(1)),
    (BTFFeature.DECL_TAG, 12, Int("", 1, bits=8)),
    (BTFFeature.ENUM64, 13, Union_("", 8, ())),
    (BTFFeature.GLOBAL_FUNC, 3, Func("global_fn", 2, FuncLinkage.STATIC)),
    (BTFFeature.FUNC, 3, Typedef("global_fn", 2)),
    (BTFFeature.DATASEC, 7, Struct("", 8, ())),
    (BTFFeature.DATASEC, 5, Int("", 1, bits=8)),
])
def test_missing_features_are_replaced(missing: BTFFeature, tid: int, expected: object) -> None:
    out = sanitize(_rich_btf(), ALL_FEATURES - {missing})
    assert out[tid] == expected
    assert len(out) == len(_rich_btf())


def test_sanitize_keeps_strings_for_line_info() -> None:
    btf = _rich_btf()
    out = sanitize(btf, frozenset())
    assert out.string_offset("global_fn") == btf.string_offset("global_fn")


def test_nothing_to_do_returns_the_same_btf() -> None:
    btf = BTF.from_types([Int("int", 4, IntEncoding.SIGNED, bits=32)])
    assert sanitize(btf, ALL_FEATURES) is btf


# ---- verifier log -> source line ----------------------------------------------------------

LOG = """\
func#0 @0
0: R1=ctx() R10=fp0
; int f(void *ctx) @ prog.c:10
0: (b4) w1 = 1                        ; R1=1
1: (63) *(u32 *)(r10 -4) = r1
4: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1)
5: (79) r0 = *(u64 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
processed 5 insns (limit 1000000)
"""

LINES = [
    LineInfo(0, "/src/prog.c", "int f(void *ctx)", 10, 0),
    LineInfo(1, "/src/prog.c", "    __u32 key = 1;", 12, 0),
    LineInfo(5, "/src/prog.c", "    return *value;", 14, 5),
    LineInfo(7, "/src/prog.c", "}", 15, 0),
]


def test_failing_instruction_is_the_last_printed() -> None:
    assert failing_instruction(LOG) == 5
    assert failing_instruction("no instructions here") is None


def test_source_line_maps_through_line_info() -> None:
    assert source_line(LOG, LINES) == "prog.c:14: return *value;"
    # an instruction between two records belongs to the earlier one
    assert source_line(LOG.replace("5: (79)", "3: (79)"), LINES) == "prog.c:12: __u32 key = 1;"
    assert source_line(LOG, []) == ""


# ---- relocation patching ------------------------------------------------------------------


def _prog(text: str, relocs: list[Relocation]) -> ProgramSpec:
    return ProgramSpec("p", "xdp", ProgramType.XDP, assemble(text), relocations=relocs)


def test_relocations_patch_map_fds_values_ksyms_and_kfuncs() -> None:
    prog = _prog("""
        r1 = 0 ll
        r2 = 0 ll
        r3 = 0 ll
        r4 = 0 ll
        r5 = 0 ll
        call 0
        call 0
        exit
    """, [
        Relocation(0, RelocationKind.MAP_FD, "counts"),
        Relocation(2, RelocationKind.MAP_VALUE, "obj.data", offset=24),
        Relocation(4, RelocationKind.KCONFIG, "CONFIG_HZ", offset=8),
        Relocation(6, RelocationKind.KSYM, "runqueues"),
        Relocation(8, RelocationKind.KSYM, "untyped"),
        Relocation(10, RelocationKind.KFUNC, "bpf_rcu_read_lock"),
        Relocation(11, RelocationKind.KFUNC, "mod_kfunc"),
    ])
    ctx = RelocationContext(
        map_fds={"counts": 5, "obj.data": 6, "obj.kconfig": 7}, kconfig_map="obj.kconfig",
        ksyms={
            "runqueues": ResolvedKsym("runqueues", ExternKind.KSYM, btf_id=1234),
            "untyped": ResolvedKsym("untyped", ExternKind.KSYM, address=0xFFFF_FFFF_8100_0000),
            "bpf_rcu_read_lock": ResolvedKsym("bpf_rcu_read_lock", ExternKind.KFUNC, btf_id=77),
            "mod_kfunc": ResolvedKsym("mod_kfunc", ExternKind.KFUNC, btf_id=88, module="nf_conntrack"),
        },
        module_fd=lambda module: 42,
    )
    out = relocate(prog, ctx)
    assert (out[0].src, out[0].imm) == (PseudoSrc.MAP_FD, 5)
    assert (out[1].src, out[1].lo32, out[1].hi32) == (PseudoSrc.MAP_VALUE, 6, 24)
    assert (out[2].src, out[2].lo32, out[2].hi32) == (PseudoSrc.MAP_VALUE, 7, 8)
    assert (out[3].src, out[3].lo32, out[3].hi32) == (PseudoSrc.BTF_ID, 1234, 0)
    assert (out[4].src, out[4].imm & (2**64 - 1)) == (0, 0xFFFF_FFFF_8100_0000)
    assert (out[5].src, out[5].imm, out[5].off) == (CallSrc.KFUNC, 77, 0)
    assert (out[6].src, out[6].imm, out[6].off) == (CallSrc.KFUNC, 88, 1)
    assert ctx.fd_array == [0, 42]
    assert prog.instructions[0].imm == 0  # the spec is not changed


def test_missing_weak_externs() -> None:
    prog = _prog("r1 = 0 ll\ncall 0\nexit", [Relocation(0, RelocationKind.KSYM, "gone"),
                                             Relocation(2, RelocationKind.KFUNC, "gone_fn")])
    ctx = RelocationContext(map_fds={}, ksyms={
        "gone": ResolvedKsym("gone", ExternKind.KSYM, found=False),
        "gone_fn": ResolvedKsym("gone_fn", ExternKind.KFUNC, found=False)})
    out = relocate(prog, ctx)
    assert (out[0].src, out[0].imm) == (0, 0)
    assert (out[1].src, out[1].imm) == (CallSrc.HELPER, POISON_KFUNC_CALL)


def test_relocation_errors() -> None:
    with pytest.raises(RelocationError, match="map 'nope'"):
        relocate(_prog("r1 = 0 ll\nexit", [Relocation(0, RelocationKind.MAP_FD, "nope")]), RelocationContext(map_fds={}))
    with pytest.raises(RelocationError, match="does not start an instruction"):
        relocate(_prog("r1 = 0 ll\nexit", [Relocation(1, RelocationKind.MAP_FD, "m")]), RelocationContext(map_fds={"m": 3}))


# ---- attach targets -----------------------------------------------------------------------


def _kernel_like() -> BTF:
    return BTF.from_types([
        Int("int", 4, IntEncoding.SIGNED, bits=32),  # 1
        FuncProto(1, ()),  # 2
        Func("do_unlinkat", 2, FuncLinkage.GLOBAL),  # 3
        Typedef("btf_trace_sched_switch", 11),  # 4
        Func("bpf_lsm_file_open", 2),  # 5
        Func("bpf_iter_task", 2),  # 6
        Func("other", 2),  # 7
        Func("another", 2),  # 8
        Func("more", 2),  # 9
        Func("still_more", 2),  # 10
        Pointer(2),  # 11
    ])


@pytest.mark.parametrize("ptype, attach, target, expected", [
    (ProgramType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat", 3),
    (ProgramType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat", 3),
    (ProgramType.TRACING, AttachType.TRACE_RAW_TP, "sched_switch", 4),
    (ProgramType.LSM, AttachType.LSM_MAC, "file_open", 5),
    (ProgramType.TRACING, AttachType.TRACE_ITER, "task", 6),
    (ProgramType.KPROBE, None, "do_unlinkat", 0),
])
def test_attach_btf_ids(ptype: ProgramType, attach: AttachType | None, target: str, expected: int) -> None:
    prog = ProgramSpec("p", "s", ptype, [], expected_attach_type=attach, attach_to=target)
    assert attach_btf_id(prog, _kernel_like()) == expected


def test_attach_target_missing() -> None:
    prog = ProgramSpec("p", "fentry/nope", ProgramType.TRACING, [], expected_attach_type=AttachType.TRACE_FENTRY,
                       attach_to="nope")
    with pytest.raises(AttachTargetError, match="no kernel function 'nope'"):
        attach_btf_id(prog, _kernel_like())


def test_unsupported_program_types() -> None:
    with pytest.raises(NotSupportedError, match="freplace"):
        check_loadable(ProgramSpec("p", "freplace/x", ProgramType.EXT, []))
    check_loadable(ProgramSpec("p", "xdp", ProgramType.XDP, []))


# ---- ksyms ----------------------------------------------------------------------------------


def test_ksym_resolution() -> None:
    kernel = BTF.from_types([Int("int", 4, IntEncoding.SIGNED, bits=32), Var("runqueues", 1),
                             FuncProto(1, ()), Func("bpf_rcu_read_lock", 3)])
    local = BTF.from_types([Int("int", 4, IntEncoding.SIGNED, bits=32)])
    resolver = KsymResolver(kernel, None, symbols=lambda: {"jiffies": 0xFFFF0000})
    externs = {e.name: e for e in [
        ExternSpec("runqueues", ExternKind.KSYM, 1), ExternSpec("jiffies", ExternKind.KSYM, 0),
        ExternSpec("bpf_rcu_read_lock", ExternKind.KFUNC, 1), ExternSpec("weak_fn", ExternKind.KFUNC, 1, weak=True),
        ExternSpec("CONFIG_HZ", ExternKind.KCONFIG, 1),
    ]}
    out = resolve_all(externs, local, resolver)
    assert out["runqueues"] == ResolvedKsym("runqueues", ExternKind.KSYM, btf_id=2)
    assert out["jiffies"].address == 0xFFFF0000 and out["jiffies"].btf_id == 0
    assert out["bpf_rcu_read_lock"].btf_id == 4
    assert not out["weak_fn"].found
    assert "CONFIG_HZ" not in out
    with pytest.raises(KsymError, match="'missing_fn'"):
        resolve_all({"missing_fn": ExternSpec("missing_fn", ExternKind.KFUNC, 1)}, local, resolver)

