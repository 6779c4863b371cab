"""The BTF -> C dumper on hand-built BTF: exact text, and clang agrees with every BTF offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf import cc
from pybpf.btf import (
    BTF, Array, Const, DeclTag, Enum, Enum64, EnumValue, Func, FuncLinkage, FuncProto, Fwd, Int, IntEncoding,
    Member, Param, Pointer, Restrict, Struct, Typedef, Union_, Volatile,
)
from pybpf.btf.c_dump import dump_c
from pybpf.btf.c_dump_check import layout_asserts
from pybpf.errors import BTFError, CompileError
from pybpf.spec import ExternKind, ObjectSpec

INT = Int("int", 4, IntEncoding.SIGNED, 32)
CHAR = Int("char", 1, IntEncoding.SIGNED, 8)
LONG = Int("long", 8, IntEncoding.SIGNED, 64)
U16 = Int("unsigned short", 2, IntEncoding.NONE, 16)
U32 = Int("unsigned int", 4, IntEncoding.NONE, 32)

_PUSH = (
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
    "#endif\n\n"
)
_POP = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"


def body(btf: BTF) -> str:
    """The dumped declarations, without the guard and the preserve_access_index wrapper."""
    text = dump_c(btf, header_guard=None)
    if text.startswith(_PUSH):
        assert text.endswith(_POP)
        return text[len(_PUSH):-len(_POP)]
    assert _POP not in text
    return text


def compile_checked(btf: BTF, tmp_path: Path, extra: str = "") -> Path:
    """Compile the dump with -Werror plus layout asserts generated from the BTF."""
    (tmp_path / "vmlinux.h").write_text(dump_c(btf))
    src = f'#include "vmlinux.h"\n{layout_asserts(btf)}{extra}'
    return cc.compile(src, include_dirs=[tmp_path], cflags=["-Wall", "-Wextra", "-Werror"], cache=False)


def check(types: list, expected: str, tmp_path: Path, extra: str = "") -> BTF:
    btf = BTF.from_types(types)
    assert body(btf) == expected
    compile_checked(btf, tmp_path, extra)
    return btf


def test_header_guard_and_pragma_wrap_the_declarations() -> None:
    btf = BTF.from_types([INT, Typedef("s32", 1), Struct("s", 4, (Member("v", 2, 0),))])
    text = dump_c(btf)
    assert text == (
        "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n" + _PUSH
        + "typedef int s32;\n\nstruct s {\n\ts32 v;\n};\n\n" + _POP
        + "#endif /* __VMLINUX_H__ */\n"
    )
    assert dump_c(btf, header_guard="MY_H").startswith("#ifndef MY_H\n#define MY_H\n")
    assert dump_c(btf, header_guard=None).startswith(_PUSH)


def test_no_attribute_region_without_records(tmp_path: Path) -> None:
    """clang warns about a preserve_access_index region that applies to no record."""
    btf = BTF.from_types([INT, Typedef("s32", 1)])
    assert dump_c(btf, header_guard=None) == "typedef int s32;\n\n"
    compile_checked(btf, tmp_path)


def test_pointer_cycle_gets_a_forward_declaration(tmp_path: Path) -> None:
    check([
        INT,                                                        # 1
        Struct("a", 16, (Member("b", 3, 0), Member("x", 1, 64))),   # 2
        Pointer(4),                                                 # 3
        Struct("b", 8, (Member("a", 5, 0),)),                       # 4
        Pointer(2),                                                 # 5
        Struct("c", 16, (Member("a", 2, 0),)),                      # 6
    ], (
        "struct a {\n\tstruct b *b;\n\tint x;\n};\n\n"
        "struct b {\n\tstruct a *a;\n};\n\n"
        "struct c {\n\tstruct a a;\n};\n\n"
    ), tmp_path)


def test_by_value_member_is_defined_first(tmp_path: Path) -> None:
    # outer (id 2) uses inner (id 3, later) by value and through a typedef (id 4)
    check([
        INT,                                                              # 1
        Struct("outer", 8, (Member("in", 3, 0), Member("t", 4, 32))),     # 2
        Struct("inner", 4, (Member("v", 1, 0),)),                         # 3
        Typedef("inner_t", 5),                                            # 4
        Struct("other", 4, (Member("w", 1, 0),)),                         # 5
    ], (
        "struct inner {\n\tint v;\n};\n\n"
        "typedef struct other inner_t;\n\n"
        "struct other {\n\tint w;\n};\n\n"
        "struct outer {\n\tstruct inner in;\n\tinner_t t;\n};\n\n"
    ), tmp_path)


def test_typedef_of_struct_pointing_to_itself(tmp_path: Path) -> None:
    check([
        INT,                                                           # 1
        Typedef("node_t", 3),                                          # 2
        Struct("node", 16, (Member("next", 4, 0), Member("v", 1, 64))),  # 3
        Pointer(2),                                                    # 4
    ], (
        "typedef struct node node_t;\n\n"
        "struct node {\n\tnode_t *next;\n\tint v;\n};\n\n"
    ), tmp_path)


def test_anonymous_types_are_inlined_where_used(tmp_path: Path) -> None:
    check([
        INT,                                                                        # 1
        Struct("s", 12, (Member("", 3, 0), Member("e", 4, 32), Member("n", 5, 64))),  # 2
        Union_("", 4, (Member("i", 1, 0), Member("c", 6, 0))),                      # 3
        Enum("", 4, (EnumValue("A", 0), EnumValue("B", 1))),                        # 4
        Struct("", 4, (Member("", 7, 0),)),                                         # 5
        Int("char", 1, IntEncoding.SIGNED, 8),                                      # 6
        Union_("", 4, (Member("deep", 1, 0),)),                                     # 7
        Typedef("pair_t", 9),                                                       # 8
        Struct("", 8, (Member("x", 1, 0), Member("y", 1, 32))),                     # 9
        Enum("", 4, (EnumValue("TOP_LEVEL", 7),)),                                  # 10
    ], (
        "struct s {\n"
        "\tunion {\n\t\tint i;\n\t\tchar c;\n\t};\n"
        "\tenum {\n\t\tA = 0,\n\t\tB = 1,\n\t} e;\n"
        "\tstruct {\n\t\tunion {\n\t\t\tint deep;\n\t\t};\n\t} n;\n"
        "};\n\n"
        "typedef struct {\n\tint x;\n\tint y;\n} pair_t;\n\n"
        "enum {\n\tTOP_LEVEL = 7,\n};\n\n"
    ), tmp_path, extra='_Static_assert(A == 0 && B == 1 && TOP_LEVEL == 7, "enumerators");\n')


def test_bitfields_and_gaps_become_padding(tmp_path: Path) -> None:
    # flags: a:3 at bit 0, b:5 at bit 3, c:1 at bit 13 (a gap), then int v at byte 8 (a gap
    # clang would not leave), size 16 (a tail beyond the natural 12)
    check([
        U32,                                                                # 1
        Struct("flags", 16, (
            Member("a", 1, 0, 3), Member("b", 1, 3, 5), Member("c", 1, 13, 1), Member("v", 1, 64),
        )),                                                                 # 2
    ], (
        "struct flags {\n"
        "\tunsigned int a: 3;\n\tunsigned int b: 5;\n"
        "\tchar: 5;\n"
        "\tunsigned int c: 1;\n"
        "\tlong: 50;\n"
        "\tunsigned int v;\n"
        "\tint: 32;\n"
        "};\n\n"
    ), tmp_path, extra=(
        "static struct flags f;\n"
        "int set(void) { f.c = 1; return __builtin_preserve_field_info(f.c, 2 /* lshift */); }\n"
    ))


def test_packed_struct_gets_the_attribute(tmp_path: Path) -> None:
    check([
        CHAR,                                                      # 1
        INT,                                                       # 2
        Struct("p", 5, (Member("c", 1, 0), Member("i", 2, 8))),   # 3  int at offset 1
        Struct("q", 6, (Member("i", 2, 0), Member("c", 1, 32))),  # 4  size 6, not a multiple of 4
        # a packed struct is placed right after a char; then the int is naturally at 8
        Struct("holder", 12, (Member("c", 1, 0), Member("p", 3, 8), Member("tail", 2, 64))),  # 5
    ], (
        "struct p {\n\tchar c;\n\tint i;\n} __attribute__((packed));\n\n"
        "struct q {\n\tint i;\n\tchar c;\n\tchar: 8;\n} __attribute__((packed));\n\n"
        "struct holder {\n\tchar c;\n\tstruct p p;\n\tint tail;\n};\n\n"
    ), tmp_path)


def test_overaligned_member_and_union_padding(tmp_path: Path) -> None:
    # member of an __aligned(16) type lands at 16; an aligned union is larger than its members
    check([
        LONG,                                                          # 1
        Struct("al", 32, (Member("x", 1, 0), Member("y", 1, 128))),    # 2
        Union_("au", 16, (Member("x", 1, 0),)),                        # 3
    ], (
        "struct al {\n\tlong x;\n\tlong: 64;\n\tlong y;\n\tlong: 64;\n};\n\n"
        "union au {\n\tlong x;\n\tstruct {\n\t\tlong: 64;\n\t\tlong: 64;\n\t};\n};\n\n"
    ), tmp_path)


def test_function_pointers_prototypes_and_declarators(tmp_path: Path) -> None:
    check([
        INT,                                                             # 1
        FuncProto(1, (Param("", 3), Param("", 0))),                      # 2 int (struct foo *, ...)
        Pointer(4),                                                      # 3
        Fwd("foo"),                                                      # 4
        Pointer(2),                                                      # 5
        Typedef("cb_t", 5),                                              # 6
        FuncProto(0, ()),                                                # 7 void (void)
        Pointer(7),                                                      # 8
        Array(8, 1, 2),                                                  # 9  void (*[2])(void)
        Const(11),                                                       # 10 int *const
        Pointer(1),                                                      # 11 int *
        Array(1, 1, 3),                                                  # 12 int [3]
        Pointer(12),                                                     # 13 int (*)[3]
        Array(12, 1, 2),                                                 # 14 int [2][3]
        Volatile(1),                                                     # 15 volatile int
        Pointer(15),                                                     # 16 volatile int *
        FuncProto(11, (Param("", 1),)),                                  # 17 int *(int)
        Pointer(17),                                                     # 18
        Struct("ops", 96, (
            Member("cb", 6, 0), Member("fns", 9, 64), Member("cp", 10, 192), Member("pa", 13, 256),
            Member("aa", 14, 320), Member("vp", 16, 512), Member("ret", 18, 576),
            Member("cc", 20, 640), Member("rp", 21, 704),
        )),                                                              # 19
        Const(22),                                                       # 20 const char *
        Restrict(11),                                                    # 21 int *restrict
        Pointer(23),                                                     # 22
        Const(24),                                                       # 23
        Int("char", 1, IntEncoding.SIGNED, 8),                           # 24
        Func("kernel_func", 2),                                          # 25 not emitted
    ], (
        "struct foo;\n\n"
        "typedef int (*cb_t)(struct foo *, ...);\n\n"
        "struct ops {\n"
        "\tcb_t cb;\n"
        "\tvoid (*fns[2])(void);\n"
        "\tint *const cp;\n"
        "\tint (*pa)[3];\n"
        "\tint aa[2][3];\n"
        "\tvolatile int *vp;\n"
        "\tint *(*ret)(int);\n"
        "\tconst char *const cc;\n"
        "\tint *restrict rp;\n"
        "};\n\n"
    ), tmp_path)


def test_enums_signed_64bit_and_sized(tmp_path: Path) -> None:
    check([
        Enum("neg", 4, (EnumValue("NEG_MIN", -(1 << 31)), EnumValue("NEG_ONE", -1)), signed=True),  # 1
        Enum("big", 4, (EnumValue("BIG", 0xFFFFFFFF),)),                                             # 2
        Enum64("wide", 8, (EnumValue("W_LO", 1), EnumValue("W_HI", 1 << 63)), signed=False),        # 3
        Enum64("swide", 8, (EnumValue("S_MIN", -(1 << 63)), EnumValue("S_ONE", -1)), signed=True),  # 4
        Enum("tiny", 1, (EnumValue("T0", 0), EnumValue("T1", 5))),                                   # 5
        Enum64("small64", 8, (EnumValue("S64", 3),)),                                                # 6
        Enum("half", 2, (EnumValue("H", 300),)),                                                     # 7
    ], (
        "enum neg {\n\tNEG_MIN = -2147483648,\n\tNEG_ONE = -1,\n};\n\n"
        "enum big {\n\tBIG = 4294967295,\n};\n\n"
        "enum wide {\n\tW_LO = 1ULL,\n\tW_HI = 9223372036854775808ULL,\n};\n\n"
        "enum swide {\n\tS_MIN = (-9223372036854775807LL - 1),\n\tS_ONE = -1LL,\n};\n\n"
        "enum tiny {\n\tT0 = 0,\n\tT1 = 5,\n} __attribute__((mode(QI)));\n\n"
        "enum small64 {\n\tS64 = 3ULL,\n} __attribute__((mode(DI)));\n\n"
        "enum half {\n\tH = 300,\n} __attribute__((mode(HI)));\n\n"
    ), tmp_path, extra='_Static_assert(NEG_ONE == -1 && T1 == 5 && S_ONE < 0, "values");\n')


def test_duplicate_names_are_renamed_per_namespace(tmp_path: Path) -> None:
    check([
        INT,                                                          # 1
        Struct("foo", 4, (Member("a", 1, 0),)),                       # 2
        Struct("foo", 8, (Member("a", 1, 0), Member("b", 1, 32))),    # 3  -> foo___2
        Union_("foo", 4, (Member("u", 1, 0),)),                       # 4  -> foo___3 (same tag namespace)
        Typedef("foo", 1),                                            # 5  ordinary namespace: kept
        Enum("e1", 4, (EnumValue("X", 0), EnumValue("foo", 1))),      # 6  enumerator foo clashes with typedef
        Enum("e2", 4, (EnumValue("X", 5),)),                          # 7  X -> X___2
        Fwd("foo"),                                                   # 8  shares struct foo
        Pointer(8),                                                   # 9
        Struct("user", 24, (Member("f", 3, 0), Member("p", 9, 64), Member("t", 5, 128))),  # 10
    ], (
        "struct foo {\n\tint a;\n};\n\n"
        "struct foo___2 {\n\tint a;\n\tint b;\n};\n\n"
        "union foo___3 {\n\tint u;\n};\n\n"
        "typedef int foo;\n\n"
        "enum e1 {\n\tX = 0,\n\tfoo___2 = 1,\n};\n\n"
        "enum e2 {\n\tX___2 = 5,\n};\n\n"
        "struct user {\n\tstruct foo___2 f;\n\tstruct foo *p;\n\tfoo t;\n};\n\n"
    ), tmp_path)


def test_builtin_va_list_typedef_is_seen_through(tmp_path: Path) -> None:
    check([
        U32,                                                                      # 1
        Struct("__va_list_tag", 8, (Member("gp", 1, 0), Member("fp", 1, 32))),    # 2
        Array(2, 1, 1),                                                           # 3
        Typedef("__builtin_va_list", 3),                                          # 4
        Typedef("va_list", 4),                                                    # 5
        Struct("fmt", 8, (Member("va", 5, 0),)),                                  # 6
    ], (
        "struct __va_list_tag {\n\tunsigned int gp;\n\tunsigned int fp;\n};\n\n"
        "typedef struct __va_list_tag va_list[1];\n\n"
        "struct fmt {\n\tva_list va;\n};\n\n"
    ), tmp_path)


def test_struct_containing_itself_by_value_is_a_btf_error() -> None:
    btf = BTF.from_types([Struct("loop", 4, (Member("me", 1, 0),))])
    with pytest.raises(BTFError, match="struct loop contains itself by value"):
        dump_c(btf)


def test_unnamed_member_of_a_typedef_cycle_is_a_btf_error() -> None:
    """Deciding whether an unnamed member is padding follows its typedefs: a cycle of them is
    reported, not followed forever."""
    btf = BTF.from_types([Typedef("a", 2), Typedef("b", 1), Struct("s", 4, (Member("", 1, 0),))])
    with pytest.raises(BTFError, match="cycle of typedefs/modifiers"):
        dump_c(btf)


def test_layout_mismatch_is_caught_by_the_asserts(tmp_path: Path) -> None:
    """The layout asserts can fail: a header for other offsets does not compile with them."""
    real = BTF.from_types([INT, Struct("s", 8, (Member("a", 1, 0), Member("b", 1, 32)))])
    other = BTF.from_types([INT, Struct("s", 12, (Member("a", 1, 0), Member("b", 1, 64)))])
    (tmp_path / "vmlinux.h").write_text(dump_c(other))
    with pytest.raises(CompileError, match="static assert"):
        cc.compile(f'#include "vmlinux.h"\n{layout_asserts(real)}', include_dirs=[tmp_path], cache=False)


def test_names_from_other_languages_become_c(tmp_path: Path) -> None:
    check([
        Int("u8", 1, IntEncoding.NONE, 8),                                        # 1
        Int("i64", 8, IntEncoding.SIGNED, 64),                                    # 2
        Int("bool", 1, IntEncoding.BOOL, 8),                                      # 3
        Struct("core::fmt::Arguments", 16, (
            Member("a", 1, 0), Member("b", 3, 8), Member("c", 2, 64),
        )),                                                                       # 4
        Typedef("2fast", 4),                                                      # 5
    ], (
        "struct core__fmt__Arguments {\n\tunsigned char a;\n\t_Bool b;\n\tlong long c;\n};\n\n"
        "typedef struct core__fmt__Arguments _2fast;\n\n"
    ), tmp_path)


def test_forward_declared_enum_is_usable_through_pointers(tmp_path: Path) -> None:
    check([
        Enum("", 4, ()),                                   # 1 declares nothing
        Enum("fw", 4, ()),                                 # 2
        Pointer(2),                                        # 3
        Struct("s", 8, (Member("p", 3, 0),)),              # 4
    ], "enum fw;\n\nstruct s {\n\tenum fw *p;\n};\n\n", tmp_path)


KFUNC_MACROS = (
    "#ifndef BPF_NO_KFUNC_PROTOTYPES\n"
    "#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n"
    "#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n"
    "#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n"
    "#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n"
)
KFUNC_TYPES = [
    INT,                                                        # 1
    U32,                                                        # 2
    Typedef("u32", 2),                                          # 3
    Struct("task", 4, (Member("pid", 1, 0),)),                  # 4
    Pointer(4),                                                 # 5
    FuncProto(5, (Param("pid", 1), Param("flags", 3))),         # 6 struct task *(int pid, u32 flags)
    Func("find_task", 6, FuncLinkage.GLOBAL),                   # 7
    DeclTag("bpf_kfunc", 7),                                    # 8
    FuncProto(0, (Param("t", 5), Param("u32", 3))),             # 9 a parameter named like a typedef
    Func("put_task", 9, FuncLinkage.GLOBAL),                    # 10
    DeclTag("bpf_fastcall", 10),                                # 11 (before its bpf_kfunc tag)
    DeclTag("bpf_kfunc", 10),                                   # 12
    Func("not_a_kfunc", 6, FuncLinkage.GLOBAL),                 # 13
    DeclTag("bpf_kfunc", 13, 0),                                # 14 tags a parameter, not the function
    FuncProto(1, ()),                                           # 15 int (void)
    Func("count_tasks", 15, FuncLinkage.GLOBAL),                # 16
    DeclTag("bpf_kfunc", 16),                                   # 17
    DeclTag("bpf_kfunc", 16),                                   # 18 tagged twice: declared once
]
KFUNC_CALLER = """
#include <bpf/bpf_helpers.h>

