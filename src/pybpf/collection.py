"""``Collection`` and :func:`load`: an eBPF object's maps and programs, live in the kernel.

    >>> with pybpf.load("counter.bpf.o") as obj:              # doctest: +SKIP
    ...     obj.programs["count"].test_run(data=bytes(64)).retval
    ...     obj.maps["counts"][0]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import _sys
from ._collection_base import CollectionBase, GlobalVariables, Loadable, as_spec
from ._log import get_logger
from .spec import ObjectSpec

if TYPE_CHECKING:
    from .btf import BTF
    from .link import Link
    from .map import Map
    from .program import Program

log = get_logger("pybpf.collection")

__all__ = ["Collection", "Globals", "Loadable", "load"]


class Globals(GlobalVariables["Map"]):
    """The object's global variables, read from and written to the live data maps.

    ``obj.globals["hits"]`` decodes the current value through the variable's BTF type (bytes
    when the object has no BTF); assigning writes it (not for frozen ``.rodata``).
    """

    def _read(self, m: Map) -> bytes:
        raw = _sys.map_lookup_elem(m.fd, bytes(4), m.value_size)
        assert raw is not None  # single-element ARRAY: slot 0 always exists
        return raw

    def _write(self, m: Map, offset: int, raw: bytes) -> None:
        data = bytearray(self._read(m))
        data[offset:offset + len(raw)] = raw
        _sys.map_update_elem(m.fd, bytes(4), bytes(data))


class Collection(CollectionBase["Program", "Map"]):
    """The live programs and maps of one object; closing it closes each of them once.

    ``programs`` and ``maps`` are dicts by name (the C function and variable names).
    """

    def __init__(self, programs: dict[str, Program], maps: dict[str, Map], *, spec: ObjectSpec | None = None,
                 struct_ops: dict[str, bytes] | None = None) -> None:
        super().__init__(programs, maps, spec=spec, global_vars=Globals(spec, maps) if spec is not None else None)
        #: struct_ops map name -> the value (in the kernel's layout, with the program fds) that
        #: registers the table when written to key 0 of the map: attaching it
        self.struct_ops = struct_ops or {}
        for name, prog in programs.items():  # the section tells Program.attach where to attach
            if spec is not None and prog.spec is None:
                prog.spec = spec.programs.get(name)

    def attach_all(self, *, skip_unsupported: bool = False) -> list[Link]:
        """Attach every program whose section fully names its hook (tracepoints, raw_tp, tp_btf,
        kprobes, fentry/fexit/lsm, iterators, uprobes with a path); closing the Collection
        detaches them. ``skip_unsupported`` skips (with a warning) what this kernel refuses.
        """
        from .link.auto import attach_all

        return attach_all(self.programs.values(), skip_unsupported=skip_unsupported)


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

    spec = as_spec(path_or_spec)
    loaded = load_spec(spec, btf=btf, pin_path=pin_path, log_level=log_level, kconfig=kconfig)
    return Collection(loaded.programs, loaded.maps, spec=spec, struct_ops=loaded.struct_ops)
