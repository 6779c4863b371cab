"""``Collection`` and :func:`load`: an eBPF object's maps and programs, live in the kernel.

    >>> with pybpf.load("counter.bpf.o") as obj:              # doctest: +SKIP
    ...     obj.programs["count"].test_run(data=bytes(64)).retval
    ...     obj.maps["counts"][0]
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Union

from . import _sys
from ._lifetime import Finalized
from .spec import ObjectSpec, VariableSpec, decode_variable, encode_variable

if TYPE_CHECKING:
    from .btf import BTF
    from .link import Link
    from .map import Map
    from .program import Program

log = logging.getLogger("pybpf.collection")

#: What :func:`load` accepts: a path to an ELF object, its bytes, or a spec.
Loadable = Union[str, "os.PathLike[str]", bytes, ObjectSpec]


def _close_all(objects: list[object]) -> None:
    for obj in objects:
        obj.close()  # type: ignore[attr-defined]


class Globals(MutableMapping[str, object]):
    """The object's global variables, read from and written to the live data maps.

    ``obj.globals["hits"]`` decodes the current value through the variable's BTF type (bytes
    when the object has no BTF); assigning writes it (not for frozen ``.rodata``).
    """

    def __init__(self, spec: ObjectSpec, maps: Mapping[str, Map]) -> None:
        self._spec = spec
        self._maps = maps

    def _where(self, name: str) -> tuple[VariableSpec, Map]:
        var = self._spec.variables.get(name)
        if var is None:
            raise KeyError(f"the object has no global variable {name!r} (it has: {', '.join(self._spec.variables)})")
        return var, self._maps[var.map_name]

    def _raw(self, m: Map) -> bytes:
        raw = _sys.map_lookup_elem(m.fd, bytes(4), m.value_size)
        assert raw is not None  # single-element ARRAY: slot 0 always exists
        return raw

    def __getitem__(self, name: str) -> object:
        var, m = self._where(name)
        return decode_variable(self._spec.btf, var, self._raw(m)[var.offset:var.offset + var.size])

    def __setitem__(self, name: str, value: object) -> None:
        var, m = self._where(name)
        raw = encode_variable(self._spec.btf, var, value)
        data = bytearray(self._raw(m))
        data[var.offset:var.offset + var.size] = raw
        _sys.map_update_elem(m.fd, bytes(4), bytes(data))

    def __delitem__(self, name: str) -> None:
        raise TypeError("global variables cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec.variables)

    def __len__(self) -> int:
        return len(self._spec.variables)


class Collection(Finalized):
    """The live programs and maps of one object; closing it closes each of them once.

    ``programs`` and ``maps`` are dicts by name (the C function and variable names).
    """

    def __init__(self, programs: dict[str, Program], maps: dict[str, Map], *, spec: ObjectSpec | None = None,
                 struct_ops: dict[str, bytes] | None = None) -> None:
        self.programs = programs
        self.maps = maps
        self.spec = spec
        #: struct_ops map name -> the value (in the kernel's layout, with the program fds) that
        #: registers the table when written to key 0 of the map: attaching it
        self.struct_ops = struct_ops or {}
        #: global variables by name, live (see :class:`Globals`)
        self.globals = Globals(spec, maps) if spec is not None else None
        for name, prog in programs.items():  # the section tells Program.attach where to attach
            if spec is not None and prog.spec is None:
                prog.spec = spec.programs.get(name)
        self._finalizer = weakref.finalize(self, _close_all, [*programs.values(), *maps.values()])

    def attach_all(self, *, skip_unsupported: bool = False) -> list[Link]:
        """Attach every program whose section fully names its hook (tracepoints, raw_tp, tp_btf,
        kprobes, fentry/fexit/lsm, iterators, uprobes with a path); closing the Collection
        detaches them. ``skip_unsupported`` skips (with a warning) what this kernel refuses.
        """
        from .link.auto import attach_all

        return attach_all(self.programs.values(), skip_unsupported=skip_unsupported)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Collection programs={sorted(self.programs)} maps={sorted(self.maps)}{state}>"


def _as_spec(obj: Loadable) -> ObjectSpec:
    if isinstance(obj, ObjectSpec):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return ObjectSpec.from_bytes(bytes(obj))
    return ObjectSpec.from_file(Path(obj))


def load(
    path_or_spec: Loadable,
    *,
    btf: BTF | None = None,
    pin_path: str | os.PathLike[str] | None = None,
    log_level: int = 0,
    kconfig: Mapping[str, object] | None = None,
) -> Collection:
    """Create the object's maps and load its programs into the running kernel.

    ``btf`` is the BTF to CO-RE relocate against (default: the running kernel's); maps pinned
    ``BY_NAME`` are reused from / pinned in ``pin_path``; ``log_level`` > 0 keeps the verifier
    log in ``Program.log``; ``kconfig`` overrides ``__kconfig`` values. Set globals and map
    sizes on the spec first to change them::

        spec = pybpf.ObjectSpec.from_file("prog.bpf.o")
        spec.rodata["min_us"] = 1000
        with pybpf.load(spec) as obj:
            ...

    Raises :class:`~pybpf.errors.VerifierError` (with the C source line) when the verifier
    rejects a program; nothing stays loaded when any stage fails.
    """
    from .loader import load_spec

    spec = _as_spec(path_or_spec)
    loaded = load_spec(spec, btf=btf, pin_path=pin_path, log_level=log_level, kconfig=kconfig)
    return Collection(loaded.programs, loaded.maps, spec=spec, struct_ops=loaded.struct_ops)
