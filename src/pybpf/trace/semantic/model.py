"""What semantic analysis produces: :class:`TypedProgram` and its parts, and the :class:`Env` it reads."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# the records and maps a compiled program describes live in pybpf.trace.layouts (the runtime of a
# cached program imports them without this module); they are still importable from here
from ..layouts import EVENT_HEADER_SIZE, EventField, EventKind, EventLayout, MapInfo
from ..types import Type

__all__ = [
    "EVENT_HEADER_SIZE", "ContextKind", "Env", "EventField", "EventKind", "EventLayout", "FieldBase", "FieldInfo",
    "MapInfo", "ProbeInfo", "TypedProgram",
]

if TYPE_CHECKING:
    from .. import ast as A
    from ...btf import BTF
    from ...tracefs import TracepointFormat
    from ..dwarfargs import FunctionArgs


def _default_btf() -> BTF:
    from ...btf import kernel_btf

    return kernel_btf()


def _default_format(category: str, name: str) -> TracepointFormat:
    from ... import tracefs

    return tracefs.tracepoint_format(category, name)


def _default_elf_symbols(path: str) -> list[str]:
    from ..probes import elf_function_symbols

    return elf_function_symbols(path)


def _default_function_args(binary: str, function: str) -> FunctionArgs:
    from ..dwarfargs import function_args

    return function_args(binary, function)


def _default_tracepoints() -> list[tuple[str, str]]:
    from ... import tracefs

    return tracefs.all_tracepoints()


@dataclass
class Env:
    """Inputs of semantic analysis that come from outside the program.

    Tests replace the callables to analyse without tracefs or kernel BTF.
    """

    unsafe: bool = False
    #: positional parameters ``$1``... as given on the command line
    params: tuple[str, ...] = ()
    #: kernel BTF (for ``curtask``, casts to ``struct X *``, fentry args); None: no BTF
    btf: Callable[[], BTF] | None = _default_btf
    tracepoint_format: Callable[[str, str], TracepointFormat] = _default_format
    #: all ``(category, name)`` pairs, for wildcard expansion
    tracepoints: Callable[[], list[tuple[str, str]]] = _default_tracepoints
    #: function symbols of a binary, for uprobe wildcard expansion
    elf_symbols: Callable[[str], list[str]] | None = _default_elf_symbols
    #: parameters of a user function from its binary's DWARF, for ``args`` in uprobes
    function_args: Callable[[str, str], FunctionArgs] = _default_function_args
    #: whether wildcards are expanded now (False: leave them to the attach stage)
    expand_wildcards: bool = True
    #: default string size (bpftrace's BPFTRACE_MAX_STRLEN)
    strlen: int = 64
    #: default kstack/ustack depth
    stack_limit: int = 127


class FieldBase(enum.StrEnum):
    """Where a field access reads from; codegen uses a direct load or a probe read."""

    CTX = "ctx"          # tracepoint record: direct load from the context pointer
    KERNEL = "kernel"    # through a kernel pointer: bpf_probe_read_kernel
    USER = "user"        # through a user pointer: bpf_probe_read_user
    VALUE = "value"      # inside a value already on the BPF stack (tuple element, C struct copy)


@dataclass(frozen=True)
class FieldInfo:
    """How to evaluate an ``ast.FieldAccess``: ``offset`` from the base address, result ``type``.

    Record-typed results are addresses (not read); scalar results are read from ``base``.
    ``data_loc``: a tracepoint ``__data_loc`` string (read the u32, then the bytes it locates).
    ``bits``/``bit_offset`` describe a bitfield.  For tuples, ``offset`` is the element offset.
    """

    offset: int
    type: Type
    base: FieldBase
    data_loc: bool = False
    bits: int = 0
    bit_offset: int = 0


class ContextKind(enum.StrEnum):
    """What the BPF program's context is for a probe."""

    NONE = "none"              # BEGIN/END (run by the runtime), interval/profile (perf event)
    TRACEPOINT = "tracepoint"  # record laid out by the format file
    PT_REGS = "pt_regs"        # kprobe/uprobe/usdt
    RAW_TP = "raw_tp"          # u64 args[]
    BTF_ARGS = "btf_args"      # fentry/fexit
    PERF = "perf"              # profile/software/hardware
    ITER = "iter"


@dataclass(frozen=True)
class ProbeInfo:
    """One probe block after analysis.

    ``attach_points`` has every attach point with wildcards expanded (as ``ast.AttachPoint``
    copies) when expansion was possible; ``args`` is the record type of ``args`` when typed.
    """

    index: int
    probe: A.Probe
    attach_points: tuple[A.AttachPoint, ...]
    context: ContextKind
    args: Type | None = None
    is_return: bool = False


@dataclass
class TypedProgram:
    """The AST plus everything codegen and the runtime need.

    - ``types``: ``node_id`` -> Type for every expression node.
    - ``fields``: ``node_id`` of each FieldAccess -> :class:`FieldInfo`.
    - ``maps``: map name -> :class:`MapInfo`.
    - ``variables``: ``(probe index, name)`` -> Type of each scratch variable.
    - ``probes``: one :class:`ProbeInfo` per probe block, in source order.
    - ``events``: :class:`EventLayout` by event id; ``call_events`` maps a call's node_id to its id.
    - ``params``: positional parameters; ``config``: the config block as a dict.
    """

    program: A.Program
    types: dict[int, Type] = field(default_factory=dict)
    fields: dict[int, FieldInfo] = field(default_factory=dict)
    maps: dict[str, MapInfo] = field(default_factory=dict)
    variables: dict[tuple[int, str], Type] = field(default_factory=dict)
    probes: list[ProbeInfo] = field(default_factory=list)
    events: list[EventLayout] = field(default_factory=list)
    call_events: dict[int, int] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    config: dict[str, object] = field(default_factory=dict)
    unsafe: bool = False

    def type_of(self, node: object) -> Type:
        """The type of an expression node."""
        return self.types[node.node_id]  # type: ignore[attr-defined]
