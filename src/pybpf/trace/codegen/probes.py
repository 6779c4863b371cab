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
    from .irgen import ProbeGen

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
}

#: probes whose context starts with a ``struct pt_regs``
_REGS_CTX = frozenset({P.KPROBE, P.KRETPROBE, P.UPROBE, P.URETPROBE, P.USDT, P.PROFILE, P.SOFTWARE,
                       P.HARDWARE, P.INTERVAL})
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
        raise CodegenError("usdt arguments are not supported by this compiler yet")
    if n >= len(ARG_REGS):
        from .helpers import Helper, call  # stack arguments: sp + 8 * (n - 5)
        from .exprs import read_scalar
        from ..types import UINT64, AddrSpace
        sp = reg(g, "sp")
        addr = g.b.add(sp, ir.Constant(ir.IntType(64), 8 * (n - len(ARG_REGS) + 1)))
        del Helper, call
        return read_scalar(g, addr, UINT64, AddrSpace.USER if user_context(g) else AddrSpace.KERNEL)
    return reg(g, ARG_REGS[n])


def retval(g: ProbeGen) -> ir.Value:
    return reg(g, "ax")


def ip(g: ProbeGen) -> ir.Value:
    return reg(g, "ip")
