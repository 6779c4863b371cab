"""``test_run_native``: ``VMProgram.test_run`` with the repeat loop in native code.

``VMProgram.test_run(repeat=N)`` enters the program from Python N times (a few hundred
nanoseconds each, plus the per-run bookkeeping); for a JIT-compiled program the loop can run in
native code instead, as the kernel's BPF_PROG_TEST_RUN does in the kernel. The runs see each
other's effects exactly as with ``test_run`` (the same packet and context, maps updated in
place); what is not repeated per run is the Python-side bookkeeping, so programs that make tail
calls (whose per-run limit is reset by ``test_run``) are refused.

``duration_ns`` is the thread's CPU time per run, not wall time: the kernel's test run stops its
timer while it is rescheduled, and on a busy machine wall time would mostly measure the other
tasks sharing the CPU.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..._sys import TestRunResult
from ..contexts import build_context
from ..interpreter import TAIL_CALL_HELPER
from ..memory import VMError
from ..runtime import RunState

if TYPE_CHECKING:
    from ..program import VMProgram

__all__ = ["test_run_native"]


def test_run_native(program: VMProgram, data: bytes | None = None, *, ctx: bytes | None = None,
                    repeat: int = 1) -> TestRunResult:
    """Run a JIT-compiled ``program`` ``repeat`` times from a native loop (see the module docstring).

    Raises :class:`~pybpf.vm.jit.JitUnsupported` when the program does not run in the JIT tier
    or makes tail calls, and :class:`~pybpf.vm.VMError` when it faults."""
    from . import JitUnsupported

    compiled = program.compiled()
    binding = getattr(compiled, "binding", None)
    if binding is None:
        raise JitUnsupported(f"program {program.name!r} runs in the interpreter; use test_run()")
    if TAIL_CALL_HELPER in binding.native.helper_ids:
        raise JitUnsupported(f"program {program.name!r} makes tail calls; use test_run()")
    rt = program.runtime
    prepared = build_context(program.type, rt.memory, data, ctx)
    rt.state = RunState(program=program, ctx=prepared.address, packet=prepared.packet,
                        redirect_ret=prepared.redirect_ret)
    runs = max(repeat, 1)
    start = time.thread_time_ns()
    try:
        r0 = binding.repeat(prepared.address, runs)
    except VMError as exc:
        if not exc.program:
            raise VMError(exc.detail, pc=exc.pc, address=exc.address, program=program.name) from None
        raise
    finally:
        rt.memory.collect()
    elapsed = time.thread_time_ns() - start
    program.last_redirect = rt.state.redirect
    data_out = prepared.packet.output() if prepared.packet is not None and data is not None else b""
    return TestRunResult(retval=r0 & 0xFFFFFFFF, data_out=data_out, ctx_out=prepared.ctx_out(),
                         duration_ns=elapsed // runs)
