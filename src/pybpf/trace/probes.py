"""Attach point specs: split ``provider:target:func`` text into an :class:`ast.AttachPoint`,
and expand wildcards against the system (tracefs events, ELF symbols).
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable

from .ast import AttachPoint, ProbeType, Span
from .errors import TraceSemanticError, TraceSyntaxError

log = logging.getLogger("pybpf.trace.probes")

#: every spelling of a provider -> its canonical name
PROVIDER_ALIASES: dict[str, ProbeType] = {
    "BEGIN": ProbeType.BEGIN, "END": ProbeType.END,
    "tracepoint": ProbeType.TRACEPOINT, "t": ProbeType.TRACEPOINT,
    "rawtracepoint": ProbeType.RAWTRACEPOINT, "rt": ProbeType.RAWTRACEPOINT,
    "kprobe": ProbeType.KPROBE, "k": ProbeType.KPROBE,
    "kretprobe": ProbeType.KRETPROBE, "kr": ProbeType.KRETPROBE,
    "fentry": ProbeType.FENTRY, "kfunc": ProbeType.FENTRY, "f": ProbeType.FENTRY,
    "fexit": ProbeType.FEXIT, "kretfunc": ProbeType.FEXIT, "fr": ProbeType.FEXIT,
    "uprobe": ProbeType.UPROBE, "u": ProbeType.UPROBE,
    "uretprobe": ProbeType.URETPROBE, "ur": ProbeType.URETPROBE,
    "usdt": ProbeType.USDT, "U": ProbeType.USDT,
    "profile": ProbeType.PROFILE, "p": ProbeType.PROFILE,
    "interval": ProbeType.INTERVAL, "i": ProbeType.INTERVAL,
    "software": ProbeType.SOFTWARE, "s": ProbeType.SOFTWARE,
    "hardware": ProbeType.HARDWARE, "h": ProbeType.HARDWARE,
    "iter": ProbeType.ITER, "it": ProbeType.ITER,
    "watchpoint": ProbeType.WATCHPOINT, "w": ProbeType.WATCHPOINT,
    "asyncwatchpoint": ProbeType.ASYNCWATCHPOINT, "aw": ProbeType.ASYNCWATCHPOINT,
}

PROFILE_UNITS = ("hz", "s", "ms", "us")
INTERVAL_UNITS = ("s", "ms", "us", "hz")

SOFTWARE_EVENTS = ("cpu-clock", "cpu", "task-clock", "page-faults", "faults", "context-switches", "cs",
                   "cpu-migrations", "migrations", "minor-faults", "major-faults", "alignment-faults",
                   "emulation-faults", "dummy", "bpf-output")
HARDWARE_EVENTS = ("cpu-cycles", "cycles", "instructions", "cache-references", "cache-misses",
                   "branch-instructions", "branches", "branch-misses", "bus-cycles", "frontend-stalls",
                   "backend-stalls", "ref-cycles")
ITER_TARGETS = ("task", "task_file", "task_vma")
#: integer argument registers of the calling convention (x86-64 System V): argN of a
#: watchpoint:FUNC+argN is read from one of them
ARG_REGISTERS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")


def split_parts(raw: str) -> list[str]:
    """Split on ``:`` outside double quotes, removing the quotes."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for c in raw:
        if c == '"':
            quoted = not quoted
        elif c == ":" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


class _Ctx:
    def __init__(self, raw: str, span: Span, source: str, filename: str) -> None:
        self.raw, self.span, self.source, self.filename = raw, span, source, filename

    def error(self, message: str) -> TraceSyntaxError:
        return TraceSyntaxError(message, self.span, source=self.source, filename=self.filename)

    def number(self, text: str, what: str) -> int:
        try:
            value = int(text.replace("_", ""), 0)
        except ValueError:
            try:
                value = int(float(text))  # 1e6
            except ValueError:
                raise self.error(f"{what} must be an integer, not '{text}'") from None
        if value < 0:
            raise self.error(f"{what} must not be negative")
        return value


def _args(ctx: _Ctx, provider: str, parts: list[str], counts: Iterable[int]) -> None:
    counts = tuple(counts)
    if len(parts) not in counts:
        want = " or ".join(str(c) for c in counts)
        raise ctx.error(f"{provider} probe type requires {want} arguments")


