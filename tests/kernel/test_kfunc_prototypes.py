"""kfuncs declared by the generated vmlinux.h: a program calls them with no declaration of
its own, and the kernel runs the calls."""

from __future__ import annotations

import pybpf
from pybpf import cc
from pybpf.spec import ExternKind, ObjectSpec

# bpf_task_from_pid / bpf_task_release: Linux 6.2; SEC("syscall") programs may call them
FIND_ME = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

int wanted_tgid;
int found_tgid = -1;

SEC("syscall")
int find_me(void *ctx)
{
    struct task_struct *task;

    wanted_tgid = bpf_get_current_pid_tgid() >> 32;
    task = bpf_task_from_pid(wanted_tgid);
    if (!task)
        return 1;
    found_tgid = task->tgid;
    bpf_task_release(task);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_kfuncs_from_the_generated_header_run() -> None:
    obj = cc.compile(FIND_ME, cflags=["-Wall", "-Werror"])
    kinds = {name: e.kind for name, e in ObjectSpec.from_file(obj).externs.items()}
    assert kinds == {"bpf_task_from_pid": ExternKind.KFUNC, "bpf_task_release": ExternKind.KFUNC}
    with pybpf.load(obj) as loaded:
        assert loaded.programs["find_me"].test_run().retval == 0  # the task was found
        assert loaded.globals is not None
        assert loaded.globals["wanted_tgid"] > 0
        assert loaded.globals["found_tgid"] == loaded.globals["wanted_tgid"]
