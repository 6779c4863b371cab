"""BTF: the BPF Type Format.

Parse ``.BTF`` blobs (objects, ``/sys/kernel/btf/vmlinux``, split module BTF) lazily into
the frozen dataclasses of :mod:`pybpf.btf.types`, look types up, marshal them back, and
decode/encode/pretty-print values of any type. ``.BTF.ext`` lives in :mod:`pybpf.btf.ext`.

>>> from pybpf.btf import kernel_btf, Kind
>>> btf = kernel_btf()
>>> btf.size_of(btf.find_one("task_struct", Kind.STRUCT)) > 0
True
"""

from __future__ import annotations

from .container import BTF
from .kernel import kernel_btf, module_btf
from .types import (
    MODIFIER_KINDS, Array, Const, CoreRelocation, CoreRelocKind, Datasec, DeclTag, Enum, Enum64,
    EnumValue, Float, Func, FuncInfo, FuncLinkage, FuncProto, Fwd, Int, IntEncoding, Kind, LineInfo,
    Member, Param, Pointer, Restrict, Struct, Type, Typedef, TypeTag, Union_, Var, VarLinkage,
    VarSecInfo, Void, Volatile,
)

__all__ = [
    "BTF", "MODIFIER_KINDS", "Array", "Const", "CoreRelocation", "CoreRelocKind", "Datasec",
    "DeclTag", "Enum", "Enum64", "EnumValue", "Float", "Func", "FuncInfo", "FuncLinkage",
    "FuncProto", "Fwd", "Int", "IntEncoding", "Kind", "LineInfo", "Member", "Param", "Pointer",
    "Restrict", "Struct", "Type", "TypeTag", "Typedef", "Union_", "Var", "VarLinkage",
    "VarSecInfo", "Void", "Volatile", "kernel_btf", "module_btf",
]
