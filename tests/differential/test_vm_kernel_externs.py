"""__ksym and __kconfig externs, in the kernel and in the VM: the kernel's loader fills them from
kallsyms and the kernel configuration; the VM takes the symbol's address from the caller
(``ksyms=``) and the same configuration, and the program must see the same values in both
(and calls bpf_rcu_read_lock/unlock, built-in kfuncs in the VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pybpf
import pybpf.vm as vm
from pybpf.cc import compile as cc_compile
from pybpf.loader.ksyms import kallsyms

pytestmark = pytest.mark.kernel

PROG = Path(__file__).parent.parent / "kernel" / "progs_load" / "ksyms.bpf.c"
GLOBALS = ["unlinkat_addr", "kernel_version", "hz", "bpf_syscall", "absent"]


@pytest.mark.parametrize("kconfig", [None, {"CONFIG_HZ": 1000, "CONFIG_BPF_SYSCALL": False}])
def test_externs_match_the_kernel(kconfig: dict[str, object] | None) -> None:
    obj = cc_compile(PROG)
    with pybpf.load(obj, kconfig=kconfig) as kernel:
        k_ret = kernel.programs["read_ksyms"].test_run().retval
        want = {name: kernel.globals[name] for name in GLOBALS}  # type: ignore[index]
    address = kallsyms()["do_unlinkat"]
    assert want["unlinkat_addr"] == address != 0
    with vm.load(obj, ksyms={"do_unlinkat": address}, kconfig=kconfig) as coll:
        v_ret = coll.programs["read_ksyms"].test_run(ctx=b"").retval
        got = {name: coll.globals[name] for name in GLOBALS}  # type: ignore[index]
    assert (v_ret, got) == (k_ret, want)
