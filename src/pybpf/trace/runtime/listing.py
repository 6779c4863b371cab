"""``pybpf trace -l [pattern]`` and ``-lv``: the probes this machine offers, in bpftrace's format.

One line per probe (``tracepoint:sched:sched_switch``, ``uprobe:/bin/bash:readline``...);
under ``-lv`` each tracepoint is followed by its fields, four spaces in, as the format file
declares them (``    const char * filename``), without the ``common_`` ones.

The pattern is a glob (``*``, ``?``, ``[...]``). With a provider prefix (``tracepoint:``, ``t:``,
``uprobe:/bin/bash:``, ``fentry:``...) only that provider is listed; otherwise the pattern is
matched against every full probe name. Uprobe patterns need the binary
(``uprobe:/bin/bash:read*``) and list the binary's function symbols; ``usdt:/path`` lists its
USDT probes. ``fentry``/``fexit`` (and the ``kfunc``/``kretfunc`` aliases) list kernel BTF
functions, each followed by ``  (not attachable: <reason>)`` when this kernel cannot attach
fentry programs. ``kprobe`` lists ``available_filter_functions`` when tracefs lets us read it.

>>> sorted(list_probes("t:sched:sched_switch", sources=ListingSources(
...     tracepoints=lambda: [("sched", "sched_switch"), ("sched", "sched_wakeup")])))
['tracepoint:sched:sched_switch']
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ...errors import BPFError
from ..ast import ProbeType as P
from ..probes import HARDWARE_EVENTS, ITER_TARGETS, SOFTWARE_EVENTS

log = logging.getLogger("pybpf.trace.runtime.listing")

#: provider spellings accepted in a pattern (bpftrace's aliases)
ALIASES: dict[str, P] = {
    "tracepoint": P.TRACEPOINT, "t": P.TRACEPOINT, "rawtracepoint": P.RAWTRACEPOINT, "rt": P.RAWTRACEPOINT,
    "kprobe": P.KPROBE, "k": P.KPROBE, "kretprobe": P.KRETPROBE, "kr": P.KRETPROBE,
    "fentry": P.FENTRY, "f": P.FENTRY, "kfunc": P.FENTRY, "fexit": P.FEXIT, "fr": P.FEXIT, "kretfunc": P.FEXIT,
    "uprobe": P.UPROBE, "u": P.UPROBE, "uretprobe": P.URETPROBE, "ur": P.URETPROBE, "usdt": P.USDT, "U": P.USDT,
    "software": P.SOFTWARE, "s": P.SOFTWARE, "hardware": P.HARDWARE, "h": P.HARDWARE, "iter": P.ITER, "it": P.ITER,
    "profile": P.PROFILE, "p": P.PROFILE, "interval": P.INTERVAL, "i": P.INTERVAL,
}

#: the providers listed when no pattern or no provider is given (the others need a target)
_DEFAULT = (P.TRACEPOINT, P.SOFTWARE, P.HARDWARE, P.ITER, P.KPROBE)


class ListingError(BPFError):
    """A listing pattern cannot be served (e.g. a uprobe pattern without a binary)."""


def _all_tracepoints() -> list[tuple[str, str]]:
    from ... import tracefs
    return tracefs.all_tracepoints()


def _tracepoint_fields(category: str, name: str) -> list[str]:
    from ... import tracefs
    return [f.declaration for f in tracefs.tracepoint_format(category, name).fields
            if not f.name.startswith("common_")]


def _binary_functions(path: str) -> list[str]:
    from ...link._uprobe_resolve import BinaryImage, find_library
    return [s.name for s in BinaryImage.open(find_library(path)).symbols]


def _function_params(path: str) -> dict[str, list[str]]:
    from ..dwarfargs import list_functions
    from ...link._uprobe_resolve import find_library
    return {name: [f"{p.c_type} {p.name}" for p in fa.params] for name, fa in list_functions(find_library(path)).items()}


def _usdt_probes(path: str) -> list[tuple[str, str]]:
    from ...link.usdt import probes
    return [(p.provider, p.name) for p in probes(path)]


def _kernel_functions() -> list[str]:
    from ...btf import Kind, kernel_btf
    btf = kernel_btf()
    return [btf.name_of(i) for i in range(1, len(btf)) if btf.kind_of(i) is Kind.FUNC]


def _fentry_refusal() -> str | None:
    from ... import features
    r = features.attach("fentry")
    return None if r.supported else r.reason


def _kprobe_functions() -> list[str]:
    from ... import tracefs
    path = tracefs.root() / "available_filter_functions"
    try:
        text = path.read_text()
    except OSError as exc:
        log.warning("cannot list kprobes: %s: %s", path, exc.strerror)
        return []
    return [line.split()[0] for line in text.splitlines() if line and not line.startswith("__ftrace_invalid")]


@dataclass
class ListingSources:
    """Where listings come from; tests replace these with fixed data."""

    tracepoints: Callable[[], list[tuple[str, str]]] = _all_tracepoints
    tracepoint_fields: Callable[[str, str], list[str]] = _tracepoint_fields
    binary_functions: Callable[[str], list[str]] = _binary_functions
    #: function -> its parameters (``const char * s``) from the binary's DWARF (``-lv``)
    function_params: Callable[[str], dict[str, list[str]]] = _function_params
    usdt_probes: Callable[[str], list[tuple[str, str]]] = _usdt_probes
    kernel_functions: Callable[[], list[str]] = _kernel_functions
    fentry_refusal: Callable[[], str | None] = _fentry_refusal
    kprobe_functions: Callable[[], list[str]] = _kprobe_functions
    software_events: tuple[str, ...] = field(default=SOFTWARE_EVENTS)
    hardware_events: tuple[str, ...] = field(default=HARDWARE_EVENTS)
    iter_targets: tuple[str, ...] = field(default=ITER_TARGETS)


@dataclass(frozen=True)
class Listed:
    """One probe of a listing: its full ``name``, an optional ``note`` and ``-lv`` ``details``."""

    name: str
    note: str = ""
    details: tuple[str, ...] = ()

    def lines(self, verbose: bool) -> list[str]:
        head = f"{self.name}  ({self.note})" if self.note else self.name
        return [head] + ([f"    {d}" for d in self.details] if verbose else [])


def _split(pattern: str | None) -> tuple[P | None, str]:
    """(provider, rest of the pattern) — provider None when the pattern does not name one."""
    if not pattern:
        return None, "*"
    head, sep, rest = pattern.partition(":")
    if sep and head in ALIASES:
        return ALIASES[head], rest or "*"
    return None, pattern


def _matcher(glob: str) -> Callable[[str], bool]:
    rx = re.compile(fnmatch.translate(glob))
    return lambda s: rx.match(s) is not None


def _target_and_func(rest: str, provider: P) -> tuple[str, str]:
    target, sep, func = rest.rpartition(":")
    if not sep or not target:
        raise ListingError(f"{provider} listing needs a binary: use '{provider}:/path/to/binary:PATTERN' "
                           f"(e.g. '{provider}:/bin/bash:read*')")
    return target, func or "*"


class _Lister:
    def __init__(self, sources: ListingSources, verbose: bool) -> None:
        self.src = sources
        self.verbose = verbose
        self.remarks: list[str] = []

    def tracepoint(self, rest: str) -> Iterator[Listed]:
        match = _matcher(rest)
        for cat, name in sorted(self.src.tracepoints(), key=lambda cn: f"{cn[0]}:{cn[1]}"):
            if match(f"{cat}:{name}"):
                details = tuple(self.src.tracepoint_fields(cat, name)) if self.verbose else ()
                yield Listed(f"tracepoint:{cat}:{name}", details=details)

    def rawtracepoint(self, rest: str) -> Iterator[Listed]:
        match = _matcher(rest)
        for name in sorted({name for _, name in self.src.tracepoints()}):
            if match(name):
                yield Listed(f"rawtracepoint:{name}")

    def _fixed(self, provider: P, names: Iterable[str], rest: str) -> Iterator[Listed]:
        match = _matcher(rest)
        for name in sorted(names):
            if match(name) or match(f"{name}:"):
                yield Listed(f"{provider}:{name}:")

    def software(self, rest: str) -> Iterator[Listed]:
        return self._fixed(P.SOFTWARE, self.src.software_events, rest)

    def hardware(self, rest: str) -> Iterator[Listed]:
        return self._fixed(P.HARDWARE, self.src.hardware_events, rest)

    def iter(self, rest: str) -> Iterator[Listed]:
        match = _matcher(rest)
        return (Listed(f"iter:{t}") for t in sorted(self.src.iter_targets) if match(t))

    def kprobe(self, rest: str) -> Iterator[Listed]:
        match = _matcher(rest)
        return (Listed(f"kprobe:{f}") for f in sorted(set(self.src.kprobe_functions())) if match(f))

    def fentry(self, rest: str, provider: P = P.FENTRY) -> Iterator[Listed]:
        match = _matcher(rest)
        refusal = self.src.fentry_refusal()
        note = ""
        if refusal:
            note = "not attachable on this kernel"
            self.remarks.append(f"{provider} probes cannot be attached on this kernel: {refusal}; "
                                "use a tracepoint or a kprobe instead")
        return (Listed(f"{provider}:{f}", note) for f in sorted(set(self.src.kernel_functions())) if match(f))

    def uprobe(self, rest: str, provider: P = P.UPROBE) -> Iterator[Listed]:
        target, func = _target_and_func(rest, provider)
        match = _matcher(func)
        params = self.src.function_params(target) if self.verbose and provider is P.UPROBE else {}
        return (Listed(f"{provider}:{target}:{f}", details=tuple(params.get(f, ())))
                for f in sorted(set(self.src.binary_functions(target))) if match(f))

    def usdt(self, rest: str) -> Iterator[Listed]:
        target, _, probe = rest.partition(":")
        match = _matcher(probe or "*")
        names = sorted(set(self.src.usdt_probes(target)))
        return (Listed(f"usdt:{target}:{prov}:{name}") for prov, name in names
                if match(f"{prov}:{name}") or match(name))

    def provider(self, p: P, rest: str) -> Iterator[Listed]:
        table: dict[P, Callable[[str], Iterator[Listed]]] = {
            P.TRACEPOINT: self.tracepoint, P.RAWTRACEPOINT: self.rawtracepoint, P.SOFTWARE: self.software,
            P.HARDWARE: self.hardware, P.ITER: self.iter, P.KPROBE: self.kprobe,
            P.KRETPROBE: lambda r: (Listed("kretprobe" + x.name[len("kprobe"):]) for x in self.kprobe(r)),
            P.FENTRY: self.fentry, P.FEXIT: lambda r: self.fentry(r, P.FEXIT),
            P.UPROBE: self.uprobe, P.URETPROBE: lambda r: self.uprobe(r, P.URETPROBE), P.USDT: self.usdt,
        }
        if p not in table:
            raise ListingError(f"{p} probes cannot be listed; list one of: "
                               + ", ".join(sorted(str(k) for k in table)))
        return table[p](rest)


@dataclass(frozen=True)
class ProbeListing:
    """What ``-l`` prints (``lines``, to stdout) and ``remarks`` about it (for stderr, once each)."""

    lines: list[str]
    remarks: list[str]


def probe_listing(pattern: str | None = None, *, verbose: bool = False,
                  sources: ListingSources | None = None) -> ProbeListing:
    """The listing for ``pybpf trace -l [pattern]`` (``-lv`` with ``verbose``)."""
    lister = _Lister(sources or ListingSources(), verbose)
    provider, rest = _split(pattern)
    if provider is not None:
        found: Iterable[Listed] = lister.provider(provider, rest)
    else:
        match = _matcher(rest)
        found = (x for p in _DEFAULT for x in lister.provider(p, "*") if match(x.name))
    lines = [line for item in found for line in item.lines(verbose)]
    return ProbeListing(lines, list(dict.fromkeys(lister.remarks)))


def list_probes(pattern: str | None = None, *, verbose: bool = False,
                sources: ListingSources | None = None) -> list[str]:
    """The lines ``pybpf trace -l [pattern]`` (``-lv`` with ``verbose``) prints, in order."""
    return probe_listing(pattern, verbose=verbose, sources=sources).lines
