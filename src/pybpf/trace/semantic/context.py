"""Probe contexts: wildcard expansion, the type of ``args``, and which builtins each probe allows."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ... import errors as _errors
from ...tracefs import TracepointFormat
from .. import ast as A
from ..ast import ProbeType as P
from ..errors import TraceSemanticError
from ..probes import expand_symbols, expand_tracepoints
from ..types import (
    AddrSpace, ArrayType, Field, IntType, PointerType, RecordType, StringType, Type, VoidType,
)
from . import btftypes
from .model import ContextKind, Env, ProbeInfo

if TYPE_CHECKING:
    from ...btf import BTF

log = logging.getLogger("pybpf.trace.semantic")

CONTEXT_KINDS: dict[P, ContextKind] = {
    P.BEGIN: ContextKind.NONE, P.END: ContextKind.NONE,
    P.TRACEPOINT: ContextKind.TRACEPOINT, P.RAWTRACEPOINT: ContextKind.RAW_TP,
    P.KPROBE: ContextKind.PT_REGS, P.KRETPROBE: ContextKind.PT_REGS,
    P.UPROBE: ContextKind.PT_REGS, P.URETPROBE: ContextKind.PT_REGS, P.USDT: ContextKind.PT_REGS,
    P.FENTRY: ContextKind.BTF_ARGS, P.FEXIT: ContextKind.BTF_ARGS,
    P.PROFILE: ContextKind.PERF, P.INTERVAL: ContextKind.PERF, P.SOFTWARE: ContextKind.PERF,
    P.HARDWARE: ContextKind.PERF, P.WATCHPOINT: ContextKind.PERF, P.ASYNCWATCHPOINT: ContextKind.PERF,
    P.ITER: ContextKind.ITER,
}
RETURN_PROBES = frozenset({P.KRETPROBE, P.URETPROBE, P.FEXIT})
USER_PROBES = frozenset({P.UPROBE, P.URETPROBE, P.USDT})
KERNEL_FUNC_PROBES = frozenset({P.KPROBE, P.KRETPROBE, P.FENTRY, P.FEXIT})

#: builtin -> (probe types that allow it, bpftrace's message when used elsewhere)
BUILTIN_RULES: dict[str, tuple[frozenset[P], str]] = {
    "argN": (frozenset({P.KPROBE, P.UPROBE, P.USDT, P.RAWTRACEPOINT}),
             "The {name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"),
    "sargN": (frozenset({P.KPROBE, P.UPROBE, P.USDT}),
              "The {name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"),
    "retval": (RETURN_PROBES,
               "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes{hint}"),
    "args": (frozenset({P.TRACEPOINT, P.FENTRY, P.FEXIT, P.UPROBE}),
             "The args builtin can only be used with tracepoint/kfunc/uprobe probes ({probe} used here)"),
    "func": (KERNEL_FUNC_PROBES | USER_PROBES,
             "The func builtin can not be used with '{provider}' probes"),
}

_C_INTS = {"char": 8, "short": 16, "int": 32, "long": 64, "s8": 8, "u8": 8, "s16": 16, "u16": 16,
           "s32": 32, "u32": 32, "s64": 64, "u64": 64, "bool": 8, "size_t": 64, "pid_t": 32}


def builtin_rule_key(name: str) -> str:
    """The BUILTIN_RULES key for a builtin name (``arg3`` -> ``argN``)."""
    if re.fullmatch(r"arg\d+", name):
        return "argN"
    if re.fullmatch(r"sarg\d+", name):
        return "sargN"
    return name


def check_builtin(name: str, span: A.Span, aps: tuple[A.AttachPoint, ...], fail: type[TraceSemanticError],
                  source: str, filename: str) -> None:
    """Raise when builtin ``name`` cannot be used in a probe with attach points ``aps``."""
    rule = BUILTIN_RULES.get(builtin_rule_key(name))
    if rule is None:
        return
    allowed, message = rule
    for ap in aps:
        if ap.provider not in allowed:
            hint = " (try to use args->ret instead)" if ap.provider is P.TRACEPOINT else ""
            probe = "special" if ap.provider in (P.BEGIN, P.END) else str(ap.provider)
            raise fail(message.format(name=name, hint=hint, probe=probe, provider=ap.provider), span,
                       source=source, filename=filename)


# --------------------------------------------------------------------------- tracepoint records


def _base_int(decl: str, size: int, signed: bool) -> Type:
    words = [w for w in re.split(r"[\s*]+", decl) if w and w not in ("const", "volatile", "unsigned", "signed")]
    for w in words:
        if w in _C_INTS:
            unsigned = "unsigned" in decl or w.startswith("u")
            return IntType(_C_INTS[w], not unsigned and w != "bool")
    return IntType(max(8, min(64, size * 8)), signed)


def _field_type(decl: str, size: int, signed: bool, btf: BTF | None, strlen: int) -> tuple[Type, bool]:
    """``(type, data_loc)`` for one format-file field declaration."""
    decl = decl.strip()
    if decl.startswith("__data_loc"):
        return StringType(strlen), True
    name_part = decl.split("[")[0]
    if "[" in decl:
        m = re.search(r"\[(\d*)\]", decl)
        count = int(m.group(1)) if m and m.group(1) else 0
        elem = _base_int(name_part, 1, signed)
        if re.search(r"(?<!unsigned )\bchar\b", name_part):
            return StringType(size or count), False
        n = count or max(1, size // max(1, elem.size))
        return ArrayType(elem, n), False
    if "*" in decl:
        m = re.search(r"\b(struct|union)\s+(\w+)", decl)
        if m:
            rec = btftypes.record_by_name(btf, f"{m.group(1)} {m.group(2)}") if btf is not None else None
            target: Type = rec or RecordType(f"{m.group(1)} {m.group(2)}", 0)
        elif re.search(r"\bvoid\b", decl):
            target = VoidType()
        else:
            target = _base_int(name_part.rsplit(" ", 1)[0], 1, signed)
        space = AddrSpace.USER if "__user" in decl else AddrSpace.KERNEL
        return PointerType(target, space), False
    if size > 8:
        return ArrayType(IntType(8, False), size), False
    return _base_int(decl, size, signed), False


def tracepoint_record(fmt: TracepointFormat, category: str, name: str, btf: BTF | None, strlen: int) -> RecordType:
    """The record type of ``args`` for tracepoint ``category:name``."""
    fields: list[Field] = []
    size = 0
    for f in fmt.fields:
        t, data_loc = _field_type(f.declaration, f.size, f.signed, btf, strlen)
        fields.append(Field(f.name, t, f.offset, data_loc=data_loc))
        size = max(size, f.offset + f.size)
    return RecordType(f"struct _tracepoint_{category}_{name}", size, tuple(fields))


# --------------------------------------------------------------------------- probes


class ContextBuilder:
    """Builds a :class:`ProbeInfo` for each probe of a program."""

    def __init__(self, env: Env, source: str, filename: str) -> None:
        self.env = env
        self.source = source
        self.filename = filename
        self._btf: BTF | None = None
        self._btf_tried = False
        #: (args record name, parameter) -> why ``args.<parameter>`` of a uprobe cannot be read
        self.unreadable_args: dict[tuple[str, str], str] = {}

    def error(self, message: str, span: A.Span) -> TraceSemanticError:
        return TraceSemanticError(message, span, source=self.source, filename=self.filename)

    def btf(self) -> BTF | None:
        """Kernel BTF, or None when there is none (reported once at debug level)."""
        if not self._btf_tried:
            self._btf_tried = True
            if self.env.btf is not None:
                try:
                    self._btf = self.env.btf()
                except _errors.BPFError as e:
                    log.debug("no kernel BTF: %s", e)
        return self._btf

    def probe_info(self, index: int, probe: A.Probe) -> ProbeInfo:
        aps: list[A.AttachPoint] = []
        for ap in probe.attach_points:
            aps.extend(self.expand(ap))
        first = probe.attach_points[0]
        kinds = {CONTEXT_KINDS[ap.provider] for ap in probe.attach_points}
        args = self.args_type(probe, tuple(aps)) if _uses_args(probe) else None
        return ProbeInfo(index, probe, tuple(aps), CONTEXT_KINDS[first.provider] if len(kinds) == 1 else kinds.pop(),
                         args, first.provider in RETURN_PROBES)

    def expand(self, ap: A.AttachPoint) -> list[A.AttachPoint]:
        if ap.provider is P.TRACEPOINT:
            return self._expand_tracepoint(ap)
        if ap.provider in (P.UPROBE, P.URETPROBE) and ap.wildcard and self.env.expand_wildcards \
                and self.env.elf_symbols is not None:
            try:
                symbols = self.env.elf_symbols(_resolve_binary(ap.target))
            except (OSError, _errors.BPFError, ValueError) as e:
                raise self.error(f"cannot read the symbols of {ap.target}: {e}", ap.span) from None
            names = expand_symbols(ap, symbols)
            if not names:
                raise self.error(f"No probes to attach: no function of {ap.target} matches '{ap.func}'", ap.span)
            return [replace(ap, func=n, raw=f"{ap.provider}:{ap.target}:{n}") for n in names]
        return [ap]

    def _expand_tracepoint(self, ap: A.AttachPoint) -> list[A.AttachPoint]:
        if not self.env.expand_wildcards:
            return [ap]
        if ap.wildcard:
            try:
                found = expand_tracepoints(ap, self.env.tracepoints())
            except _errors.BPFError as e:
                raise self.error(f"cannot list tracepoints: {e}", ap.span) from None
            if not found:
                raise self.error(f"tracepoint not found: {ap.target}:{ap.func}", ap.span)
            return [replace(ap, target=c, func=n, raw=f"tracepoint:{c}:{n}") for c, n in found]
        self._format(ap)  # raises when the tracepoint does not exist
        return [ap]

    def _format(self, ap: A.AttachPoint) -> TracepointFormat:
        try:
            return self.env.tracepoint_format(ap.target, ap.func)
        except _errors.BPFError:
            raise self.error(f"tracepoint not found: {ap.target}:{ap.func}", ap.span) from None
        except OSError as e:
            raise self.error(f"cannot read the format of tracepoint {ap.target}:{ap.func}: {e}", ap.span) from None

    def args_type(self, probe: A.Probe, aps: tuple[A.AttachPoint, ...]) -> Type | None:
        """The type of ``args`` (a record) for these attach points, None when untyped."""
        builders = {P.TRACEPOINT: self._tp_args, P.FENTRY: self._btf_args, P.FEXIT: self._btf_args,
                    P.UPROBE: self._uprobe_args}
        records: list[RecordType] = []
        for ap in aps:
            build = builders.get(ap.provider)
            if build is None or ap.wildcard or (ap.provider is P.UPROBE and not _uses_args(probe, ("args",))):
                return None
            records.append(build(ap))
        if not records:
            return None
        first = records[0]
        for other in records[1:]:
            if other.fields != first.fields and first.fields is not None:
                common = _common_fields(first, other)
                first = RecordType(first.name, first.size, common)
        return first

    def _tp_args(self, ap: A.AttachPoint) -> RecordType:
        return tracepoint_record(self._format(ap), ap.target, ap.func, self.btf(), self.env.strlen)

    def _btf_args(self, ap: A.AttachPoint) -> RecordType:
        btf = self.btf()
        params = btftypes.func_params(btf, ap.func) if btf is not None else None
        if params is None:
            raise self.error(f"no BTF for kernel function {ap.func}: its args are unknown", ap.span)
        fields = []
        for i, (pname, tid) in enumerate(params):
            if pname == "" and i == len(params) - 1:
                if ap.provider is P.FEXIT:
                    fields.append(Field("$retval", btftypes.to_type(btf, tid), 8 * i))  # type: ignore[arg-type]
                continue
            fields.append(Field(pname, btftypes.to_type(btf, tid), 8 * i))  # type: ignore[arg-type]
        return RecordType(f"struct _fentry_{ap.func}", 8 * len(fields), tuple(fields))


    def _uprobe_args(self, ap: A.AttachPoint) -> RecordType:
        """``args`` of a uprobe: a record laid over ``struct pt_regs`` whose fields are the argument
        registers, typed from the binary's DWARF."""
        from ..codegen.probes import PT_REGS

        try:
            fa = self.env.function_args(_resolve_library(ap.target), ap.func)
        except _errors.ELFError as e:
            raise self.error(str(e), ap.span) from None
        except OSError as e:
            raise self.error(f"cannot read {ap.target}: {e}", ap.span) from None
        record = f"struct {ap.func}_args"
        for p in fa.skipped:
            self.unreadable_args[(record, p.name)] = (
                f"{ap.func} ({p.c_type}) is not readable: pybpf reads the integer and pointer arguments passed "
                "in registers (not floating-point ones, structs passed by value, or what follows a struct with "
                "floating-point members); read it through a pointer or a register "
                "(reg(\"...\")) instead")
        fields = tuple(Field(p.name, p.type, PT_REGS[p.register]) for p in fa.readable if p.type is not None)
        return RecordType(record, PT_REGS_SIZE, fields)


#: ``sizeof(struct pt_regs)`` on x86-64
PT_REGS_SIZE = 168


def _resolve_binary(target: str) -> str:
    """A binary named without a path (``bash``) is looked up on PATH, as bpftrace does."""
    import shutil

    if "/" in target:
        return target
    return shutil.which(target) or target


def _resolve_library(target: str) -> str:
    """A binary on PATH (``bash``) or a library by name (``libc``), as uprobes resolve them."""
    path = _resolve_binary(target)
    if "/" in path:
        return path
    from ...link._uprobe_resolve import find_library

    try:
        return find_library(target)
    except _errors.BPFError:
        return path  # reading it fails with the name in the message


def _common_fields(a: RecordType, b: RecordType) -> tuple[Field, ...]:
    theirs = {f.name: f for f in b.fields or ()}
    return tuple(f for f in a.fields or () if theirs.get(f.name) == f)


def _uses_args(probe: A.Probe, names: tuple[str, ...] = ("args", "retval")) -> bool:
    return any(isinstance(n, A.Builtin) and n.name in names for n in A.walk(probe))