SEC("syscall")
int use_kfuncs(void *ctx)
{
	struct task *t = find_task(1, 0);

	if (t)
		put_task(t, 0);
	return ctx ? count_tasks() : 0;
}
"""


def test_kfuncs_get_weak_extern_prototypes(tmp_path: Path) -> None:
    """A FUNC with a whole-function ``bpf_kfunc`` decl tag gets an ``extern ... __weak __ksym``
    prototype with its parameter names, after the types; programs call it with no declaration."""
    btf = BTF.from_types(KFUNC_TYPES)
    text = dump_c(btf, header_guard=None)
    types, _, kfuncs = text.partition(_POP)
    assert types.startswith(_PUSH) and "find_task" not in types
    assert kfuncs == KFUNC_MACROS + (
        "extern struct task *find_task(int pid, u32 flags) __weak __ksym;\n"
        "extern void put_task(struct task *t, u32) __weak __ksym __bpf_fastcall;\n"
        "extern int count_tasks(void) __weak __ksym;\n"
        "\n#endif /* BPF_NO_KFUNC_PROTOTYPES */\n\n"
    )
    obj = compile_checked(btf, tmp_path, KFUNC_CALLER)  # also: bpf_helpers.h defines __ksym again
    externs = ObjectSpec.from_file(obj).externs
    assert {name: (e.kind, e.weak) for name, e in externs.items()} == {
        name: (ExternKind.KFUNC, True) for name in ("find_task", "put_task", "count_tasks")
    }


def test_no_kfunc_prototypes_when_the_includer_says_so(tmp_path: Path) -> None:
    """``BPF_NO_KFUNC_PROTOTYPES`` leaves them out, for programs that declare kfuncs their way."""
    (tmp_path / "vmlinux.h").write_text(dump_c(BTF.from_types(KFUNC_TYPES)))
    src = ('#define BPF_NO_KFUNC_PROTOTYPES\n#include "vmlinux.h"\n'
           "extern long find_task(long) __attribute__((section(\".ksyms\")));\n"
           "long f(void) { return find_task(3); }\n")
    cc.compile(src, include_dirs=[tmp_path], cflags=["-Wall", "-Werror"], cache=False)
    with pytest.raises(CompileError, match="conflicting types"):
        cc.compile(src.replace("#define BPF_NO_KFUNC_PROTOTYPES\n", ""), include_dirs=[tmp_path], cache=False)
