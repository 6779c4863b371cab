"""The object's BTF, made acceptable to the running kernel before BPF_BTF_LOAD.

Two passes, both keeping every type id where it is (programs and maps refer to ids):

1. **Extern fix-ups**, always: ``extern`` VARs become ``GLOBAL_ALLOCATED`` (untyped ``const void``
   ones a plain byte: a VAR of void is invalid) and extern FUNCs
   typedefs of their prototype (the kernel refuses extern linkage and unnamed parameters), and the ``.ksyms`` DATASEC (which
   lists functions and has no storage) becomes an empty anonymous struct; DATASEC entries are
   put in offset order (the ``.kconfig`` layout sorts by alignment, the kernel wants offsets).
2. **Feature sanitising**: every kind the kernel does not know is replaced by one it does,
   as the table :data:`REPLACEMENTS` says (``FLOAT`` -> an empty struct of the same size,
   ``TYPE_TAG`` -> ``CONST``, ``ENUM64`` -> a union of the same size, ...). What the kernel knows
   comes from :func:`probe_features` (one tiny BTF_LOAD per feature, cached) or is passed in.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Callable
from enum import Enum as _Enum
from functools import lru_cache

from .. import _sys
from ..btf import (
    BTF, Const, Datasec, DeclTag, Enum, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto, Int,
    Kind, Param, Pointer, Struct, Type, Typedef, TypeTag, Union_, Var, VarLinkage, VarSecInfo,
)
from ..btf.types import Member
from ..errors import BPFError

log = logging.getLogger("pybpf.loader")

KSYMS_SECTION = ".ksyms"


class BTFFeature(_Enum):
    """BTF capabilities that appeared over kernel versions (the kernel that brought each)."""

    FUNC = "func"  # FUNC and FUNC_PROTO (5.0)
    GLOBAL_FUNC = "global_func"  # FUNC with global linkage (5.6)
    DATASEC = "datasec"  # VAR and DATASEC (5.2)
    FLOAT = "float"  # 5.13
    DECL_TAG = "decl_tag"  # 5.16
    TYPE_TAG = "type_tag"  # 5.17
    ENUM64 = "enum64"  # 6.0


ALL_FEATURES = frozenset(BTFFeature)

#: The feature each kind needs.
KIND_FEATURE: dict[Kind, BTFFeature] = {
    Kind.FUNC: BTFFeature.FUNC,
    Kind.FUNC_PROTO: BTFFeature.FUNC,
    Kind.VAR: BTFFeature.DATASEC,
    Kind.DATASEC: BTFFeature.DATASEC,
    Kind.FLOAT: BTFFeature.FLOAT,
    Kind.DECL_TAG: BTFFeature.DECL_TAG,
    Kind.TYPE_TAG: BTFFeature.TYPE_TAG,
    Kind.ENUM64: BTFFeature.ENUM64,
}

_BYTE = Int("", 1, bits=8)


def _as_int(t: Type) -> Type:
    return _BYTE


def _func_to_typedef(t: Type) -> Type:
    assert isinstance(t, Func)
    return Typedef(t.name, t.type_id)


def _proto_to_enum(t: Type) -> Type:
    assert isinstance(t, FuncProto)
    return Enum("", 4, tuple(EnumValue(p.name or f"arg{i}", 0) for i, p in enumerate(t.params)))


def _datasec_to_struct(t: Type) -> Type:
    assert isinstance(t, Datasec)
    return Struct("", t.size, ())


def _float_to_struct(t: Type) -> Type:
    assert isinstance(t, Float)
    return Struct("", t.size, ())


def _type_tag_to_const(t: Type) -> Type:
    assert isinstance(t, TypeTag)
    return Const(t.type_id)


def _enum64_to_union(t: Type) -> Type:
    assert isinstance(t, Enum64)
    return Union_("", t.size, ())


#: Kind -> what replaces a type of that kind when the kernel lacks its feature.
REPLACEMENTS: dict[Kind, Callable[[Type], Type]] = {
    Kind.FUNC: _func_to_typedef,
    Kind.FUNC_PROTO: _proto_to_enum,
    Kind.VAR: _as_int,
    Kind.DATASEC: _datasec_to_struct,
    Kind.FLOAT: _float_to_struct,
    Kind.DECL_TAG: _as_int,
    Kind.TYPE_TAG: _type_tag_to_const,
    Kind.ENUM64: _enum64_to_union,
}


def _fix_extern(btf: BTF, t: Type) -> Type | None:
    """The extern fix-up of one type, or None when it needs none."""
    if isinstance(t, Var) and t.linkage == VarLinkage.GLOBAL_EXTERN and btf.resolve(t.type_id) == 0:
        return _BYTE  # an untyped ksym (const void): no DATASEC refers to it once .ksyms is gone
    if isinstance(t, Var) and t.linkage not in (VarLinkage.STATIC, VarLinkage.GLOBAL_ALLOCATED):
        return dataclasses.replace(t, linkage=VarLinkage.GLOBAL_ALLOCATED)
    if isinstance(t, Func) and t.linkage == FuncLinkage.EXTERN:
        # nothing refers to it once .ksyms is gone (calls use the kernel's id), and the kernel
        # would check it like a function with a body (every parameter named)
        return Typedef(t.name, t.type_id)
    if isinstance(t, Datasec) and t.name == KSYMS_SECTION:
        return Struct("", 0, ())
    if isinstance(t, Datasec) and any(a.offset > b.offset for a, b in zip(t.vars, t.vars[1:])):
        return dataclasses.replace(t, vars=tuple(sorted(t.vars, key=lambda v: v.offset)))
    return None


def sanitize(btf: BTF, features: frozenset[BTFFeature] = ALL_FEATURES) -> BTF:
    """``btf`` with extern fix-ups and every kind the kernel lacks replaced (same ids, same strings)."""
    replace: dict[int, Type] = {}
    for tid, t in btf.types(include_base=False):
        fixed = _fix_extern(btf, t)
        if fixed is not None:
            t = fixed
            replace[tid] = t
        feature = KIND_FEATURE.get(t.kind)
        if feature is not None and feature not in features:
            replace[tid] = REPLACEMENTS[t.kind](t)
        elif (isinstance(t, Func) and t.linkage == FuncLinkage.GLOBAL
              and BTFFeature.GLOBAL_FUNC not in features):
            replace[tid] = dataclasses.replace(t, linkage=FuncLinkage.STATIC)
    if not replace:
        return btf
    log.debug("BTF sanitised: %d types replaced", len(replace))
    return btf.with_types(replace)


_blobs: weakref.WeakKeyDictionary[BTF, dict[frozenset[BTFFeature], tuple[BTF, bytes]]] = weakref.WeakKeyDictionary()


def sanitized_blob(btf: BTF, features: frozenset[BTFFeature] = ALL_FEATURES) -> tuple[BTF, bytes]:
    """:func:`sanitize` and the marshalled blob for BPF_BTF_LOAD, cached per (immutable) BTF."""
    per_btf = _blobs.setdefault(btf, {})
    hit = per_btf.get(features)
    if hit is None:
        clean = sanitize(btf, features)
        hit = per_btf[features] = (clean, clean.to_bytes())
    return hit


# --- probing ---------------------------------------------------------------------------------

_INT = Int("int", 4, bits=32)

#: Feature -> a minimal BTF that only a kernel with the feature accepts (type 1 is always int).
PROBES: dict[BTFFeature, list[Type]] = {
    BTFFeature.FUNC: [_INT, FuncProto(1, (Param("a", 1),)), Func("f", 2)],
    BTFFeature.GLOBAL_FUNC: [_INT, FuncProto(1, (Param("a", 1),)), Func("f", 2, FuncLinkage.GLOBAL)],
    BTFFeature.DATASEC: [_INT, Var("v", 1, VarLinkage.STATIC), Datasec(".data", 4, (VarSecInfo(2, 0, 4),))],
    BTFFeature.FLOAT: [_INT, Float("float", 4)],
    BTFFeature.DECL_TAG: [_INT, Struct("s", 4, (Member("m", 1, 0),)), DeclTag("tag", 2, -1)],
    BTFFeature.TYPE_TAG: [_INT, TypeTag("tag", 1), Pointer(2)],
    BTFFeature.ENUM64: [_INT, Enum64("e", 8, (EnumValue("A", 1 << 40),))],
}


@lru_cache(maxsize=1)
def probe_features() -> frozenset[BTFFeature]:
    """The BTF features the running kernel accepts (each probed once with BPF_BTF_LOAD)."""
    found = set()
    for feature, types in PROBES.items():
        try:
            blob = BTF.from_types(types).to_bytes()
            _sys.btf_load(blob).fd.close()
        except BPFError as exc:
            log.info("kernel BTF lacks %s: %s", feature.value, exc)
            continue
        found.add(feature)
    return frozenset(found)
