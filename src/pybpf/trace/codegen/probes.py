"""Per attach point: the BPF program's section (and so its type), and how its context is read
(tracepoint records, raw tracepoint ``u64 args[]``, x86-64 ``struct pt_regs`` for uprobes and
perf events)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from ...errors import NotSupportedError
from ..ast import AttachPoint, ProbeType as P
from .irgen import CodegenError

if TYPE_CHECKING:
    from ..semantic.model import EventLayout
    from .irgen import ProbeGen, Unit
    from .result import ProbeAttach

#: x86-64 ``struct pt_regs`` member offsets
PT_REGS = {
    "r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "rbp": 32, "bx": 40, "rbx": 40, "r11": 48,
    "r10": 56, "r9": 64, "r8": 72, "ax": 80, "rax": 80, "cx": 88, "rcx": 88, "dx": 96, "rdx": 96,
    "si": 104, "rsi": 104, "di": 112, "rdi": 112, "orig_ax": 120, "orig_rax": 120, "ip": 128, "rip": 128,
    "cs": 136, "flags": 144, "eflags": 144, "sp": 152, "rsp": 152, "ss": 160,
}
#: the System V calling convention: argument registers in order
ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")

SECTIONS: dict[P, Callable[[AttachPoint], str]] = {
    P.BEGIN: lambda ap: "raw_tracepoint/bpftrace_begin",
    P.END: lambda ap: "raw_tracepoint/bpftrace_end",
    P.TRACEPOINT: lambda ap: f"tracepoint/{ap.target}/{ap.func}",
    P.RAWTRACEPOINT: lambda ap: f"raw_tracepoint/{ap.func}",
    P.KPROBE: lambda ap: f"kprobe/{ap.func}",
    P.KRETPROBE: lambda ap: f"kretprobe/{ap.func}",
    P.FENTRY: lambda ap: f"fentry/{ap.func}",
    P.FEXIT: lambda ap: f"fexit/{ap.func}",
    P.UPROBE: lambda ap: "uprobe",
    P.URETPROBE: lambda ap: "uretprobe",
    P.USDT: lambda ap: "usdt",
    P.PROFILE: lambda ap: "perf_event",
    P.INTERVAL: lambda ap: "perf_event",
    P.SOFTWARE: lambda ap: "perf_event",
    P.HARDWARE: lambda ap: "perf_event",
    P.ITER: lambda ap: f"iter/{ap.func}",
    P.WATCHPOINT: lambda ap: "perf_event",
    P.ASYNCWATCHPOINT: lambda ap: "perf_event",
}

#: probes whose context starts with a ``struct pt_regs``
_REGS_CTX = frozenset({P.KPROBE, P.KRETPROBE, P.UPROBE, P.URETPROBE, P.USDT, P.PROFILE, P.SOFTWARE,
                       P.HARDWARE, P.INTERVAL, P.WATCHPOINT, P.ASYNCWATCHPOINT})
USER_PROBES = frozenset({P.UPROBE, P.URETPROBE, P.USDT})


def section(ap: AttachPoint) -> str:
    """The ELF section of the program for ``ap``."""
    try:
        return SECTIONS[ap.provider](ap)
    except KeyError:
        raise NotSupportedError(f"{ap.provider} probes are not supported by pybpf trace") from None


def program_name(index: int, ap: AttachPoint) -> str:
    """A short unique program name (the kernel keeps 15 characters)."""
    tail = re.sub(r"[^A-Za-z0-9_]", "_", ap.func or str(ap.provider))
    return f"p{index}_{tail}"[:15] if index < 100 else f"p{index}"


def user_context(g: ProbeGen) -> bool:
    return g.ap.provider in USER_PROBES


def reg(g: ProbeGen, name: str) -> ir.Value:
    """The value of register ``name`` in the probe's ``pt_regs`` context."""
    if g.ap.provider not in _REGS_CTX:
        raise CodegenError(f"registers are not available in {g.ap.provider} probes")
    if name not in PT_REGS:
        raise CodegenError(f"unknown register '{name}' (x86-64 pt_regs: {', '.join(sorted(PT_REGS))})")
    return g.load_int(g.gep(g.ctx, PT_REGS[name]), 8)


