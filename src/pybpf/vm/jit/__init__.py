"""The JIT tier of :mod:`pybpf.vm`: each program compiled to native code through llvmlite.

Results are identical to the reference interpreter (same r0, memory, maps and :class:`VMError`
messages); the tier is chosen per program when it is first run:

* ``Tier.AUTO`` (default): the interpreter for a program's first :data:`HOT_RUNS` runs, then
  the JIT when llvmlite is installed and lowers the program; else the interpreter, with the
  reason logged on ``pybpf.vm.jit``.
* ``Tier.INTERPRETER``: always the interpreter.
* ``Tier.JIT``: the JIT, falling back (with a warning) only when it cannot run the program.

Choose it for a block of code with :func:`use_tier`, for one runtime with ``runtime.tier =
Tier.JIT`` before its programs first run, or for the process with ``PYBPF_VM_TIER=interpreter``.

>>> from pybpf.isa import assemble                             # doctest: +SKIP
>>> from pybpf.vm import program_from_instructions
>>> from pybpf.vm.jit import Tier, use_tier, tier_of
>>> with use_tier(Tier.JIT):
...     prog = program_from_instructions(assemble("r0 = 6\\nr0 *= 7\\nexit"))
...     prog.run(), tier_of(prog)
(42, <Tier.JIT: 'jit'>)
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import logging
import os
from typing import TYPE_CHECKING, Iterator

from ..interpreter import BACK_EDGE_LIMIT, CompiledProgram, compile_program
from .engine import available, unavailable_reason
from .lower import JitUnsupported
from .run import test_run_native

if TYPE_CHECKING:
    from ..program import VMProgram

log = logging.getLogger("pybpf.vm.jit")

__all__ = ["Tier", "use_tier", "default_tier", "tier_of", "compile_for", "available", "unavailable_reason",
           "JitUnsupported", "TIER_ENV", "HOT_RUNS", "jit_compile", "test_run_native"]

#: environment variable naming the default tier ("auto", "interpreter" or "jit")
TIER_ENV = "PYBPF_VM_TIER"
#: under ``Tier.AUTO``, runs of a program in the interpreter before it is compiled to native code
HOT_RUNS = 32


class Tier(str, enum.Enum):
    """Which execution tier runs VM programs."""

    AUTO = "auto"
    INTERPRETER = "interpreter"
    JIT = "jit"


_tier: contextvars.ContextVar[Tier | None] = contextvars.ContextVar("pybpf_vm_tier", default=None)


def default_tier() -> Tier:
    """The tier in effect: :func:`use_tier`, else ``$PYBPF_VM_TIER``, else ``Tier.AUTO``."""
    chosen = _tier.get()
    if chosen is not None:
        return chosen
    env = os.environ.get(TIER_ENV, "").strip().lower()
    try:
        return Tier(env) if env else Tier.AUTO
    except ValueError:
        log.warning("%s=%r is not a tier (auto, interpreter, jit); using auto", TIER_ENV, env)
        return Tier.AUTO


@contextlib.contextmanager
def use_tier(tier: Tier | str) -> Iterator[Tier]:
    """Programs first run inside the block use ``tier`` (unless their runtime sets one)."""
    token = _tier.set(Tier(tier))
    try:
        yield Tier(tier)
    finally:
        _tier.reset(token)


def tier_of(program: VMProgram) -> Tier:
    """The tier that runs ``program`` now (compiling it if it has not run yet)."""
    return Tier.JIT if hasattr(program.compiled(), "binding") else Tier.INTERPRETER


def compile_for(program: VMProgram) -> CompiledProgram:
    """Compile ``program`` for the tier in effect (see the module docstring)."""
    rt = program.runtime
    tier = Tier(getattr(rt, "tier", None) or default_tier())

    def interpret() -> CompiledProgram:
        return compile_program(program.name, program.instructions, rt, rt.resolve_ld64, prog_type=program.type)

    interpreted = interpret() if tier != Tier.JIT else None
    if tier == Tier.INTERPRETER:
        assert interpreted is not None
        return interpreted
    if not available():
        log.log(logging.WARNING if tier == Tier.JIT else logging.DEBUG,
                "program %r runs in the interpreter: %s", program.name, unavailable_reason())
        return interpreted or interpret()
    if tier == Tier.JIT:
        return jit_compile(program, strict=True) or interpret()
    assert interpreted is not None
    return _tiering(program, interpreted)


def jit_compile(program: VMProgram, *, strict: bool = False) -> CompiledProgram | None:
    """``program`` compiled to native code, or None (logged) when the JIT cannot run it."""
    from .binding import bind_program
    from .engine import native_program

    rt = program.runtime
    try:
        native = native_program(program.name, program.instructions, rt.resolve_ld64,
                                back_edge_limit=getattr(rt, "back_edge_limit", BACK_EDGE_LIMIT))
    except JitUnsupported as exc:
        log.log(logging.WARNING if strict else logging.INFO,
                "program %r runs in the interpreter: the JIT does not support it (%s)", program.name, exc)
        return None
    return bind_program(native, program.name, program.instructions, rt, program.type)


def _tiering(program: VMProgram, interpreted: CompiledProgram) -> CompiledProgram:
    """``Tier.AUTO``: interpret the first :data:`HOT_RUNS` runs, then switch to native code (a
    compile costs tens of milliseconds: programs run a few times are not worth it)."""
    runs = 0
    native: CompiledProgram | None = None
    failed = False
    interp_entry = interpreted.entry

    def entry(r1: int, r2: int, r3: int, r4: int, r5: int, d: int) -> int:
        nonlocal runs, native, failed
        if native is not None:
            return native.entry(r1, r2, r3, r4, r5, d)
        runs += 1
        if runs >= HOT_RUNS and not failed:
            native = jit_compile(program)
            failed = native is None
            if native is not None:
                program._compiled = native  # later runs (and callbacks) use native code directly
                return native.entry(r1, r2, r3, r4, r5, d)
        return interp_entry(r1, r2, r3, r4, r5, d)

    return CompiledProgram(interpreted.name, entry, interpreted.functions, interpreted.source,
                           interpreted.insn_count, interpreted.slots)
