"""What a compiled program keeps of its source: :class:`ProbeType`, :class:`AttachPoint`, :class:`Span`.

They are part of the syntax tree (:mod:`pybpf.trace.ast` re-exports them) but live here, apart
from its forty node classes, so that the runtime and a program read from the cache
(:mod:`pybpf.trace.cache`) import only what they use.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in the source: 1-based ``line``/``col``; ``end_col`` is exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def merge(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(self.line, self.col, other.end_line, other.end_col)


#: the span of a node built by code rather than parsed
NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, kw_only=True, compare=False, repr=False)


def _nid() -> int:
    return field(default=0, kw_only=True, compare=False, repr=False)


class ProbeType(enum.StrEnum):
    """Canonical probe provider names (aliases such as ``t``/``kfunc`` are resolved by the parser)."""

    BEGIN = "BEGIN"
    END = "END"
    TRACEPOINT = "tracepoint"
    RAWTRACEPOINT = "rawtracepoint"
    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    FENTRY = "fentry"
    FEXIT = "fexit"
    UPROBE = "uprobe"
    URETPROBE = "uretprobe"
    USDT = "usdt"
    PROFILE = "profile"
    INTERVAL = "interval"
    SOFTWARE = "software"
    HARDWARE = "hardware"
    ITER = "iter"
    WATCHPOINT = "watchpoint"
    ASYNCWATCHPOINT = "asyncwatchpoint"


@dataclass(frozen=True, slots=True)
class AttachPoint:
    """One attach point of a probe, split into its parts.

    ==============================  ======================================================
    source                          fields
    ==============================  ======================================================
    ``BEGIN``                       provider=BEGIN
    ``tracepoint:sched:sched_*``    provider=TRACEPOINT, target="sched", func="sched_*"
    ``rawtracepoint:[mod:]name``    provider=RAWTRACEPOINT, target=mod, func=name
    ``kprobe:[mod:]f+0x10``         provider=KPROBE, target=mod, func="f", offset=16
    ``fentry:[mod:]f``              provider=FENTRY, target=mod, func="f"
    ``uprobe:/bin/bash:readline``   provider=UPROBE, target="/bin/bash", func="readline"
    ``uprobe:/bin/x:0x1234``        provider=UPROBE, target="/bin/x", address=0x1234
    ``usdt:/bin/x:ns:probe``        provider=USDT, target="/bin/x", namespace="ns", func="probe"
    ``profile:hz:99``               provider=PROFILE, unit="hz", freq=99
    ``interval:ms:100``             provider=INTERVAL, unit="ms", freq=100
    ``software:cpu-clock:1000``     provider=SOFTWARE, func="cpu-clock", freq=1000 (0: default)
    ``hardware:cache-misses:1e6``   provider=HARDWARE, func="cache-misses", freq=1000000
    ``iter:task``                   provider=ITER, func="task"
    ``watchpoint:0x1000:8:rw``      provider=WATCHPOINT, address=0x1000, length=8, mode="rw"
    ``watchpoint:f+arg1:4:w``       provider=WATCHPOINT, func="f", offset=1 (the argument), length=4
    ==============================  ======================================================

    ``raw`` is the text as written; ``wildcard`` is True when ``target`` or ``func`` contains
    ``*`` or ``?`` (see :mod:`pybpf.trace.probes` for expansion).
    """

    raw: str
    provider: ProbeType
    target: str = ""
    namespace: str = ""
    func: str = ""
    offset: int | None = None
    address: int | None = None
    unit: str = ""
    freq: int = 0
    length: int = 0
    mode: str = ""
    span: Span = _span()
    node_id: int = _nid()

    @property
    def wildcard(self) -> bool:
        """Whether the attach point needs expansion against the system's probe list."""
        return any(c in s for s in (self.target, self.namespace, self.func) for c in "*?[")

    @property
    def name(self) -> str:
        """The canonical probe name bpftrace shows for ``probe`` (``tracepoint:sched:sched_switch``)."""
        parts = [str(self.provider)]
        parts += _NAME_PARTS[self.provider](self)
        return ":".join(parts)


def _name_target_func(ap: AttachPoint) -> list[str]:
    return [p for p in (ap.target, ap.func) if p] if ap.target else [ap.func]


def _name_uprobe(ap: AttachPoint) -> list[str]:
    func = ap.func if ap.address is None else hex(ap.address)
    if ap.offset:
        func += f"+{ap.offset}"
    return [ap.target, func]


def _name_kprobe(ap: AttachPoint) -> list[str]:
    func = ap.func if not ap.offset else f"{ap.func}+{ap.offset}"
    return [p for p in (ap.target, func) if p]


def _name_watchpoint(ap: AttachPoint) -> list[str]:
    where = f"{ap.func}+arg{ap.offset or 0}" if ap.func else hex(ap.address or 0)
    return [where, str(ap.length), ap.mode]


_NAME_PARTS: dict[ProbeType, Callable[[AttachPoint], list[str]]] = {
    ProbeType.BEGIN: lambda ap: [],
    ProbeType.END: lambda ap: [],
    ProbeType.TRACEPOINT: lambda ap: [ap.target, ap.func],
    ProbeType.RAWTRACEPOINT: _name_target_func,
    ProbeType.KPROBE: _name_kprobe,
    ProbeType.KRETPROBE: _name_kprobe,
    ProbeType.FENTRY: _name_target_func,
    ProbeType.FEXIT: _name_target_func,
    ProbeType.UPROBE: _name_uprobe,
    ProbeType.URETPROBE: _name_uprobe,
    ProbeType.USDT: lambda ap: [p for p in (ap.target, ap.namespace, ap.func) if p],
    ProbeType.PROFILE: lambda ap: [ap.unit, str(ap.freq)],
    ProbeType.INTERVAL: lambda ap: [ap.unit, str(ap.freq)],
    ProbeType.SOFTWARE: lambda ap: [ap.func] + ([str(ap.freq)] if ap.freq else []),
    ProbeType.HARDWARE: lambda ap: [ap.func] + ([str(ap.freq)] if ap.freq else []),
    ProbeType.ITER: lambda ap: [ap.func],
    ProbeType.WATCHPOINT: lambda ap: _name_watchpoint(ap),
    ProbeType.ASYNCWATCHPOINT: lambda ap: _name_watchpoint(ap),
}
