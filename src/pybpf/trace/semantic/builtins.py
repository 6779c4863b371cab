"""Types of builtin variables (``comm``, ``curtask``, ``args``, ``retval``, ``func``...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import ast as A
from ..types import (
    UINT64, KsymType, PointerType, RecordType, SpecialU64Type, StackType, StringType, Type, U64Kind, UsymType,
    VoidType,
)
from . import btftypes
from .context import USER_PROBES
from .model import ContextKind

if TYPE_CHECKING:
    from .analyser import Analyser


def _b_args(self: Analyser, node: A.Builtin) -> Type | None:
    assert self.probe is not None
    if self.probe.args is None:
        self.fail("The args builtin can not be typed here: no tracepoint or BTF information for this probe",
                  node.span)
    return self.probe.args


def _b_retval(self: Analyser, node: A.Builtin) -> Type:
    assert self.probe is not None
    if self.probe.args is not None and isinstance(self.probe.args, RecordType):
        f = self.probe.args.field("$retval")
        if f is not None:
            return f.type
    return UINT64


def _b_func(self: Analyser, node: A.Builtin) -> Type:
    return UsymType() if all(p in USER_PROBES for p in self.providers) else KsymType()


def _b_curtask(self: Analyser, node: A.Builtin) -> Type:
    btf = self.ctx.btf()
    rec = btftypes.record_by_name(btf, "struct task_struct") if btf is not None else None
    return PointerType(rec) if rec is not None else UINT64


def _b_ctx(self: Analyser, node: A.Builtin) -> Type:
    assert self.probe is not None
    if self.probe.context is ContextKind.ITER:
        btf = self.ctx.btf()
        target = self.probe.probe.attach_points[0].func
        rec = btftypes.record_by_name(btf, f"struct bpf_iter__{target}") if btf is not None else None
        if rec is not None:
            return PointerType(rec)
    return PointerType(VoidType())


BUILTINS: dict[str, Callable[[Analyser, A.Builtin], Type | None]] = {
    "comm": lambda self, n: StringType(16),
    "kstack": lambda self, n: StackType(True, limit=self.env.stack_limit),
    "ustack": lambda self, n: StackType(False, limit=self.env.stack_limit),
    "username": lambda self, n: SpecialU64Type(U64Kind.USERNAME),
    "probe": lambda self, n: SpecialU64Type(U64Kind.PROBE),
    "args": _b_args,
    "retval": _b_retval,
    "__builtin_retval": _b_retval,
    "func": _b_func,
    "curtask": _b_curtask,
    "ctx": _b_ctx,
}