def _ap_simple(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, str(p), parts, (0,))
    return {}


def _ap_tracepoint(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, "tracepoint", parts, (2,))
    if not parts[0] or not parts[1]:
        raise ctx.error("tracepoint probe needs a category and a name: tracepoint:CATEGORY:NAME")
    return {"target": parts[0], "func": parts[1]}


def _func_offset(ctx: _Ctx, text: str) -> tuple[str, int | None]:
    if "+" in text:
        func, off = text.rsplit("+", 1)
        return func, ctx.number(off, "probe offset")
    return text, None


def _ap_kernel_func(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, str(p), parts, (1, 2))
    target = parts[0] if len(parts) == 2 else ""
    func, off = _func_offset(ctx, parts[-1])
    if not func:
        raise ctx.error(f"{p} probe needs a function name")
    if off is not None and p not in (ProbeType.KPROBE,):
        raise ctx.error(f"{p} probes do not take an offset")
    return {"target": target, "func": func, "offset": off}


def _ap_rawtracepoint(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, "rawtracepoint", parts, (1, 2))
    if not parts[-1]:
        raise ctx.error("rawtracepoint probe needs a tracepoint name")
    return {"target": parts[0] if len(parts) == 2 else "", "func": parts[-1]}


def _ap_uprobe(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, str(p), parts, (2,))
    binary, spec = parts
    if not binary:
        raise ctx.error(f"{p} probe needs a binary or library: {p}:BINARY:FUNCTION")
    if not spec:
        raise ctx.error(f"{p} probe needs a function, an address or an offset: {p}:BINARY:FUNCTION")
    if spec[0].isdigit():
        return {"target": binary, "address": ctx.number(spec, "address")}
    func, off = _func_offset(ctx, spec)
    if off is not None and p is ProbeType.URETPROBE:
        raise ctx.error("uretprobe probes do not take an offset")
    return {"target": binary, "func": func, "offset": off}


def _ap_usdt(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, "usdt", parts, (2, 3))
    if len(parts) == 3:
        return {"target": parts[0], "namespace": parts[1], "func": parts[2]}
    return {"target": parts[0], "func": parts[1]}


