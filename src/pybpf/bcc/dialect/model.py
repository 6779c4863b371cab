"""What the bcc rewriter reports: maps declared by macros, probes to attach by name,
fallbacks taken, and how lines of the rewritten C map back to the user's text."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ...enums import MapType
from ...errors import BPFError


class ProbeKind(str, Enum):
    """The hook a bcc function asks for, by its name prefix or macro."""

    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    TRACEPOINT = "tracepoint"
    RAW_TRACEPOINT = "raw_tracepoint"
    KFUNC = "kfunc"
    KRETFUNC = "kretfunc"
    LSM = "lsm"


class RewriteError(BPFError, SyntaxError):
    """bcc C that the rewriter cannot translate; names the user's line and what to change."""

    def __init__(self, message: str, *, line: int | None = None, source_line: str = "") -> None:
        self.line = line
        self.source_line = source_line
        where = f"line {line}: " if line is not None else ""
        shown = f"\n    {source_line.strip()}" if source_line.strip() else ""
        BPFError.__init__(self, f"{where}{message}{shown}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class BccMapDecl:
    """A map declared with a bcc macro (``BPF_HASH(counts, u32, u64)``).

    ``bcc_kind`` is bcc's table name (``"hash"``, ``"histogram"``, ``"perf_output"``...),
    which decides the Python table class; ``kind`` the kernel map type.
    """

    name: str
    bcc_kind: str
    kind: MapType
    key_type: str | None
    leaf_type: str | None
    size: int
    flags: int = 0
    pinned: str | None = None  # BPF_TABLE_PINNED path
    shared: bool = False  # BPF_TABLE_SHARED / BPF_TABLE_PUBLIC
    line: int = 0


@dataclass(frozen=True)
class AutoProbe:
    """A function bcc attaches by itself (prefix or macro): ``func_name`` is the program to
    load; ``target`` is the event (``"do_sys_open"``, ``"syscalls:sys_enter_openat"``,
    ``"sched_switch"``...). ``fallback`` is set when the program was rewritten for another
    hook (see :class:`Fallback`)."""

    func_name: str
    kind: ProbeKind
    target: str
    section: str
    fallback: Fallback | None = None
    line: int = 0


@dataclass(frozen=True)
class Fallback:
    """A kprobe/kretprobe turned into a (raw) tracepoint program with an adapter.

    ``program`` is the program to load (named like the user's function); it is of type
    TRACEPOINT (``hook_kind`` ``"tracepoint"``, ``category:event``) or RAW_TRACEPOINT
    (``"raw_tracepoint"``, ``event``). ``note`` says what differs from the kprobe.
    """

    func_name: str
    requested: ProbeKind
    function: str
    hook_kind: ProbeKind
    category: str
    event: str
    section: str
    note: str
    exact: bool

    @property
    def tracepoint(self) -> str:
        return f"{self.category}:{self.event}"


@dataclass(frozen=True)
class AttachRequest:
    """A function the Python side will attach to a kprobe/kretprobe (``attach_kprobe(event=,
    fn_name=)``): rewrite it for this kernel (an adapter when kprobes are missing)."""

    func_name: str
    kind: ProbeKind
    target: str


@dataclass(frozen=True)
class FunctionInfo:
    """A top-level function of the user's text (a candidate for ``load_func``)."""

    name: str
    params: tuple[tuple[str, str], ...]  # (type, name)
    section: str | None
    line: int
    static: bool
    returns_void: bool = False


@dataclass
class RewriteResult:
    """The output of :func:`pybpf.bcc.dialect.rewrite`.

    ``c_source`` compiles with :func:`pybpf.cc.compile` given ``include_dirs`` (the bcc
    compat headers). ``line_map[i]`` is the user's line of line ``i + 1`` of ``c_source``
    (0 for generated lines); ``#line`` directives make the compiler report user lines too.
    """

    c_source: str
    maps: list[BccMapDecl] = field(default_factory=list)
    probes: list[AutoProbe] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    functions: list[FunctionInfo] = field(default_factory=list)
    line_map: list[int] = field(default_factory=list)
    include_dirs: list[str] = field(default_factory=list)
    name: str = "<bcc>"

    def user_line(self, line: int) -> int:
        """The user's line of line ``line`` (1-based) of ``c_source`` (0 when generated)."""
        return self.line_map[line - 1] if 0 < line <= len(self.line_map) else 0

    def fallback_for(self, func_name: str) -> Fallback | None:
        """The fallback the function was rewritten with, None when it runs where it asked."""
        return next((f for f in self.fallbacks if f.func_name == func_name), None)

    def function(self, name: str) -> FunctionInfo:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(f"no function {name!r} in the program (it has: {', '.join(f.name for f in self.functions)})")

    def map(self, name: str) -> BccMapDecl:
        for m in self.maps:
            if m.name == name:
                return m
        raise KeyError(f"no map {name!r} (the text declares: {', '.join(m.name for m in self.maps) or 'none'})")


__all__ = ["AttachRequest", "AutoProbe", "BccMapDecl", "Fallback", "FunctionInfo", "ProbeKind", "RewriteError",
           "RewriteResult"]
