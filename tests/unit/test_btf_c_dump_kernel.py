"""The C dump of the running kernel's BTF: it compiles, clang's layout equals BTF's for every
named member, and CO-RE programs built on it relocate against the kernel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pybpf import cc
from pybpf.btf import BTF, DeclTag, Kind, kernel_btf
from pybpf.btf.c_dump import dump_c
from pybpf.btf.c_dump_check import layout_asserts
from pybpf.btf.core import resolve_program
from pybpf.btf.types import CoreRelocKind
from pybpf.spec import ExternKind, ObjectSpec

VMLINUX = Path("/sys/kernel/btf/vmlinux")

pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="the kernel exposes no BTF (CONFIG_DEBUG_INFO_BTF)")


@pytest.fixture(scope="module")
def header_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding our dump of the kernel BTF as vmlinux.h (so cc does not generate one)."""
    d = tmp_path_factory.mktemp("vmlinux")
    (d / "vmlinux.h").write_text(dump_c(kernel_btf()))
    return d


def member_offset(btf: BTF, struct: str, member: str) -> int:
    t = btf[btf.find_one(struct, Kind.STRUCT)]
    (m,) = [m for m in t.members if m.name == member]  # type: ignore[union-attr]
    return m.bit_offset // 8


def test_kernel_header_compiles_warning_free_with_btf_layout(header_dir: Path) -> None:
    """Every struct/union/enum/typedef size and every named member offset, checked by clang."""
    asserts = layout_asserts(kernel_btf())
    assert asserts.count("__builtin_offsetof(struct task_struct,") > 100
    cc.compile(f'#include "vmlinux.h"\n{asserts}', include_dirs=[header_dir],
               cflags=["-Wall", "-Wextra", "-Werror"], cache=False)


def test_kernel_header_has_every_named_type(header_dir: Path) -> None:
    text = (header_dir / "vmlinux.h").read_text()
    btf = kernel_btf()
    for name, kind, c in (("task_struct", Kind.STRUCT, "struct task_struct {"),
                          ("bpf_func_id", Kind.ENUM, "enum bpf_func_id {"),
                          ("u32", Kind.TYPEDEF, "typedef __u32 u32;")):
        btf.find_one(name, kind)
        assert c in text


CORE_PROG = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

int parent_tgid;
int parent_tgid_builtin;

SEC("tp_btf/sched_process_fork")
int on_fork(u64 *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
    parent_tgid_builtin = __builtin_preserve_access_index(task->real_parent->tgid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_core_program_on_the_dump_relocates_against_the_kernel(header_dir: Path) -> None:
    obj = cc.compile(CORE_PROG, include_dirs=[header_dir], cache=False)
    spec = ObjectSpec.from_file(obj)
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    offsets = [r for r in prog.core_relocations if r.relo_kind is CoreRelocKind.FIELD_BYTE_OFFSET]
    assert {spec.btf.name_of(r.type_id) for r in offsets} == {"task_struct"}
    results = resolve_program(prog.core_relocations, spec.btf, kernel_btf())
    kernel = kernel_btf()
    want = {member_offset(kernel, "task_struct", "real_parent"), member_offset(kernel, "task_struct", "tgid")}
    got = {r.value for r in results if r.relocation.relo_kind is CoreRelocKind.FIELD_BYTE_OFFSET}
    assert got == want
    # both reads relocate both fields: two accesses for each of the two reads
    assert len(offsets) == 4


def kernel_kfuncs(btf: BTF) -> set[str]:
    """Names of the functions a whole-function ``bpf_kfunc`` decl tag marks, read from BTF."""
    return {btf.name_of(t.type_id) for _, t in btf.types()
            if isinstance(t, DeclTag) and t.name == "bpf_kfunc" and t.component_idx == -1}


def test_kernel_header_declares_every_kfunc(header_dir: Path) -> None:
    text = (header_dir / "vmlinux.h").read_text()
    kfuncs = kernel_kfuncs(kernel_btf())
    assert {"bpf_task_from_pid", "bpf_task_release", "bpf_rcu_read_lock"} <= kfuncs
    section = text[text.index("#ifndef BPF_NO_KFUNC_PROTOTYPES\n"):]
    declared = re.findall(r"^extern .*?\b(\w+)\(.* __weak __ksym(?: __bpf_fastcall)?;$", section, re.M)
    assert sorted(declared) == sorted(kfuncs)
    assert "extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;\n" in section


KFUNC_PROG = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

int found_tgid;

SEC("syscall")
int find_me(void *ctx)
{
    struct task_struct *task = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);

    if (!task)
        return 1;
    found_tgid = task->tgid;
    bpf_task_release(task);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_program_calling_kfuncs_of_the_dump_compiles(header_dir: Path) -> None:
    """No declaration of its own: the kfuncs come from vmlinux.h, as weak .ksyms externs."""
    obj = cc.compile(KFUNC_PROG, include_dirs=[header_dir], cflags=["-Wall", "-Werror"], cache=False)
    externs = ObjectSpec.from_file(obj).externs
    assert {name: (e.kind, e.weak) for name, e in externs.items()} == {
        "bpf_task_from_pid": (ExternKind.KFUNC, True), "bpf_task_release": (ExternKind.KFUNC, True),
    }
