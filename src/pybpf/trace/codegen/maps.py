"""BPF maps of a compiled script: one per bpftrace map, plus the ring buffer, the per-CPU
scratch buffer, stack maps and the variables map; emitted as BTF-defined maps in ``.maps``
(:mod:`.btfmaps`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llvmlite import ir

from ...enums import MapType
from ..semantic.model import MapInfo, TypedProgram
from ..types import AggKind, AggType, StackType, TupleType, Type
from . import btfmaps as B
from .result import MapBinding

#: per-CPU value size of each aggregation kind
AGG_VALUE_SIZE = {
    AggKind.COUNT: 8, AggKind.SUM: 8, AggKind.AVG: 16, AggKind.STATS: 16, AggKind.MIN: 16, AggKind.MAX: 16,
    AggKind.HIST: 8, AggKind.LHIST: 8,
}
RINGBUF_NAME = "ringbuf"
SCRATCH_NAME = "scratch"
VARS_NAME = "vars"
LOST_NAME = "lost"
#: 1 MiB holds ~26,000 printf records of 40 bytes, a quarter second at 100,000 events/s (the
#: runtime reads every millisecond); creating it costs ~0.3 ms of a launch where 4 MiB cost ~0.9
RINGBUF_SIZE = 1 << 20
DEFAULT_MAX_KEYS = 4096
STACK_MAP_ENTRIES = 16384


def round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def stored_size(t: Type) -> int:
    """The size a value takes in a map key (stacks become a u64 stack id)."""
    if isinstance(t, StackType):
        return 8
    if isinstance(t, TupleType):
        return stored_layout(t)[1]
    return t.size


def stored_layout(t: TupleType) -> tuple[tuple[int, ...], int]:
    """Offsets and size of a tuple whose stack elements are stored as u64 ids."""
    if not any(isinstance(e, StackType) for e in t.elems):
        return t.offsets, t.size
    offs, off, align = [], 0, 1
    for e in t.elems:
        a = 8 if isinstance(e, StackType) else max(1, e.align)
        align = max(align, a)
        off = round_up(off, a)
        offs.append(off)
        off += stored_size(e)
    return tuple(offs), round_up(off, align)


def stack_map_name(t: StackType) -> str:
    """The stack-trace map that holds the stacks of type ``t`` (one per kind and depth)."""
    return f"stack_{'k' if t.kernel else 'u'}{t.limit}"


def _key_stack_map(key: Type | None) -> str:
    elems = key.elems if isinstance(key, TupleType) else (key,)
    for e in elems:
        if isinstance(e, StackType):
            return stack_map_name(e)
    return ""


def bpf_map_name(name: str, taken: set[str]) -> str:
    """A kernel-acceptable (15 chars, [A-Za-z0-9_]) unique map name for bpftrace map ``name``."""
    base = "AT_" + re.sub(r"[^A-Za-z0-9_]", "_", name[1:])
    base = base[:15]
    out, n = base, 1
    while out in taken:
        suffix = f"_{n}"
        out = base[: 15 - len(suffix)] + suffix
        n += 1
    taken.add(out)
    return out


@dataclass
class MapDef:
    """One map to emit. ``key``/``value`` describe the key and value in BTF (bytes of the
    size when None); ``value_size`` may still grow after :func:`emit` (the scratch buffer's)."""

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    key: B.Shape | None = None
    value: B.Shape | None = None
    global_var: ir.GlobalVariable | None = None

    def members(self) -> list[tuple[str, int | B.Shape]]:
        """The members of its ``.maps`` definition struct, in libbpf's order."""
        out: list[tuple[str, int | B.Shape]] = [("type", int(self.type))]
        if self.type is MapType.RINGBUF:
            pass
        elif self.type in B.SIZED_ONLY:
            out += [("key_size", self.key_size), ("value_size", self.value_size)]
        else:
            out += [("key", self.key or B.Bytes(self.key_size)), ("value", self.value or B.Bytes(self.value_size))]
        out.append(("max_entries", self.max_entries))
        return out


def binding_for(info: MapInfo, bpf_name: str) -> MapBinding:
    """Where and how bpftrace map ``info`` is stored."""
    key_size = 8 if info.key is None else stored_size(info.key)
    value = info.value
    if isinstance(value, AggType):
        bucket = value.kind in (AggKind.HIST, AggKind.LHIST)
        if bucket:
            key_size = 8 if info.key is None else round_up(key_size, 8) + 8
        return MapBinding(info, bpf_name, key_size, AGG_VALUE_SIZE[value.kind], True, bucket,
                          _key_stack_map(info.key))
    return MapBinding(info, bpf_name, key_size, max(1, value.size), False, False, _key_stack_map(info.key))


def plan(tp: TypedProgram) -> tuple[dict[str, MapBinding], list[MapDef]]:
    """Bindings for every bpftrace map and the map definitions (user maps first)."""
    taken = {RINGBUF_NAME, SCRATCH_NAME, VARS_NAME, LOST_NAME}
    configured = tp.config.get("max_map_keys")
    max_keys = int(configured) if isinstance(configured, (int, str)) and configured else DEFAULT_MAX_KEYS
    bindings: dict[str, MapBinding] = {}
    defs: list[MapDef] = []
    for name in sorted(tp.maps):
        b = binding_for(tp.maps[name], bpf_map_name(name, taken))
        bindings[name] = b
        mtype = MapType.PERCPU_HASH if b.percpu else MapType.HASH
        key, value = shapes(b)
        defs.append(MapDef(b.bpf_name, mtype, b.key_size, b.value_size, max_keys, key, value))
    return bindings, defs


def shapes(b: MapBinding) -> tuple[B.Shape, B.Shape]:
    """How the key and value of bpftrace map ``b`` are described in BTF."""
    info = b.info
    if b.bucket_key:
        key = B.bucket_key_shape(info.key, b.key_size)
    elif info.key is None:
        key = B.U64
    else:
        key = B.shape_of(info.key, b.key_size)
    if isinstance(info.value, AggType):
        return key, B.AGG_VALUE_SHAPES[info.value.kind]
    return key, B.shape_of(info.value, b.value_size)


def emit(module: ir.Module, defs: list[MapDef]) -> dict[str, ir.GlobalVariable]:
    """Emit each map as a zero global in section ``.maps``; :func:`describe` gives it its type."""
    out: dict[str, ir.GlobalVariable] = {}
    for d in defs:
        ty = B.map_def_type(len(d.members()))
        g = ir.GlobalVariable(module, ty, d.name)
        g.initializer = ir.Constant(ty, None)
        g.section = ".maps"
        g.align = 8
        g.linkage = ""
        d.global_var = g
        out[d.name] = g
    return out


def describe(describer: B.Describer, defs: list[MapDef]) -> list[ir.DIValue]:
    """The debug types of every emitted map definition (after code generation, when sizes are final)."""
    return [describer.describe(d.global_var, d.members()) for d in defs if d.global_var is not None]
