"""C names for the dumper: one identifier per BTF type, unique in its C namespace.

C has one namespace for struct/union/enum tags and one for ordinary identifiers (typedef
names and enumeration constants). BTF can hold several types with the same name (two
``struct foo`` from different compilation units, a ``union foo`` next to a ``struct foo``, the
same enumerator in two enums); the first in id order keeps the name and each later one
becomes ``name___2``, ``name___3``... (the ``___`` suffix is what CO-RE treats as a flavour, so
relocations against a renamed type still match the kernel's type). A ``FWD`` shares the tag
of the struct or union of the same name.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from .types import Enum, Enum64, Fwd, Kind, Type

#: typedef names that are compiler built-ins: never emitted, uses see through to the target
BUILTIN_TYPEDEFS = frozenset({"__builtin_va_list"})

_RECORD_KINDS = frozenset({int(Kind.STRUCT), int(Kind.UNION)})
_ENUM_KINDS = frozenset({int(Kind.ENUM), int(Kind.ENUM64)})


def c_identifier(name: str) -> str:
    """``name`` if it is a C identifier, else with every other character replaced by ``_``
    (BTF from other languages has names such as ``core::fmt::Arguments``)."""
    if name.isidentifier() and name.isascii():
        return name
    fixed = re.sub(r"[^0-9A-Za-z_]", "_", name) or "_"
    return f"_{fixed}" if fixed[0].isdigit() else fixed


#: one named thing as :class:`Names` takes it: ``(type id, kind number, name, detail)`` where detail is
#: the enumerator names of an enum, whether a FWD is a union, and None for the other kinds
NameEntry = tuple[int, int, str, "Sequence[str] | bool | None"]


class Names:
    """Unique C names: ``tag[id]`` for records/enums/fwds, ``ident[id]`` for typedefs and
    ``enumerators[id]`` for the constants of an enum.

    Built from :data:`NameEntry` rows in type-id order (records, enums, typedefs and fwds;
    other kinds are ignored), or from types with :meth:`of_types`.
    """

    def __init__(self, entries: Iterable[NameEntry]) -> None:
        self.tag: dict[int, str] = {}
        self.ident: dict[int, str] = {}
        self.enumerators: dict[int, tuple[str, ...]] = {}
        self._tags: dict[str, int] = {}  # tag name -> kind (STRUCT/UNION/ENUM) owning it
        self._idents: set[str] = set()
        self._last: dict[tuple[int, str], int] = {}
        fwds: list[tuple[int, str, bool]] = []
        for tid, kind, name, detail in entries:
            if kind in _RECORD_KINDS:
                if name:
                    self.tag[tid] = self._new_tag(name, kind)
            elif kind in _ENUM_KINDS:
                if name:
                    self.tag[tid] = self._new_tag(name, Kind.ENUM)
                assert not isinstance(detail, bool) and detail is not None
                self.enumerators[tid] = self._new_idents(list(detail))
            elif kind == Kind.TYPEDEF:
                if name not in BUILTIN_TYPEDEFS:
                    self.ident[tid] = self._new_ident(name)
            elif kind == Kind.FWD:
                fwds.append((tid, name, bool(detail)))
        for tid, name, is_union in fwds:
            want = Kind.UNION if is_union else Kind.STRUCT
            if self._tags.get(c_identifier(name)) == want:
                self.tag[tid] = c_identifier(name)
            else:
                self.tag[tid] = self._new_tag(name, want)

    @classmethod
    def of_types(cls, items: Iterable[tuple[int, Type]]) -> Names:
        """The names of ``(id, type)`` pairs, in id order."""
        return cls((tid, t.kind, t.name, _detail(t)) for tid, t in items)

    def _new_tag(self, name: str, kind: int) -> str:
        if not (name.isidentifier() and name.isascii()):
            name = c_identifier(name)
        unique = name
        if unique in self._tags:
            unique = self._next_free(name, self._tags)
        self._tags[unique] = kind
        return unique

    def _new_ident(self, name: str) -> str:
        if not (name.isidentifier() and name.isascii()):
            name = c_identifier(name)
        unique = name
        if unique in self._idents:
            unique = self._next_free(name, self._idents)
        self._idents.add(unique)
        return unique

    def _new_idents(self, names: list[str]) -> tuple[str, ...]:
        """:meth:`_new_ident` of each of ``names`` (an enum's constants), in order."""
        idents = self._idents
        if (all(map(str.isidentifier, names)) and all(map(str.isascii, names)) and idents.isdisjoint(names)
                and len(set(names)) == len(names)):
            idents.update(names)  # the usual case: valid, and new
            return tuple(names)
        return tuple(self._new_ident(name) for name in names)

    def _next_free(self, name: str, taken: set[str] | dict[str, int]) -> str:
        """``name___N`` for the smallest N >= 2 not taken (remembering where the search ended)."""
        key = (id(taken), name)
        n = self._last.get(key, 1)
        while True:
            n += 1
            unique = f"{name}___{n}"
            if unique not in taken:
                self._last[key] = n
                return unique


def _detail(t: Type) -> Sequence[str] | bool | None:
    if isinstance(t, (Enum, Enum64)):
        return [v.name for v in t.values]
    if isinstance(t, Fwd):
        return t.is_union
    return None
