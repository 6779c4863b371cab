"""CO-RE type relations: essential names, candidate lookup, and the three compatibility tests.

A CO-RE relocation names a *local* type (from the object's BTF); the engine looks for
*candidates* in the target BTF (usually the kernel's) and then checks each candidate with
one of three relations, depending on the relocation kind:

* field relocations walk the access string and test each traversed field with
  :func:`fields_are_compat` (shallow: the kind of the field's type, not its layout);
* ``TYPE_EXISTS`` / ``TYPE_SIZE`` / ``TYPE_ID_TARGET`` test the type itself with
  :func:`types_are_compat` (same kind all the way down through pointers, arrays and
  function prototypes; composite members are not compared);
* ``TYPE_MATCHES`` uses the stricter :func:`types_match` (members of structs and unions must
  exist by name with matching types, ints must agree on size and sign, enums on size and on
  every local enumerator name).

Names carry "flavors": everything from a ``___`` separator on is ignored, so a local
``struct task_struct___old`` is matched against the kernel's ``struct task_struct``
(:func:`essential_name`).
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .types import Array, Enum, Enum64, FuncProto, Fwd, Int, Kind, Pointer, Struct, Union_

if TYPE_CHECKING:
    from .container import BTF

__all__ = [
    "essential_name",
    "find_candidates",
    "fields_are_compat",
    "types_are_compat",
    "types_match",
    "describe_type",
    "COMPOSITE_KINDS",
]

#: kinds a field access can step into by member index
COMPOSITE_KINDS = frozenset({Kind.STRUCT, Kind.UNION})
_ENUM_KINDS = frozenset({Kind.ENUM, Kind.ENUM64})
#: how deep the type relations recurse before giving up (guards against reference loops)
MAX_DEPTH = 32

# "X___Y" where neither X nor Y is an underscore: the flavor separator.
_FLAVOR_SEP = re.compile(r"(?<=[^_])___(?=[^_])")


def essential_name(name: str) -> str:
    """``name`` without its flavor suffix: ``"task_struct___old"`` -> ``"task_struct"``."""
    m = _FLAVOR_SEP.search(name)
    return name[: m.start()] if m else name


def _kind_family(kind: Kind) -> Kind:
    """Kinds that count as the same for candidate matching (enum and enum64 are one family)."""
    return Kind.ENUM if kind == Kind.ENUM64 else kind


# --- candidates --------------------------------------------------------------------------

# target BTF -> {essential name: [type ids]}; built once per target BTF (one pass over names).
_INDEX: weakref.WeakKeyDictionary[BTF, dict[str, list[int]]] = weakref.WeakKeyDictionary()


def _candidate_index(target: BTF) -> dict[str, list[int]]:
    index = _INDEX.get(target)
    if index is None:
        index = {}
        for name, ids in _names_with_ids(target):
            if "___" in name:
                name = essential_name(name)
            index.setdefault(name, []).extend(ids)
        _INDEX[target] = index
    return index


def _names_with_ids(target: BTF) -> Iterator[tuple[str, Sequence[int]]]:
    """Every (name, ids) of a BTF, base first for split BTF.

    Reuses the name index :meth:`BTF.find` builds (and that sizing a pointer needs anyway)
    instead of a second pass over 100k+ kernel type names; falls back to that pass.
    """
    chain = []
    btf: BTF | None = target
    while btf is not None:
        chain.append(btf)
        btf = btf.base
    for part in reversed(chain):
        part.find("")  # builds the name index on first use
        names = getattr(part, "_names", None)
        if isinstance(names, dict):
            yield from names.items()
            continue
        first = part.type_id_start if part.base is not None else 1
        for tid in range(first, len(part)):
            name = part.name_of(tid)
            if name:
                yield name, (tid,)


def find_candidates(local: BTF, local_id: int, target: BTF) -> list[int]:
    """Ids of the target types with the same kind and essential name as ``local_id``.

    The local type is taken as it is (a typedef is matched against typedefs), exactly as the
    relocation names it. Anonymous local types have no candidates.
    """
    name = local.name_of(local_id)
    if not name:
        return []
    family = _kind_family(local.kind_of(local_id))
    kind_of = target.kind_of
    return [
        tid for tid in _candidate_index(target).get(essential_name(name), ())
        if _kind_family(kind_of(tid)) == family
    ]


# --- descriptions for messages -----------------------------------------------------------

_KIND_WORDS = {
    Kind.STRUCT: "struct ", Kind.UNION: "union ", Kind.ENUM: "enum ", Kind.ENUM64: "enum ",
    Kind.TYPEDEF: "typedef ", Kind.FWD: "struct ",
}


def describe_type(btf: BTF, type_id: int) -> str:
    """``"struct task_struct"``, ``"enum bpf_map_type"``, ``"int"``, ``"<anon struct>"``..."""
    t = btf[type_id]
    if isinstance(t, Fwd) and t.is_union:
        word = "union "
    else:
        word = _KIND_WORDS.get(t.kind, "")
    name = btf.name_of(type_id)
    if name:
        return f"{word}{name}"
    if t.kind == Kind.PTR:
        return describe_type(btf, t.type_id) + " *"  # type: ignore[union-attr]
    if t.kind == Kind.UNKNOWN:
        return "void"
    return f"<anon {word.strip() or t.kind.name.lower()}> (id {type_id})"


# --- field compatibility ------------------------------------------------------------------


def fields_are_compat(local: BTF, local_id: int, target: BTF, target_id: int, depth: int = 0) -> bool:
    """Whether a field of type ``local_id`` can be read as a target field of ``target_id``.

    Shallow by design: two composites are compatible whatever their members (the access
    string decides which of their members matter), pointers are compatible whatever they
    point to, ints whatever their size and sign (the size is relocated separately), enums
    and forward declarations when their essential names agree, arrays when their elements are.
    """
    if depth > MAX_DEPTH:
        return False
    lt = local[local.resolve(local_id)]
    tt = target[target.resolve(target_id)]
    if lt.kind in COMPOSITE_KINDS and tt.kind in COMPOSITE_KINDS:
        return True
    if _kind_family(lt.kind) != _kind_family(tt.kind):
        return False
    check = _FIELD_COMPAT.get(lt.kind)
    return check(local, lt, target, tt, depth) if check is not None else False


def _names_agree(lt: object, tt: object) -> bool:
    lname = getattr(lt, "name", "")
    return not lname or essential_name(lname) == essential_name(getattr(tt, "name", ""))


def _field_array(local: BTF, lt: object, target: BTF, tt: object, depth: int) -> bool:
    assert isinstance(lt, Array) and isinstance(tt, Array)
    return fields_are_compat(local, lt.elem_type_id, target, tt.elem_type_id, depth + 1)


def _field_int(local: BTF, lt: object, target: BTF, tt: object, depth: int) -> bool:
    assert isinstance(lt, Int) and isinstance(tt, Int)
    return lt.offset == 0 and tt.offset == 0  # bit-offset-encoded ints are not plain fields


_FIELD_COMPAT: dict[Kind, Callable[[BTF, Any, BTF, Any, int], bool]] = {
    Kind.PTR: lambda *a: True,
    Kind.FLOAT: lambda *a: True,
    Kind.INT: _field_int,
    Kind.ARRAY: _field_array,
    Kind.ENUM: lambda local, lt, target, tt, depth: _names_agree(lt, tt),
    Kind.ENUM64: lambda local, lt, target, tt, depth: _names_agree(lt, tt),
    Kind.FWD: lambda local, lt, target, tt, depth: _names_agree(lt, tt),
}


# --- type compatibility (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET) ---------------------------


def types_are_compat(local: BTF, local_id: int, target: BTF, target_id: int, depth: int = 0) -> bool:
    """Whether ``target_id`` is an acceptable target for a type-based relocation of ``local_id``.

    The root names were already matched by :func:`find_candidates`. After skipping modifiers
    and typedefs the kinds must agree (enum and enum64 count as one); pointers, arrays and
    function prototypes are compared recursively (prototypes: same number of parameters);
    structs, unions, enums, forward declarations, ints and floats are accepted as they are.
    """
    if depth > MAX_DEPTH:
        return False
    lt = local[local.resolve(local_id)]
    tt = target[target.resolve(target_id)]
    if _kind_family(lt.kind) != _kind_family(tt.kind):
        return False
    if isinstance(lt, Int):
        assert isinstance(tt, Int)
        return lt.offset == 0 and tt.offset == 0
    if isinstance(lt, Pointer):
        assert isinstance(tt, Pointer)
        return types_are_compat(local, lt.type_id, target, tt.type_id, depth + 1)
    if isinstance(lt, Array):
        assert isinstance(tt, Array)
        return types_are_compat(local, lt.elem_type_id, target, tt.elem_type_id, depth + 1)
    if isinstance(lt, FuncProto):
        assert isinstance(tt, FuncProto)
        if len(lt.params) != len(tt.params):
            return False
        pairs = [(lt.return_type_id, tt.return_type_id)]
        pairs += [(lp.type_id, tp.type_id) for lp, tp in zip(lt.params, tt.params)]
        return all(types_are_compat(local, a, target, b, depth + 1) for a, b in pairs)
    return True  # struct, union, enum, fwd, float, void: names already matched


# --- type matching (TYPE_MATCHES) ---------------------------------------------------------


def types_match(local: BTF, local_id: int, target: BTF, target_id: int) -> bool:
    """Whether ``target_id`` *matches* ``local_id`` (``bpf_core_type_matches`` semantics).

    Modifiers and typedefs are skipped. Kinds must agree, except that enum and enum64 match
    each other and that, behind a pointer, a struct or union also matches a forward
    declaration of the same flavor. Then: ints match when size and signedness agree; floats
    when sizes agree; pointers and arrays when their targets (and element counts) match;
    structs and unions when every local member has a target member of the same name whose
    type matches (behind a pointer only names and kinds are compared, which also stops
    recursion through self-referencing types); enums when sizes agree and every local
    enumerator name exists in the target (values may differ); function prototypes when they
    have the same number of parameters and every parameter and the return type match.
    """
    return _match(local, local_id, target, target_id, False, 0)


def _match(local: BTF, lid: int, target: BTF, tid: int, behind_ptr: bool, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    lt = local[local.resolve(lid)]
    tt = target[target.resolve(tid)]
    if lt.kind in _NAMED_MATCH_KINDS and not _names_agree(lt, tt):
        return False
    if behind_ptr and (lt.kind in _FWD_OR_COMPOSITE and tt.kind in _FWD_OR_COMPOSITE):
        return _is_union(lt) == _is_union(tt)
    if _kind_family(lt.kind) != _kind_family(tt.kind):
        return False
    check = _MATCHERS.get(lt.kind)
    return check(local, lt, target, tt, behind_ptr, depth) if check is not None else False


_NAMED_MATCH_KINDS = frozenset({Kind.STRUCT, Kind.UNION, Kind.FWD, Kind.ENUM, Kind.ENUM64})
_FWD_OR_COMPOSITE = frozenset({Kind.STRUCT, Kind.UNION, Kind.FWD})


def _is_union(t: object) -> bool:
    return isinstance(t, Union_) or (isinstance(t, Fwd) and t.is_union)


def _match_int(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    assert isinstance(lt, Int) and isinstance(tt, Int)
    return lt.size == tt.size and lt.signed == tt.signed


def _match_float(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    return lt.size == tt.size  # type: ignore[attr-defined, no-any-return]


def _match_ptr(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    assert isinstance(lt, Pointer) and isinstance(tt, Pointer)
    return _match(local, lt.type_id, target, tt.type_id, True, depth + 1)


def _match_array(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    assert isinstance(lt, Array) and isinstance(tt, Array)
    return lt.nelems == tt.nelems and _match(
        local, lt.elem_type_id, target, tt.elem_type_id, behind_ptr, depth + 1
    )


def _match_composite(
    local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int
) -> bool:
    if behind_ptr:
        return True  # names and kinds were compared by the caller
    assert isinstance(lt, (Struct, Union_)) and isinstance(tt, (Struct, Union_))
    if len(lt.members) > len(tt.members):
        return False
    for lm in lt.members:
        same_name = [tm for tm in tt.members if tm.name == lm.name]
        if not any(_match(local, lm.type_id, target, tm.type_id, False, depth + 1) for tm in same_name):
            return False
    return True


def _match_enum(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    assert isinstance(lt, (Enum, Enum64)) and isinstance(tt, (Enum, Enum64))
    if lt.size != tt.size:
        return False
    target_names = {essential_name(v.name) for v in tt.values}
    return all(essential_name(v.name) in target_names for v in lt.values)


def _match_proto(local: BTF, lt: object, target: BTF, tt: object, behind_ptr: bool, depth: int) -> bool:
    assert isinstance(lt, FuncProto) and isinstance(tt, FuncProto)
    if len(lt.params) != len(tt.params):
        return False
    pairs = [(lt.return_type_id, tt.return_type_id)]
    pairs += [(lp.type_id, tp.type_id) for lp, tp in zip(lt.params, tt.params)]
    return all(_match(local, a, target, b, behind_ptr, depth + 1) for a, b in pairs)


_MATCHERS: dict[Kind, Callable[[BTF, Any, BTF, Any, bool, int], bool]] = {
    Kind.UNKNOWN: lambda *a: True,  # void matches void
    Kind.INT: _match_int,
    Kind.FLOAT: _match_float,
    Kind.PTR: _match_ptr,
    Kind.ARRAY: _match_array,
    Kind.STRUCT: _match_composite,
    Kind.UNION: _match_composite,
    Kind.FWD: lambda local, lt, target, tt, behind_ptr, depth: _is_union(lt) == _is_union(tt),
    Kind.ENUM: _match_enum,
    Kind.ENUM64: _match_enum,
    Kind.FUNC_PROTO: _match_proto,
}
