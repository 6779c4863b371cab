"""The running kernel's BTF (/sys/kernel/btf/vmlinux) parsed by pybpf.btf."""

from __future__ import annotations

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
