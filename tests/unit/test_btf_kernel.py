"""The running kernel's BTF (/sys/kernel/btf/vmlinux) parsed by pybpf.btf."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.btf import BTF, Int, Kind, Pointer, Struct, kernel_btf
from pybpf.errors import BTFError

VMLINUX = Path("/sys/kernel/btf/vmlinux")
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="kernel without CONFIG_DEBUG_INFO_BTF")


@pytest.fixture(scope="module")
def vmlinux() -> BTF:
    return kernel_btf()


def test_task_struct_pid_is_signed_int(vmlinux: BTF) -> None:
    ids = vmlinux.find("task_struct", Kind.STRUCT)
    assert len(ids) == 1
    task = vmlinux[ids[0]]
    assert isinstance(task, Struct) and task.name == "task_struct"
    pid = next(m for m in task.members if m.name == "pid")
    target = vmlinux[vmlinux.resolve(pid.type_id)]
    assert isinstance(target, Int) and target.size == 4 and target.signed
    assert vmlinux.size_of(pid.type_id) == 4
    assert vmlinux.size_of(ids[0]) == task.size > 1000


def test_real_parent_is_pointer_to_task_struct(vmlinux: BTF) -> None:
    task_id = vmlinux.find_one("task_struct", Kind.STRUCT)
    task = vmlinux[task_id]
    assert isinstance(task, Struct)
    parent = next(m for m in task.members if m.name == "real_parent")
    ptr = vmlinux[vmlinux.resolve(parent.type_id)]
    assert isinstance(ptr, Pointer) and vmlinux.resolve(ptr.type_id) == task_id
    assert vmlinux.size_of(parent.type_id) == 8


def test_cached_and_lazy(vmlinux: BTF) -> None:
    assert kernel_btf() is vmlinux
    tid = vmlinux.find_one("task_struct", Kind.STRUCT)
    assert vmlinux[tid] is vmlinux[tid]
    assert vmlinux.name_of(tid) == "task_struct"
    assert vmlinux.kind_of(tid) is Kind.STRUCT


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_len_and_types_agree_with_bpftool(vmlinux: BTF) -> None:
    raw = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(VMLINUX), "format", "raw"],
        capture_output=True, text=True, check=True,
    ).stdout
    headers = [ln for ln in raw.splitlines() if ln.startswith("[")]
    assert len(vmlinux) == len(headers) + 1
    kinds = {int(ln[1:ln.index("]")]): ln.split()[1] for ln in headers}
    for tid, t in vmlinux.types():
        assert kinds[tid] == t.kind.name, tid


def test_find_unknown_and_ambiguous(vmlinux: BTF) -> None:
    assert vmlinux.find("no_such_type_anywhere") == []
    with pytest.raises(BTFError, match="no type"):
        vmlinux.find_one("no_such_type_anywhere")
    with pytest.raises(BTFError, match="out of range"):
        vmlinux[len(vmlinux)]


def test_import_pybpf_does_not_import_btf() -> None:
    code = "import sys, pybpf; assert 'pybpf.btf' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vmlinux_round_trips_byte_for_byte(vmlinux: BTF) -> None:
    raw = VMLINUX.read_bytes()
    out = vmlinux.to_bytes()
    assert out == raw
    again = BTF.from_bytes(out)
    assert len(again) == len(vmlinux)
    for tid in (1, 100, len(vmlinux) // 2, len(vmlinux) - 1):
        assert again[tid] == vmlinux[tid]


def test_split_btf_continues_ids_and_strings(vmlinux: BTF) -> None:
    from pybpf.btf import Member

    task = vmlinux.find_one("task_struct", Kind.STRUCT)
    int_id = vmlinux.find_one("int", Kind.INT)
    n = len(vmlinux)
    own = [
        Pointer(task),                                                            # n
        Struct("my_module_state", 16, (Member("pybpf_owner_field", n, 0), Member("pid", int_id, 64))),  # n + 1
        Struct("task_struct", 8, (Member("pid", int_id, 0),)),                    # n + 2 (a second one)
    ]
    split = BTF.from_types(own, base=vmlinux)
    assert split.base is vmlinux and split.type_id_start == n and len(split) == n + 3
    assert split[n + 1].name == "my_module_state" and split[task] is vmlinux[task]
    assert split.find("task_struct", Kind.STRUCT) == [task, n + 2]
    assert split.size_of(n + 1) == 16 and split.resolve(split[n + 1].members[0].type_id) == n  # type: ignore[union-attr]

    blob = split.to_bytes()  # only the module's own types and new strings
    assert len(blob) < 200
    str_off = int.from_bytes(blob[16:20], "little")
    str_len = int.from_bytes(blob[20:24], "little")
    strings = blob[24 + str_off:24 + str_off + str_len]
    assert strings == b"my_module_state\0pybpf_owner_field\0"  # "pid", "task_struct", "int": from the base
    again = BTF.from_bytes(blob, base=vmlinux)
    assert [t for _, t in again.types(include_base=False)] == own
    off = again.string_offset("pybpf_owner_field")
    assert off == vmlinux.header.str_len + len("my_module_state") + 1 and again.string(off) == "pybpf_owner_field"
    assert again.string_offset("pid") == vmlinux.string_offset("pid") < vmlinux.header.str_len


def test_module_btf_of_loaded_modules(vmlinux: BTF) -> None:
    from pybpf.btf import module_btf

    modules = [p.name for p in VMLINUX.parent.iterdir() if p.name != "vmlinux"]
    with pytest.raises(BTFError, match="no BTF for kernel module 'no_such_module_xyz'"):
        module_btf("no_such_module_xyz")
    for name in modules[:3]:
        mod = module_btf(name)
        assert mod.base is vmlinux and mod.type_id_start == len(vmlinux)
        mod.validate()
        assert mod.to_bytes() == (VMLINUX.parent / name).read_bytes()
