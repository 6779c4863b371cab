"""``VMCollection`` and :func:`load`: an eBPF object's maps and programs, live in the VM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._collection_base import CollectionBase, GlobalVariables, Loadable, as_spec
from ..spec import ObjectSpec
from .loader import create_maps, load_programs
from .memory import DEFAULT_CAPACITY, Memory
from .runtime import HelperFunc, Runtime, TaskContext

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..btf import BTF
    from .maps import VMMap
    from .program import VMProgram

__all__ = ["VMCollection", "load", "Loadable"]


class VMGlobals(GlobalVariables["VMMap"]):
    """Global variables of a VM collection, read and written in its data maps' memory."""

    def _read(self, m: VMMap) -> bytearray:
        return self._buffer(m)

    def _write(self, m: VMMap, offset: int, raw: bytes) -> None:
        self._buffer(m)[offset:offset + len(raw)] = raw

    @staticmethod
    def _buffer(m: VMMap) -> bytearray:
        region = m.memory.region_of(m.value_address(0))  # type: ignore[attr-defined]
        assert region is not None
        return region.buf


class VMCollection(CollectionBase["VMProgram", "VMMap"]):
    """The programs and maps of one object in the VM (the same shape as :class:`pybpf.Collection`).

    ``runtime`` holds what programs run against: ``runtime.task`` (pid/uid/comm the helpers
    report), ``runtime.cpu``, ``runtime.trace`` (trace_printk lines), clocks and randomness.
    """

    def __init__(self, runtime: Runtime, programs: dict[str, VMProgram], maps: dict[str, VMMap],
                 *, spec: ObjectSpec | None = None) -> None:
        super().__init__(programs, maps, spec=spec,
                         global_vars=VMGlobals(spec, maps) if spec is not None else None)
        self.runtime = runtime

    @property
    def trace(self) -> list[str]:
        """trace_printk output so far."""
        return self.runtime.trace

    def register_helper(self, id_or_name: int | str, func: HelperFunc) -> None:
        """Run ``func(runtime, r1, r2, r3, r4, r5) -> int`` for helper ``id_or_name`` (before the
        programs' first run). ``runtime.memory.read(addr, n)`` / ``.write(addr, data)`` reach the
        program's memory, checked. A name that is no helper's names a kfunc (an ``extern ...
        __ksym`` function): ``register_helper("bpf_task_from_pid", func)``."""
        self.runtime.register_helper(id_or_name, func)

    def register_ksym(self, name: str, value: int | bytes | bytearray, *, writable: bool = False) -> int:
        """Give kernel symbol ``name`` (``extern const int name __ksym;``, typed or untyped) its
        contents (mapped as ``register_memory`` does) or an address already mapped; returns the
        address. Before the programs' first run (they resolve symbols when they compile)."""
        address = value if isinstance(value, int) else self.register_memory(value, name=name, writable=writable)
        self.runtime.register_ksym(name, address)
        return address

    def register_memory(self, data: bytes | bytearray, *, name: str = "registered memory",
                        writable: bool = False) -> int:
        """Map ``data`` into the VM (for ``probe_read_*`` or as a ctx field); returns its address."""
        buf = data if isinstance(data, bytearray) else bytearray(data)
        return self.runtime.memory.map(buf, name, writable=writable).base


def load(path_or_spec: Loadable, *, btf: BTF | None = None, ncpus: int = 1, seed: int | None = None,
         task: TaskContext | None = None, memory_capacity: int = DEFAULT_CAPACITY,
         log_trace: bool = True, tier: str | None = None,
         ksyms: Mapping[str, int | bytes] | None = None,
         kconfig: Mapping[str, object] | None = None) -> VMCollection:
    """Load an eBPF object (path, bytes or :class:`~pybpf.spec.ObjectSpec`) into a new VM.

    ``btf``: what CO-RE relocates against (default: the kernel's BTF when readable, else the
    object's own); ``ncpus``: CPUs of per-CPU maps; ``seed``: for ``get_prandom_u32``;
    ``task``: the current task helpers report; ``tier``: "interpreter", "jit" or "auto" (default:
    the process default, see :mod:`pybpf.vm.jit`); ``ksyms``: kernel symbols (``__ksym``
    externs) by name, their bytes or an address (see :meth:`VMCollection.register_ksym`);
    ``kconfig``: ``__kconfig`` values over the running kernel's configuration (as
    :func:`pybpf.load` takes them). Set ``.rodata`` values on the spec first.

    >>> with pybpf.vm.load("counter.bpf.o") as obj:               # doctest: +SKIP
    ...     obj.programs["count"].test_run(data=bytes(64)).retval
    """
    spec = as_spec(path_or_spec)
    rt = Runtime(ncpus=ncpus, memory=Memory(memory_capacity), seed=seed, task=task, log_trace=log_trace)
    rt.tier = tier
    maps = create_maps(rt, spec, kconfig=kconfig)
    programs = load_programs(rt, spec, maps, btf=btf)
    coll = VMCollection(rt, programs, maps, spec=spec)
    for name, value in (ksyms or {}).items():
        coll.register_ksym(name, value)
    return coll