def _ap_timer(units: tuple[str, ...]) -> Callable[[_Ctx, ProbeType, list[str]], dict[str, object]]:
    def parse(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
        _args(ctx, str(p), parts, (2,))
        unit, count = parts
        if unit not in units:
            raise ctx.error(f"{unit} is not an accepted unit for {p} probes (use one of: {', '.join(units)})")
        freq = ctx.number(count, f"{p} rate")
        if freq == 0:
            raise ctx.error(f"{p} rate must be positive")
        return {"unit": unit, "freq": freq}
    return parse


def _ap_perf(events: tuple[str, ...]) -> Callable[[_Ctx, ProbeType, list[str]], dict[str, object]]:
    def parse(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
        _args(ctx, str(p), parts, (1, 2))
        if parts[0] not in events:
            raise ctx.error(f"{parts[0]} is not a {p} event (one of: {', '.join(events)})")
        freq = ctx.number(parts[1], "sample period") if len(parts) == 2 else 0
        return {"func": parts[0], "freq": freq}
    return parse


def _ap_iter(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, "iter", parts, (1, 2))
    if parts[0] not in ITER_TARGETS:
        raise ctx.error(f"iter:{parts[0]} is not supported (use one of: {', '.join(ITER_TARGETS)})")
    if len(parts) == 2:
        raise ctx.error(f"iter:{parts[0]}:{parts[1]}: pinning an iterator is not supported by pybpf trace (its "
                        f"printf output goes through the ring buffer, not the iterator's file); run "
                        f"iter:{parts[0]} without a pin: it prints one pass and exits")
    return {"func": parts[0]}


def _ap_watchpoint(ctx: _Ctx, p: ProbeType, parts: list[str]) -> dict[str, object]:
    _args(ctx, str(p), parts, (3,))
    mode = parts[2]
    if not mode or any(c not in "rwx" for c in mode):
        raise ctx.error(f"watchpoint mode must be made of r, w and x, not '{mode}'")
    length = ctx.number(parts[1], "watchpoint length")
    func = re.fullmatch(r"([A-Za-z_][\w.]*)\+arg(\d+)", parts[0])
    if func:  # the address the function is given as argument N, watched from its first call
        n = int(func.group(2))
        if n >= len(ARG_REGISTERS):
            raise ctx.error(f"{p}: arg{n} is not passed in a register; watch one of arg0..arg{len(ARG_REGISTERS) - 1}")
        return {"func": func.group(1), "offset": n, "length": length, "mode": mode}
    return {"address": ctx.number(parts[0], "watchpoint address"), "length": length, "mode": mode}


_PARSERS: dict[ProbeType, Callable[[_Ctx, ProbeType, list[str]], dict[str, object]]] = {
    ProbeType.BEGIN: _ap_simple, ProbeType.END: _ap_simple,
    ProbeType.TRACEPOINT: _ap_tracepoint, ProbeType.RAWTRACEPOINT: _ap_rawtracepoint,
    ProbeType.KPROBE: _ap_kernel_func, ProbeType.KRETPROBE: _ap_kernel_func,
    ProbeType.FENTRY: _ap_kernel_func, ProbeType.FEXIT: _ap_kernel_func,
    ProbeType.UPROBE: _ap_uprobe, ProbeType.URETPROBE: _ap_uprobe,
    ProbeType.USDT: _ap_usdt,
    ProbeType.PROFILE: _ap_timer(PROFILE_UNITS), ProbeType.INTERVAL: _ap_timer(INTERVAL_UNITS),
    ProbeType.SOFTWARE: _ap_perf(SOFTWARE_EVENTS), ProbeType.HARDWARE: _ap_perf(HARDWARE_EVENTS),
    ProbeType.ITER: _ap_iter,
    ProbeType.WATCHPOINT: _ap_watchpoint, ProbeType.ASYNCWATCHPOINT: _ap_watchpoint,
}


def parse_attach_point(raw: str, span: Span, *, source: str = "", filename: str = "stdin") -> AttachPoint:
    """Split attach point text (``t:syscalls:sys_enter_*``) into an :class:`AttachPoint`."""
    ctx = _Ctx(raw, span, source, filename)
    parts = split_parts(raw)
    name = parts[0]
    provider = PROVIDER_ALIASES.get(name)
    if provider is None:
        raise ctx.error(f"Invalid probe type: {name}")
    fields = _PARSERS[provider](ctx, provider, parts[1:])
    return AttachPoint(raw, provider, span=span, **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- expansion


def expand_tracepoints(ap: AttachPoint, events: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(category, name)`` pairs of ``events`` that ``ap`` (possibly a wildcard) matches."""
    return sorted((c, n) for c, n in events
                  if fnmatch.fnmatchcase(c, ap.target) and fnmatch.fnmatchcase(n, ap.func))


def expand_symbols(ap: AttachPoint, symbols: Iterable[str]) -> list[str]:
    """The names in ``symbols`` that ``ap.func`` (possibly a wildcard) matches, sorted."""
    return sorted({s for s in symbols if fnmatch.fnmatchcase(s, ap.func)})


def system_tracepoints(ap: AttachPoint) -> list[tuple[str, str]]:
    """Expand a tracepoint attach point against tracefs; raises when nothing matches."""
    from .. import tracefs

    if not ap.wildcard:
        if tracefs.tracepoint_exists(ap.target, ap.func):
            return [(ap.target, ap.func)]
        found: list[tuple[str, str]] = []
    else:
        found = expand_tracepoints(ap, tracefs.all_tracepoints())
    if not found:
        hint = ""
        if not ap.wildcard:
            similar = tracefs.similar_tracepoints(ap.target, ap.func)
            if similar:
                hint = f" (did you mean: {', '.join(similar[:4])}?)"
        raise TraceSemanticError(f"No tracepoints match {ap.raw}{hint}; list them with `pybpf trace -l 'tracepoint:*'`",
                                 ap.span)
    return found


def elf_function_symbols(path: str) -> list[str]:
    """Names of the defined function symbols of an ELF file (``.symtab`` and ``.dynsym``)."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    names: set[str] = set()
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                if sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and sym["st_shndx"] != "SHN_UNDEF":
                    names.add(sym.name.split("@")[0])
    return sorted(names)
