"""BTF: the BPF Type Format.

Parse ``.BTF`` blobs (objects, ``/sys/kernel/btf/vmlinux``, split module BTF) lazily into
the frozen dataclasses of :mod:`pybpf.btf.types`, look types up, marshal them back, and
decode/encode/pretty-print values of any type.

- :class:`BTF`: ``from_bytes``/``from_file``/``from_types``, ``btf[id]``, ``types()``,
  ``find``/``find_one``, ``resolve``, ``size_of``, ``name_of``, ``kind_of``, ``to_bytes``,
  ``with_types``, ``decode_value``/``encode_value``/``format_value`` (:mod:`pybpf.btf.values`).
- :func:`kernel_btf` / :func:`module_btf`: the running kernel's BTF, read once and cached.
- :class:`BTFExt` (:mod:`pybpf.btf.ext`): ``.BTF.ext`` func_info, line_info, CO-RE relocations.
- Malformed input raises :class:`pybpf.errors.BTFError` saying what is wrong.

>>> from pybpf.btf import kernel_btf, Kind
>>> btf = kernel_btf()
>>> btf.size_of(btf.find_one("task_struct", Kind.STRUCT)) > 0
True
"""

from __future__ import annotations

from .container import BTF
from .ext import BTFExt
from .kernel import kernel_btf, module_btf
from .types import (
    MODIFIER_KINDS, Array, Const, CoreRelocation, CoreRelocKind, Datasec, DeclTag, Enum, Enum64,
    EnumValue, Float, Func, FuncInfo, FuncLinkage, FuncProto, Fwd, Int, IntEncoding, Kind, LineInfo,
    Member, Param, Pointer, Restrict, Struct, Type, Typedef, TypeTag, Union_, Var, VarLinkage,
    VarSecInfo, Void, Volatile,
)

__all__ = [
    "BTF", "BTFExt", "MODIFIER_KINDS", "Array", "Const", "CoreRelocation", "CoreRelocKind", "Datasec",
    "DeclTag", "Enum", "Enum64", "EnumValue", "Float", "Func", "FuncInfo", "FuncLinkage",
    "FuncProto", "Fwd", "Int", "IntEncoding", "Kind", "LineInfo", "Member", "Param", "Pointer",
    "Restrict", "Struct", "Type", "TypeTag", "Typedef", "Union_", "Var", "VarLinkage",
    "VarSecInfo", "Void", "Volatile", "kernel_btf", "module_btf",
]
