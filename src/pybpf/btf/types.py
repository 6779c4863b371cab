"""BTF type model: one frozen dataclass per BTF kind (see Documentation/bpf/btf.rst).

Types refer to each other by type id (an ``int``), never by object, so that a type graph
with cycles stays plain data and a 100k-type kernel BTF can be decoded lazily. The
container that owns the ids (and resolves them) is :class:`pybpf.btf.BTF`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Union


class Kind(IntEnum):
    """``BTF_KIND_*``."""

    UNKNOWN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class IntEncoding(IntFlag):
    """``BTF_INT_*`` encoding bits of an INT type."""

    NONE = 0
    SIGNED = 1 << 0
    CHAR = 1 << 1
    BOOL = 1 << 2


class FuncLinkage(IntEnum):
    """``BTF_FUNC_*`` linkage of a FUNC."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(IntEnum):
    """``BTF_VAR_*`` linkage of a VAR."""

    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


@dataclass(frozen=True, slots=True)
class Void:
    """Type id 0."""

    kind: ClassVar[Kind] = Kind.UNKNOWN
    name: str = ""


@dataclass(frozen=True, slots=True)
class Int:
    name: str
    size: int
    encoding: IntEncoding = IntEncoding.NONE
    bits: int = 0
    offset: int = 0
    kind: ClassVar[Kind] = Kind.INT

    @property
    def signed(self) -> bool:
        return bool(self.encoding & IntEncoding.SIGNED)


@dataclass(frozen=True, slots=True)
class Pointer:
    type_id: int
    name: str = ""
    kind: ClassVar[Kind] = Kind.PTR


@dataclass(frozen=True, slots=True)
class Array:
    elem_type_id: int
    index_type_id: int
    nelems: int
    name: str = ""
    kind: ClassVar[Kind] = Kind.ARRAY


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8


@dataclass(frozen=True, slots=True)
class Struct:
    name: str
    size: int
    members: tuple[Member, ...]
    kind: ClassVar[Kind] = Kind.STRUCT


@dataclass(frozen=True, slots=True)
class Union_:
    name: str
    size: int
    members: tuple[Member, ...]
    kind: ClassVar[Kind] = Kind.UNION


@dataclass(frozen=True, slots=True)
class EnumValue:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Enum:
    name: str
    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False
    kind: ClassVar[Kind] = Kind.ENUM


@dataclass(frozen=True, slots=True)
class Enum64:
    name: str
    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False
    kind: ClassVar[Kind] = Kind.ENUM64


@dataclass(frozen=True, slots=True)
class Fwd:
    name: str
    is_union: bool = False
    kind: ClassVar[Kind] = Kind.FWD


@dataclass(frozen=True, slots=True)
class Typedef:
    name: str
    type_id: int
    kind: ClassVar[Kind] = Kind.TYPEDEF


@dataclass(frozen=True, slots=True)
class Volatile:
    type_id: int
    name: str = ""
    kind: ClassVar[Kind] = Kind.VOLATILE


@dataclass(frozen=True, slots=True)
class Const:
    type_id: int
    name: str = ""
    kind: ClassVar[Kind] = Kind.CONST


@dataclass(frozen=True, slots=True)
class Restrict:
    type_id: int
    name: str = ""
    kind: ClassVar[Kind] = Kind.RESTRICT


@dataclass(frozen=True, slots=True)
class TypeTag:
    name: str
    type_id: int
    #: kind_flag set: the tag is a plain ``__attribute__((<name>))`` (e.g. ``address_space(1)``),
    #: not a ``btf_type_tag("<name>")``.
    attribute: bool = False
    kind: ClassVar[Kind] = Kind.TYPE_TAG


@dataclass(frozen=True, slots=True)
class Func:
    name: str
    type_id: int  # a FuncProto
    linkage: FuncLinkage = FuncLinkage.STATIC
    kind: ClassVar[Kind] = Kind.FUNC


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type_id: int  # 0 with an empty name for a trailing "..."


@dataclass(frozen=True, slots=True)
class FuncProto:
    return_type_id: int
    params: tuple[Param, ...]
    name: str = ""
    kind: ClassVar[Kind] = Kind.FUNC_PROTO


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    type_id: int
    linkage: VarLinkage = VarLinkage.STATIC
    kind: ClassVar[Kind] = Kind.VAR


@dataclass(frozen=True, slots=True)
class VarSecInfo:
    type_id: int  # a Var (or a Func for .ksyms)
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Datasec:
    name: str
    size: int
    vars: tuple[VarSecInfo, ...]
    kind: ClassVar[Kind] = Kind.DATASEC


@dataclass(frozen=True, slots=True)
class Float:
    name: str
    size: int
    kind: ClassVar[Kind] = Kind.FLOAT


@dataclass(frozen=True, slots=True)
class DeclTag:
    name: str
    type_id: int
    component_idx: int = -1  # -1: the tag applies to the type itself
    #: kind_flag set: the tag is a plain ``__attribute__((<name>))``, not a ``btf_decl_tag``.
    attribute: bool = False
    kind: ClassVar[Kind] = Kind.DECL_TAG


Type = Union[
    Void, Int, Pointer, Array, Struct, Union_, Enum, Enum64, Fwd, Typedef, Volatile, Const,
    Restrict, TypeTag, Func, FuncProto, Var, Datasec, Float, DeclTag,
]

#: Kinds that only qualify another type (skipped when resolving to the underlying type).
MODIFIER_KINDS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})


# --- .BTF.ext records -------------------------------------------------------------------


class CoreRelocKind(IntEnum):
    """``enum bpf_core_relo_kind``."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """``struct bpf_func_info``; ``insn_off`` counts instructions (not bytes) within its section."""

    insn_off: int
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    """``struct bpf_line_info`` with its strings resolved; ``insn_off`` counts instructions."""

    insn_off: int
    file_name: str
    line_text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class CoreRelocation:
    """``struct bpf_core_relo``; ``insn_off`` counts instructions within its section."""

    insn_off: int
    type_id: int  # the local type, in the object's BTF
    access: str  # access string such as "0:1:2"
    relo_kind: CoreRelocKind
