"""bpf_get_current_task[_btf] in the kernel and in the VM: a raw tracepoint test run reads
pid, tgid and comm of the task running it (this test's thread); the VM, given this thread's
identity (``contexts.current_task()``), must read the same values through the same CO-RE
offsets."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import pybpf
import pybpf.vm as vm
from pybpf.cc import compile as cc_compile
from pybpf.vm.contexts import current_task

pytestmark = pytest.mark.kernel

PROG = Path(__file__).parent.parent / "unit" / "progs_vm" / "current_task.bpf.c"


def test_current_task_matches_the_kernel() -> None:
    obj = cc_compile(PROG)
    with pybpf.load(obj) as kernel:
        k_ret = kernel.programs["current_task"].test_run(ctx=bytes(8)).retval
        k_seen = dict(kernel.globals["seen"])  # type: ignore[call-overload]
    tid, tgid = threading.get_native_id(), os.getpid()
    with open(f"/proc/self/task/{tid}/comm", "rb") as f:
        comm = f.read().rstrip(b"\n")
    assert (k_seen["pid"], k_seen["tgid"], k_seen["comm"]) == (tid, tgid, comm)  # the kernel saw this thread
    task = current_task()
    assert (task.pid, task.tgid, task.comm) == (tid, tgid, comm)
    with vm.load(obj, task=task) as coll:
        v_ret = coll.programs["current_task"].test_run(ctx=bytes(8)).retval
        v_seen = dict(coll.globals["seen"])  # type: ignore[index]
    assert (v_ret, v_seen) == (k_ret, k_seen)
