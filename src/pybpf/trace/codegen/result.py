"""What code generation hands to the runtime: :class:`CompiledScript` and its parts.

The runtime (``pybpf.trace.runtime``) loads ``object_spec`` with :func:`pybpf.load`, attaches
each :class:`ProbeAttach` (BEGIN/END programs are run with ``BPF_PROG_TEST_RUN`` instead),
reads ring buffer records laid out by ``events`` and prints maps through ``maps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..layouts import EventLayout, MapInfo
from ..points import AttachPoint, ProbeType

if TYPE_CHECKING:
    from pathlib import Path

    from ...spec import ObjectSpec
    from ..semantic.model import TypedProgram


@dataclass(frozen=True)
class ProbeAttach:
    """One BPF program and what to attach it to.

    ``index`` is the value of the ``probe`` builtin for this program (an index into
    :attr:`CompiledScript.probes`); ``name`` is bpftrace's full probe name
    (``tracepoint:syscalls:sys_enter_openat``); ``attach_point`` has every part (target binary,
    function, frequency, unit...).
    """

    index: int
    program_name: str
    kind: ProbeType
    attach_point: AttachPoint
    name: str
    probe_index: int  # the probe block (source order) this program comes from

    @property
    def target(self) -> str:
        """Tracepoint category, binary path or module (``attach_point.target``)."""
        return self.attach_point.target

    @property
    def func(self) -> str:
        """Tracepoint/function/event name (``attach_point.func``)."""
        return self.attach_point.func

    @property
    def watch_setup_program(self) -> str:
        """``watchpoint:FUNC+argN``: the uprobe program on FUNC that sends argN's address to the
        runtime (which then sets the watchpoint); empty for every other probe."""
        ap = self.attach_point
        watching = self.kind in (ProbeType.WATCHPOINT, ProbeType.ASYNCWATCHPOINT) and bool(ap.func)
        return f"ws{self.index}" if watching else ""


@dataclass(frozen=True)
class MapBinding:
    """How bpftrace map ``info.name`` is stored in BPF map ``bpf_name``.

    Keys: ``key_size`` bytes. A scalar map (``info.key is None``) has the single key u64 0;
    otherwise the key is ``info.key`` laid out as :mod:`pybpf.trace.types` describes, except that
    a ``StackType`` key element is stored as a u64 stack id (``bpf_get_stackid``'s result, negative
    on failure) into the STACK_TRACE map ``stack_map``, where the runtime reads the addresses; a
    user stack key does not keep the pid (its frames are symbolised without a process).
    hist/lhist (``bucket_key``): the key is ``(user key bytes, padded to 8) + u64 bucket index``
    and the value one u64 count per CPU; a scalar hist map has only the u64 bucket as its key.

    Values (``percpu``: one value per CPU, the runtime merges them):

    ============  ===========================================================  ============
    kind          per-CPU value                                                merge
    ============  ===========================================================  ============
    count, sum    i64                                                          sum
    avg, stats    u64 count at 0, i64 total at 8                               sum each
    min, max      i64 value at 0, u64 ``set`` flag at 8 (0: this CPU saw none)   min/max of set
    hist, lhist   u64 count (per bucket key)                                    sum
    ============  ===========================================================  ============

    Other maps (not per-CPU) hold ``info.value`` laid out as its type.
    """

    info: MapInfo
    bpf_name: str
    key_size: int
    value_size: int
    percpu: bool
    bucket_key: bool = False
    stack_map: str = ""

    @property
    def name(self) -> str:
        return self.info.name


@dataclass
class CompiledScript:
    """A compiled bpftrace program: the object, its probes, maps and event layouts.

    ``elapsed`` needs the start time: call :meth:`prepare` with the loaded collection before
    attaching. ``ir`` is the LLVM IR text, ``elf`` the object file bytes (what ``--emit-obj``
    writes).
    """

    object_spec: ObjectSpec
    probes: list[ProbeAttach]
    maps: dict[str, MapBinding]
    events: list[EventLayout]
    ringbuf_map: str
    typed: TypedProgram | None  # None (and ``ir`` empty) for a script read from pybpf.trace.cache
    ir: str
    elf: bytes
    vars_map: str = ""
    #: per-CPU u64 count of events dropped because the ring buffer was full (key u32 0)
    lost_map: str = ""
    stack_maps: dict[str, bool] = field(default_factory=dict)  # BPF map name -> kernel stacks?

    @property
    def begin(self) -> list[ProbeAttach]:
        """BEGIN programs, run by the runtime before attaching (in source order)."""
        return [p for p in self.probes if p.kind is ProbeType.BEGIN]

    @property
    def end(self) -> list[ProbeAttach]:
        """END programs, run by the runtime at exit."""
        return [p for p in self.probes if p.kind is ProbeType.END]

    def disassembly(self) -> str:
        """The eBPF instructions of every program, as ``--dry-run`` shows them."""
        from ...isa import disassemble

        out: list[str] = []
        for name, prog in self.object_spec.programs.items():
            out.append(f"{name} ({prog.section}):")
            out.append(disassemble(prog.instructions))
        return "\n".join(out)

    def write_object(self, path: str | Path) -> None:
        """Write the ELF object (``--emit-obj``); :func:`pybpf.load` loads it later."""
        with open(path, "wb") as f:
            f.write(self.elf)

    def lost_events(self, collection: object) -> int:
        """Events dropped so far because the ring buffer was full (summed over CPUs)."""
        if not self.lost_map:
            return 0
        from ..runtime.maps import LiveMap

        live = LiveMap(getattr(collection, "maps")[self.lost_map], percpu=True)
        return sum(int.from_bytes(v[:8], "little") for _, values in live.raw_items() for v in values)

    def prepare(self, collection: object, *, start_ns: int | None = None) -> None:
        """Store the start time (CLOCK_MONOTONIC ns, default now) that ``elapsed`` counts from."""
        import struct
        import time

        if not self.vars_map:
            return
        ns = time.monotonic_ns() if start_ns is None else start_ns
        maps = getattr(collection, "maps")
        maps[self.vars_map][struct.pack("<I", 0)] = struct.pack("<Q", ns)
