"""``VMCollection`` and :func:`load`: an eBPF object's maps and programs, live in the VM."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Union

from ..spec import ObjectSpec, VariableSpec, decode_variable, encode_variable
from .loader import create_maps, load_programs
from .memory import DEFAULT_CAPACITY, Memory
from .runtime import HelperFunc, Runtime, TaskContext

if TYPE_CHECKING:
    from types import TracebackType

    from ..btf import BTF
    from .maps import VMMap
    from .program import VMProgram

__all__ = ["VMCollection", "load", "Loadable"]

Loadable = Union[str, "os.PathLike[str]", bytes, ObjectSpec]


class VMGlobals(MutableMapping[str, object]):
    """Global variables of a VM collection, read and written in its data maps."""

    def __init__(self, spec: ObjectSpec, maps: Mapping[str, VMMap]) -> None:
        self._spec = spec
        self._maps = maps

    def _where(self, name: str) -> tuple[VariableSpec, bytearray]:
        var = self._spec.variables.get(name)
        if var is None:
            raise KeyError(f"the object has no global variable {name!r} (it has: {', '.join(self._spec.variables)})")
        m = self._maps[var.map_name]
        region = m.memory.region_of(m.value_address(0))  # type: ignore[attr-defined]
        assert region is not None
        return var, region.buf

    def __getitem__(self, name: str) -> object:
        var, buf = self._where(name)
        return decode_variable(self._spec.btf, var, bytes(buf[var.offset:var.offset + var.size]))

    def __setitem__(self, name: str, value: object) -> None:
        var, buf = self._where(name)
        buf[var.offset:var.offset + var.size] = encode_variable(self._spec.btf, var, value)

    def __delitem__(self, name: str) -> None:
        raise TypeError("global variables cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec.variables)

    def __len__(self) -> int:
        return len(self._spec.variables)


class VMCollection:
    """The programs and maps of one object in the VM (the same shape as :class:`pybpf.Collection`).

    ``runtime`` holds what programs run against: ``runtime.task`` (pid/uid/comm the helpers
    report), ``runtime.cpu``, ``runtime.trace`` (trace_printk lines), clocks and randomness.
    """

    def __init__(self, runtime: Runtime, programs: dict[str, VMProgram], maps: dict[str, VMMap],
                 *, spec: ObjectSpec | None = None) -> None:
        self.runtime = runtime
        self.programs = programs
        self.maps = maps
        self.spec = spec
        self.globals = VMGlobals(spec, maps) if spec is not None else None
        self._closed = False

    @property
    def trace(self) -> list[str]:
        """trace_printk output so far."""
        return self.runtime.trace

    def register_helper(self, id_or_name: int | str, func: HelperFunc) -> None:
        """Run ``func(runtime, r1, r2, r3, r4, r5) -> int`` for helper ``id_or_name`` (before the
        programs' first run). ``runtime.memory.read(addr, n)`` / ``.write(addr, data)`` reach the
        program's memory, checked."""
        self.runtime.register_helper(id_or_name, func)

    def register_memory(self, data: bytes | bytearray, *, name: str = "registered memory",
                        writable: bool = False) -> int:
        """Map ``data`` into the VM (for ``probe_read_*`` or as a ctx field); returns its address."""
        buf = data if isinstance(data, bytearray) else bytearray(data)
        return self.runtime.memory.map(buf, name, writable=writable).base

    def close(self) -> None:
        self._closed = True
        for obj in [*self.programs.values(), *self.maps.values()]:
            obj.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> VMCollection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VMCollection programs={sorted(self.programs)} maps={sorted(self.maps)}>"


def _as_spec(obj: Loadable) -> ObjectSpec:
    if isinstance(obj, ObjectSpec):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return ObjectSpec.from_bytes(bytes(obj))
    return ObjectSpec.from_file(Path(obj))


def load(path_or_spec: Loadable, *, btf: BTF | None = None, ncpus: int = 1, seed: int | None = None,
         task: TaskContext | None = None, memory_capacity: int = DEFAULT_CAPACITY,
         log_trace: bool = True, tier: str | None = None) -> VMCollection:
    """Load an eBPF object (path, bytes or :class:`~pybpf.spec.ObjectSpec`) into a new VM.

    ``btf``: what CO-RE relocates against (default: the kernel's BTF when readable, else the
    object's own); ``ncpus``: CPUs of per-CPU maps; ``seed``: for ``get_prandom_u32``;
    ``task``: the current task helpers report; ``tier``: "interpreter", "jit" or "auto" (default:
    the process default, see :mod:`pybpf.vm.jit`). Set ``.rodata`` values on the spec first.

    >>> with pybpf.vm.load("counter.bpf.o") as obj:               # doctest: +SKIP
    ...     obj.programs["count"].test_run(data=bytes(64)).retval
    """
    spec = _as_spec(path_or_spec)
    rt = Runtime(ncpus=ncpus, memory=Memory(memory_capacity), seed=seed, task=task, log_trace=log_trace)
    rt.tier = tier
    maps = create_maps(rt, spec)
    programs = load_programs(rt, spec, maps, btf=btf)
    return VMCollection(rt, programs, maps, spec=spec)
