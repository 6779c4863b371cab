"""Built-in kfuncs: kernel functions (``extern ... __ksym`` called through
``BPF_PSEUDO_KFUNC_CALL``) whose effect in a userspace VM is fixed and worth having in tests.
Same shape as helpers: ``name -> func(runtime, r1, r2, r3, r4, r5) -> int``. Register more (or
replace these) with ``Runtime.register_helper("kfunc_name", func)``.

* RCU and preemption sections are no-ops: a VM run is never preempted, nothing is freed under it.
* Reference counting of tasks and cgroups is a no-op: acquire returns its argument (never
  NULL), release does nothing; the VM's objects live as long as the caller keeps them.
* ``bpf_rdonly_cast`` changes only what the verifier knows: it returns its argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["BUILTIN_KFUNCS"]


def nothing(rt: Runtime, *args: int) -> int:
    return 0


def first_argument(rt: Runtime, r1: int, *args: int) -> int:
    return r1


BUILTIN_KFUNCS: dict[str, Callable[..., int]] = {
    "bpf_rcu_read_lock": nothing,
    "bpf_rcu_read_unlock": nothing,
    "bpf_preempt_disable": nothing,
    "bpf_preempt_enable": nothing,
    "bpf_task_acquire": first_argument,
    "bpf_task_release": nothing,
    "bpf_cgroup_acquire": first_argument,
    "bpf_cgroup_release": nothing,
    "bpf_rdonly_cast": first_argument,
}
