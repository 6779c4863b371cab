"""BTF-defined maps: each map is a global in section ``.maps`` whose debug type is libbpf's
anonymous map-definition struct, so LLVM's BPF backend writes it into ``.BTF`` as a VAR in the
``.maps`` DATASEC (what ``__uint(type, ...)`` / ``__type(key, ...)`` produce in C):

- ``int (*name)[N]`` members carry numbers (``type``, ``max_entries``, ``key_size``, ``value_size``);
- ``T *key`` / ``T *value`` members carry the key and value types, so the kernel keeps them
  (``btf_id`` in ``bpftool map show``) and ``bpftool map dump`` shows named fields.

Shapes (:class:`Scalar`, :class:`Bytes`, :class:`Struct`) are what a map's key or value is
described as; they are pure data, built from the script's types by :func:`shape_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llvmlite import ir

from ...enums import MapType
from ..types import AggKind, AggType, IntType, StringType, TupleType, Type


@dataclass(frozen=True)
class Scalar:
    """A C integer type (``unsigned long``...)."""

    name: str
    bits: int
    signed: bool

    @property
    def size(self) -> int:
        return self.bits // 8


@dataclass(frozen=True)
class Bytes:
    """``char[count]`` (a string) or ``unsigned char[count]`` (anything else)."""

    count: int
    text: bool = False

    @property
    def size(self) -> int:
        return self.count


@dataclass(frozen=True)
class Member:
    name: str
    shape: Shape
    offset: int


@dataclass(frozen=True)
class Struct:
    """A struct (anonymous when ``name`` is empty) of ``size`` bytes."""

    name: str
    members: tuple[Member, ...]
    size: int


Shape = Scalar | Bytes | Struct

_C_INT_NAMES = {
    (8, True): "signed char", (8, False): "unsigned char", (16, True): "short", (16, False): "unsigned short",
    (32, True): "int", (32, False): "unsigned int", (64, True): "long", (64, False): "unsigned long",
}
U32 = Scalar("unsigned int", 32, False)
U64 = Scalar("unsigned long", 64, False)
S64 = Scalar("long", 64, True)


def c_int(bits: int, signed: bool) -> Scalar:
    return Scalar(_C_INT_NAMES[(bits, signed)], bits, signed)


def _tuple_shape(t: TupleType, offsets: Sequence[int], size: int) -> Struct:
    members = tuple(Member(f"e{i}", shape_of(e, _elem_size(e)), off)
                    for i, (e, off) in enumerate(zip(t.elems, offsets)))
    return Struct("", members, size)


def _elem_size(t: Type) -> int:
    from .maps import stored_size

    return stored_size(t)


def shape_of(t: Type | None, size: int) -> Shape:
    """How a value of script type ``t`` stored in ``size`` bytes is described (bytes when no
    better description has exactly that size)."""
    from .maps import stored_layout

    shape: Shape
    if isinstance(t, IntType) and t.bits in (8, 16, 32, 64):
        shape = c_int(t.bits, t.signed)
    elif isinstance(t, StringType):
        shape = Bytes(t.size, text=True)
    elif isinstance(t, TupleType):
        offsets, tsize = stored_layout(t)
        shape = _tuple_shape(t, offsets, tsize)
    elif t is not None and size == 8 and not isinstance(t, AggType):
        shape = U64  # pointers, ksym/usym addresses, stack ids, timestamps
    else:
        shape = Bytes(size)
    return shape if shape.size == size else Bytes(size)


#: the per-CPU value of each aggregation (see ``result.MapBinding``)
AGG_VALUE_SHAPES: dict[AggKind, Shape] = {
    AggKind.COUNT: U64,
    AggKind.SUM: S64,
    AggKind.AVG: Struct("avg", (Member("count", U64, 0), Member("total", S64, 8)), 16),
    AggKind.STATS: Struct("stats", (Member("count", U64, 0), Member("total", S64, 8)), 16),
    AggKind.MIN: Struct("min", (Member("value", S64, 0), Member("set", U64, 8)), 16),
    AggKind.MAX: Struct("max", (Member("value", S64, 0), Member("set", U64, 8)), 16),
    AggKind.HIST: U64,
    AggKind.LHIST: U64,
}


def bucket_key_shape(key: Type | None, key_size: int) -> Shape:
    """hist/lhist keys: the user key padded to 8 bytes, then the u64 bucket index."""
    if key is None:
        return Struct("", (Member("bucket", U64, 0),), 8)
    user = shape_of(key, _elem_size(key))
    return Struct("", (Member("key", user, 0), Member("bucket", U64, key_size - 8)), key_size)


#: map types whose key/value types the kernel does not take (libbpf drops them too): they are
#: described by ``key_size``/``value_size`` only
SIZED_ONLY = frozenset({MapType.STACK_TRACE, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY})


def map_def_type(n_members: int) -> ir.LiteralStructType:
    """The IR type of a map-definition global: one pointer per member (all zero)."""
    return ir.LiteralStructType([ir.IntType(8).as_pointer()] * n_members)


class Describer:
    """Writes the debug types of map definitions into one module (types shared between maps)."""

    def __init__(self, module: ir.Module, difile: ir.DIValue, cu: ir.DIValue) -> None:
        self.m = module
        self.file = difile
        self.cu = cu
        self._cache: dict[Shape | tuple[str, int], ir.DIValue] = {}

    def _basic(self, s: Scalar) -> ir.DIValue:
        enc = "DW_ATE_signed" if s.signed else "DW_ATE_unsigned"
        if s.bits == 8:
            enc += "_char"
        return self.m.add_debug_info("DIBasicType", {"name": s.name, "size": s.bits, "encoding": ir.DIToken(enc)})

    def _array(self, elem: ir.DIValue, elem_bits: int, count: int) -> ir.DIValue:
        sub = self.m.add_debug_info("DISubrange", {"count": count})
        return self.m.add_debug_info("DICompositeType", {
            "tag": ir.DIToken("DW_TAG_array_type"), "baseType": elem, "size": elem_bits * count,
            "elements": self.m.add_metadata([sub])})

    def _pointer(self, base: ir.DIValue) -> ir.DIValue:
        return self.m.add_debug_info("DIDerivedType", {"tag": ir.DIToken("DW_TAG_pointer_type"),
                                                       "baseType": base, "size": 64})

    def _struct(self, name: str, size: int, members: Iterable[tuple[str, ir.DIValue, int, int]]) -> ir.DIValue:
        # members have no scope: a scope pointing back at the struct makes a cycle llvmlite cannot hash
        elems = [self.m.add_debug_info("DIDerivedType", {
            "tag": ir.DIToken("DW_TAG_member"), "name": mname, "file": self.file, "line": 1,
            "baseType": mtype, "size": bits, "offset": off * 8}) for mname, mtype, bits, off in members]
        return self.m.add_debug_info("DICompositeType", {
            "tag": ir.DIToken("DW_TAG_structure_type"), **({"name": name} if name else {}), "file": self.file,
            "line": 1, "size": size * 8, "elements": self.m.add_metadata(elems)})

    def shape(self, s: Shape) -> ir.DIValue:
        """The debug type of ``s``."""
        if s in self._cache:
            return self._cache[s]
        out: ir.DIValue
        if isinstance(s, Scalar):
            out = self._basic(s)
        elif isinstance(s, Bytes):
            char = Scalar("char", 8, True) if s.text else Scalar("unsigned char", 8, False)
            out = self._array(self.shape(char), 8, s.count)
        else:
            out = self._struct(s.name, s.size, ((mb.name, self.shape(mb.shape), mb.shape.size * 8, mb.offset)
                                                for mb in s.members))
        self._cache[s] = out
        return out

    def _number(self, value: int) -> ir.DIValue:
        """``int (*)[value]``: how a map definition carries a number."""
        key = ("n", value)
        if key not in self._cache:
            self._cache[key] = self._pointer(self._array(self.shape(Scalar("int", 32, True)), 32, value))
        return self._cache[key]

    def describe(self, g: ir.GlobalVariable, members: Sequence[tuple[str, int | Shape]]) -> ir.DIValue:
        """Attach to map global ``g`` the debug type of its definition; return the
        ``DIGlobalVariableExpression`` (for the compile unit's ``globals``)."""
        fields = [(name, self._number(v) if isinstance(v, int) else self._pointer(self.shape(v)), 64, 8 * i)
                  for i, (name, v) in enumerate(members)]
        st = self._struct("", 8 * len(fields), fields)
        var = self.m.add_debug_info("DIGlobalVariable", {
            "name": g.name, "scope": self.cu, "file": self.file, "line": 1, "type": st, "isLocal": False,
            "isDefinition": True}, is_distinct=True)
        gve = self.m.add_debug_info("DIGlobalVariableExpression", {
            "var": var, "expr": self.m.add_debug_info("DIExpression", {})})
        g.metadata["dbg"] = gve
        return gve
