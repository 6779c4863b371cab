"""What the rewriter needs to know about the target kernel, behind one small interface:
tracepoint formats, whether kprobes work, the syscall wrapper prefix and the CPU count.

:class:`LiveKernel` asks the running kernel (tracefs, :mod:`pybpf.features`); tests pass a
:class:`StaticKernel` with fixed answers, so rewriting is pure and testable without root.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from ... import tracefs
from ...btf.types import Kind
from ...errors import BPFError
from ...link.alternatives import ARCH_SYSCALL_PREFIX, SYSCALL_PREFIXES

if TYPE_CHECKING:
    from ...btf import BTF


class FieldKind(str, Enum):
    """What a struct member is, as far as reading through it goes."""

    SCALAR = "scalar"
    POINTER = "pointer"
    STRUCT = "struct"
    ARRAY = "array"


@dataclass(frozen=True)
class FieldType:
    """A member's kind and, for a struct or a pointer to one, the struct's name."""

    kind: FieldKind
    struct: str | None = None


class KernelInfo(Protocol):
    """The facts about the target kernel that rewriting depends on."""

    has_kprobes: bool
    ncpus: int
    syscall_prefix: str

    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        """The tracepoint's format, None when it does not exist."""
        ...

    def tracepoints(self, category: str) -> list[str]:
        """The tracepoint names of ``category`` (empty when unknown)."""
        ...

    def field_type(self, struct: str, path: tuple[str, ...]) -> FieldType | None:
        """The type of ``struct <struct>``'s member ``a.b.c`` (``path``), None when unknown."""
        ...


class LiveKernel:
    """The running kernel (reads tracefs; mounts it when needed)."""

    def __init__(self) -> None:
        from ... import _sys, features

        self.has_kprobes = features.feature("kprobe").supported
        self.ncpus = _sys.possible_cpus()
        self.syscall_prefix = ARCH_SYSCALL_PREFIX.get(platform.machine(), "sys_")

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance per process (see live_kernel)
    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        try:
            if not tracefs.tracepoint_exists(category, event):
                return None
            return tracefs.tracepoint_format(category, event)
        except (BPFError, OSError, ValueError):
            return None

    def tracepoints(self, category: str) -> list[str]:
        try:
            return tracefs.tracepoints(category)
        except (BPFError, OSError):
            return []

    def similar_tracepoints(self, function: str) -> list[str]:
        """``cat:event`` tracepoints named like ``function`` (``vfs_fsync`` -> ``ext4:ext4_sync_file_enter``...)."""
        from ...link.alternatives import covering_tracepoints

        return covering_tracepoints(function)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per process (see live_kernel)
    def field_type(self, struct: str, path: tuple[str, ...]) -> FieldType | None:
        try:
            from ...btf import kernel_btf

            return btf_field_type(kernel_btf(), struct, path)
        except (BPFError, OSError):
            return None


def _member(btf: BTF, type_id: int, name: str) -> int | None:
    """Type id of member ``name`` of struct/union ``type_id``, looking inside anonymous members."""
    t = btf[btf.resolve(type_id)]
    for m in getattr(t, "members", ()):
        if m.name == name:
            return int(m.type_id)
        if not m.name:
            inner = _member(btf, m.type_id, name)
            if inner is not None:
                return inner
    return None


def _field_type(btf: BTF, type_id: int) -> FieldType:
    tid = btf.resolve(type_id)
    kind = btf.kind_of(tid)
    if kind in (Kind.STRUCT, Kind.UNION):
        return FieldType(FieldKind.STRUCT, btf.name_of(tid) or None)
    if kind is Kind.ARRAY:
        return FieldType(FieldKind.ARRAY)
    if kind is Kind.PTR:
        target = btf.resolve(btf[tid].type_id)  # type: ignore[union-attr]
        named = btf.kind_of(target) in (Kind.STRUCT, Kind.UNION, Kind.FWD) and btf.name_of(target)
        return FieldType(FieldKind.POINTER, btf.name_of(target) if named else None)
    return FieldType(FieldKind.SCALAR)


def btf_field_type(btf: BTF, struct: str, path: tuple[str, ...]) -> FieldType | None:
    """The type of member ``path`` of ``struct <struct>`` (or union) in ``btf``, None when unknown."""
    ids = btf.find(struct, Kind.STRUCT) or btf.find(struct, Kind.UNION)
    if not ids or not path:
        return None
    tid = ids[0]
    for name in path:
        if btf.kind_of(btf.resolve(tid)) not in (Kind.STRUCT, Kind.UNION):
            return None
        nxt = _member(btf, tid, name)
        if nxt is None:
            return None
        tid = nxt
    return _field_type(btf, tid)


@functools.lru_cache(maxsize=1)
def live_kernel() -> LiveKernel:
    """The one :class:`LiveKernel` of this process (its answers are cached)."""
    return LiveKernel()


@dataclass
class StaticKernel:
    """Fixed answers: ``formats`` maps ``"cat:event"`` to a format file's text."""

    formats: dict[str, str] = field(default_factory=dict)
    has_kprobes: bool = False
    ncpus: int = 4
    syscall_prefix: str = "__x64_sys_"
    #: ``"struct.a.b"`` -> the member's type; members not listed are unknown
    fields: dict[str, FieldType] = field(default_factory=dict)

    def tracepoint_format(self, category: str, event: str) -> tracefs.TracepointFormat | None:
        text = self.formats.get(f"{category}:{event}")
        return tracefs.parse_format(text) if text is not None else None

    def tracepoints(self, category: str) -> list[str]:
        return sorted(k.split(":", 1)[1] for k in self.formats if k.startswith(category + ":"))

    def field_type(self, struct: str, path: tuple[str, ...]) -> FieldType | None:
        return self.fields.get(f"{struct}.{'.'.join(path)}")


def syscall_name(function: str, kernel: KernelInfo) -> str | None:
    """The syscall a kernel function (``__x64_sys_clone``, ``sys_clone``...) implements,
    when the kernel has its ``syscalls:sys_enter_<name>`` tracepoint."""
    for prefix in SYSCALL_PREFIXES:
        if function.startswith(prefix):
            name = function[len(prefix):]
            if name and kernel.tracepoint_format("syscalls", f"sys_enter_{name}") is not None:
                return name
    return None


__all__ = ["FieldKind", "FieldType", "btf_field_type", "KernelInfo", "LiveKernel", "StaticKernel", "live_kernel", "syscall_name"]