def arg(g: ProbeGen, n: int) -> ir.Value:
    """``argN``: a raw tracepoint argument or the N-th argument register."""
    if g.ap.provider is P.RAWTRACEPOINT:
        return g.load_int(g.gep(g.ctx, 8 * n), 8)
    if g.ap.provider is P.USDT:
        return usdt_arg(g, n)
    if n >= len(ARG_REGS):  # on the stack, above the return address
        from ..types import UINT64, AddrSpace
        from .exprs import read_scalar
        sp = reg(g, "sp")
        addr = g.b.add(sp, ir.Constant(ir.IntType(64), 8 * (n - len(ARG_REGS) + 1)))
        return read_scalar(g, addr, UINT64, AddrSpace.USER if user_context(g) else AddrSpace.KERNEL)
    return reg(g, ARG_REGS[n])


def retval(g: ProbeGen) -> ir.Value:
    return reg(g, "ax")


def ip(g: ProbeGen) -> ir.Value:
    return reg(g, "ip")


USDT_SPECS_MAP = "__pybpf_usdt_specs"  # what pybpf.link.usdt looks for in the program's maps
USDT_MAX_SPECS = 256


def usdt_sites(ap: AttachPoint) -> list[object]:
    """The sites of USDT probe ``ap`` (their argument specs come from ``.note.stapsdt``)."""
    from ...link.usdt import probes

    sites = probes(ap.target, ap.namespace or None, ap.func)
    if not sites:
        raise CodegenError(f"{ap.target} has no USDT probe {ap.namespace}:{ap.func}")
    return list(sites)


def usdt_arg(g: ProbeGen, n: int) -> ir.Value:
    """``argN`` of a USDT probe, read as its (first) site's argument spec says."""
    from ...link._usdt_spec import ArgKind
    from ..types import AddrSpace, IntType
    from .exprs import read_scalar

    sites = usdt_sites(g.ap)
    args = sites[0].args  # type: ignore[attr-defined]
    if any(s.args != args for s in sites[1:]):  # type: ignore[attr-defined]
        raise CodegenError(f"usdt {g.ap.func}: its sites pass arguments differently; not supported yet")
    if n >= len(args):
        raise CodegenError(f"usdt {g.ap.func} has {len(args)} arguments, arg{n} does not exist")
    spec = args[n]
    i64 = ir.IntType(64)
    if spec.kind is ArgKind.CONST:
        return ir.Constant(i64, spec.value & 0xFFFF_FFFF_FFFF_FFFF)
    regval = g.load_int(g.gep(g.ctx, spec.reg_off), 8)
    if spec.kind is ArgKind.REG_DEREF:
        addr = g.b.add(regval, ir.Constant(i64, spec.value & 0xFFFF_FFFF_FFFF_FFFF))
        return read_scalar(g, addr, IntType(8 * spec.size, spec.signed), AddrSpace.USER)
    if spec.size == 8:
        return regval
    narrow = g.b.trunc(regval, ir.IntType(8 * spec.size))
    return g.b.sext(narrow, i64) if spec.signed else g.b.zext(narrow, i64)


#: signal a synchronous watchpoint stops the traced process with until its watchpoint is set
SIGSTOP = 19


def emit_watch_setup(unit: Unit, attach: ProbeAttach, event: EventLayout) -> None:
    """The uprobe program of ``watchpoint:FUNC+argN``: on each call of FUNC it sends ``event``
    (the u64 in argN's register) to the runtime, which sets the watchpoint; a synchronous
    ``watchpoint`` also stops the process (SIGSTOP) so that nothing is missed before the runtime
    has set it and continued the process, as bpftrace does."""
    from . import maps as M
    from .helpers import I32, I64, PTR, Helper, call

    fn = ir.Function(unit.module, ir.FunctionType(I32, [PTR]), attach.watch_setup_program)
    fn.section = "uprobe"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    record = b.alloca(ir.ArrayType(I64, 2), name="watch")
    reg = ARG_REGS[attach.attach_point.offset or 0]
    slot = b.bitcast(b.gep(fn.args[0], [ir.Constant(I64, PT_REGS[reg])]), I64.as_pointer())
    zero = ir.Constant(I32, 0)
    b.store(ir.Constant(I64, event.id), b.gep(record, [zero, zero]))
    b.store(b.load(slot, align=8), b.gep(record, [zero, ir.Constant(I32, 1)]))
    call(b, Helper.RINGBUF_OUTPUT, unit.map_global(M.RINGBUF_NAME), b.bitcast(record, PTR),
         ir.Constant(I64, 16), ir.Constant(I64, 0))
    if attach.kind is P.WATCHPOINT:
        call(b, Helper.SEND_SIGNAL, ir.Constant(I64, SIGSTOP))
    b.ret(ir.Constant(I32, 0))
