"""What the kernel's :class:`~pybpf.collection.Collection` and the VM's
:class:`~pybpf.vm.collection.VMCollection` share: programs and maps by name (a missing name's
error lists the names there are), global variables over the data maps, and closing every
program and map once.

Each backend adds what only it has (struct_ops values and ``attach_all`` in the kernel; the
runtime, helpers and trace output in the VM) and how it reads and writes a data map's bytes.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Generic, Protocol, TypeVar, Union

from ._lifetime import Finalized
from .spec import ObjectSpec, VariableSpec, decode_variable, encode_variable

__all__ = ["ByName", "CollectionBase", "GlobalVariables", "Loadable", "as_spec"]

#: What ``load`` accepts: a path to an ELF object, its bytes, or a spec.
Loadable = Union[str, "os.PathLike[str]", bytes, ObjectSpec]


def as_spec(obj: Loadable) -> ObjectSpec:
    """``obj`` parsed into an ObjectSpec (a spec is returned as it is)."""
    if isinstance(obj, ObjectSpec):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return ObjectSpec.from_bytes(bytes(obj))
    from pathlib import Path

    return ObjectSpec.from_file(Path(obj))


class _Closeable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T")
P = TypeVar("P", bound=_Closeable)
M = TypeVar("M", bound=_Closeable)


class ByName(dict[str, T]):
    """A dict of an object's programs or maps by name; ``d[missing]`` says which names exist."""

    def __init__(self, items: Mapping[str, T], what: str) -> None:
        super().__init__(items)
        self.what = what

    def __missing__(self, name: str) -> T:
        raise KeyError(f"the object has no {self.what} {name!r} (it has: {', '.join(sorted(self)) or 'none'})")


class GlobalVariables(MutableMapping[str, object], Generic[M]):
    """The object's global variables, decoded from and encoded into its live data maps.

    ``g["hits"]`` decodes the current value through the variable's BTF type (bytes when the
    object has no BTF); assigning writes it. A backend reads and writes the data map's bytes.
    """

    def __init__(self, spec: ObjectSpec, maps: Mapping[str, M]) -> None:
        self._spec = spec
        self._maps = maps

    def _read(self, m: M) -> bytes | bytearray:
        """The whole data section, as the map holds it now."""
        raise NotImplementedError

    def _write(self, m: M, offset: int, raw: bytes) -> None:
        """Write ``raw`` at ``offset`` of the data section."""
        raise NotImplementedError

    def _where(self, name: str) -> tuple[VariableSpec, M]:
        var = self._spec.variables.get(name)
        if var is None:
            raise KeyError(f"the object has no global variable {name!r} (it has: {', '.join(self._spec.variables)})")
        return var, self._maps[var.map_name]

    def __getitem__(self, name: str) -> object:
        var, m = self._where(name)
        return decode_variable(self._spec.btf, var, bytes(self._read(m)[var.offset:var.offset + var.size]))

    def __setitem__(self, name: str, value: object) -> None:
        var, m = self._where(name)
        self._write(m, var.offset, encode_variable(self._spec.btf, var, value))

    def __delitem__(self, name: str) -> None:
        raise TypeError("global variables cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec.variables)

    def __len__(self) -> int:
        return len(self._spec.variables)


def _close_all(objects: list[_Closeable]) -> None:
    for obj in objects:
        obj.close()


class CollectionBase(Finalized, Generic[P, M]):
    """The programs and maps of one object, by name; closing it closes each of them once.

    ``programs`` and ``maps`` are dicts by name (the C function and variable names);
    ``globals`` the global variables (None without a spec).
    """

    def __init__(self, programs: Mapping[str, P], maps: Mapping[str, M], *, spec: ObjectSpec | None,
                 global_vars: GlobalVariables[M] | None) -> None:
        self.programs: ByName[P] = ByName(programs, "program")
        self.maps: ByName[M] = ByName(maps, "map")
        self.spec = spec
        #: global variables by name, live
        self.globals = global_vars
        objects: list[_Closeable] = [*programs.values(), *maps.values()]
        self._finalizer = weakref.finalize(self, _close_all, objects)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} programs={sorted(self.programs)} maps={sorted(self.maps)}{state}>"
