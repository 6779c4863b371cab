"""Load-time attach targets: the kernel BTF id a tracing, LSM or iterator program is bound to.

``SEC("fentry/do_unlinkat")`` is verified against the prototype of ``do_unlinkat``, so
BPF_PROG_LOAD needs that FUNC's id in the kernel BTF (``attach_btf_id``). The table
:func:`targets` says, per expected attach type, which BTF name and kind to look for (built on
first use: loading programs of other types never imports :mod:`pybpf.btf`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .._log import get_logger
from ..enums import AttachType, ProgramType
from ..errors import BPFError, NotSupportedError
from ..spec import ProgramSpec

if TYPE_CHECKING:
    from ..btf import BTF, Kind

log = get_logger("pybpf.loader")


class AttachTargetError(BPFError):
    """The kernel has no function, hook or tracepoint by the name a program attaches to."""


@dataclass(frozen=True)
class Target:
    """How a program's ``attach_to`` becomes a kernel BTF name."""

    prefix: str  # prepended to attach_to: "btf_trace_" for tp_btf
    kind: Kind
    what: str  # for messages


@lru_cache(maxsize=1)
def targets() -> dict[AttachType, Target]:
    """AttachType -> the BTF name and kind its target is."""
    from ..btf import Kind

    func = Target("", Kind.FUNC, "kernel function")
    return {
        AttachType.TRACE_FENTRY: func,
        AttachType.TRACE_FEXIT: func,
        AttachType.MODIFY_RETURN: func,
        AttachType.TRACE_RAW_TP: Target("btf_trace_", Kind.TYPEDEF, "BTF tracepoint"),
        AttachType.LSM_MAC: Target("bpf_lsm_", Kind.FUNC, "LSM hook"),
        AttachType.LSM_CGROUP: Target("bpf_lsm_", Kind.FUNC, "LSM hook"),
        AttachType.TRACE_ITER: Target("bpf_iter_", Kind.FUNC, "BPF iterator"),
    }

#: Program types whose load needs an attach BTF id.
BTF_ATTACHED = frozenset({ProgramType.TRACING, ProgramType.LSM})


def attach_btf_id(prog: ProgramSpec, kernel: BTF | Callable[[], BTF]) -> int:
    """The ``attach_btf_id`` for ``prog`` (0 when its type needs none)."""
    if prog.type not in BTF_ATTACHED or prog.expected_attach_type not in targets():
        return 0
    target = targets()[prog.expected_attach_type]
    if not prog.attach_to:
        raise AttachTargetError(f"program {prog.name!r} (section {prog.section!r}) names no {target.what}; "
                                f"write it in the section name, e.g. SEC(\"{prog.section.split('/')[0]}/<name>\")")
    name = target.prefix + prog.attach_to.split(":")[-1]
    btf = kernel() if callable(kernel) else kernel
    ids = btf.find(name, target.kind)
    if not ids:
        raise AttachTargetError(f"program {prog.name!r}: the kernel has no {target.what} {prog.attach_to!r} "
                                f"(no BTF {target.kind.name} named {name!r}); check the name in "
                                f"/sys/kernel/btf/vmlinux (pybpf btf dump)")
    return ids[0]


#: Program types the loader cannot load from an object alone: why, and what to do instead.
UNSUPPORTED: dict[ProgramType, tuple[str, str]] = {
    ProgramType.EXT: (
        "an freplace program replaces a function of another loaded program, whose fd the load needs",
        "load the target program first and load this one with pybpf._sys.prog_load(attach_prog_fd=...)",
    ),
    ProgramType.STRUCT_OPS: (
        "a struct_ops program is loaded for the member of a struct_ops map it implements",
        "assign it to a member of a SEC(\".struct_ops\") table in the same object",
    ),
}


def check_loadable(prog: ProgramSpec, attach_known: bool = False) -> None:
    """NotSupportedError for a program type the loader cannot load (see :data:`UNSUPPORTED`);
    ``attach_known``: the caller supplies the attach target (struct_ops members)."""
    if prog.type in UNSUPPORTED and not attach_known:
        reason, alternative = UNSUPPORTED[prog.type]
        raise NotSupportedError(f"loading {prog.type.name} program {prog.name!r} from an object",
                                reason=reason, alternative=alternative)

