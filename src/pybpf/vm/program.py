"""``VMProgram``: a program of a VM collection, run with :meth:`VMProgram.test_run` exactly like
the kernel's ``Program.test_run`` (same arguments, same :class:`~pybpf._sys.TestRunResult`)."""

from __future__ import annotations

import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from .._lifetime import Finalized, nothing_to_release
from .._sys import TestRunResult
from ..enums import ProgramType
from ..program_run import TestRunArgumentError
from .contexts import build_context
from .interpreter import CompiledProgram, compile_program
from .memory import VMError
from .runtime import RunState

if TYPE_CHECKING:
    from ..isa import Instruction
    from ..spec import ProgramSpec
    from .runtime import Runtime

log = logging.getLogger("pybpf.vm")

__all__ = ["VMProgram"]

#: verdict names by program type, for summaries
XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


class VMProgram(Finalized):
    """A program loaded into the VM. Compiled to Python on its first run."""

    def __init__(self, runtime: Runtime, name: str, prog_type: ProgramType, instructions: list[Instruction],
                 *, spec: ProgramSpec | None = None) -> None:
        self.runtime = runtime
        self.name = name
        self.type = ProgramType(prog_type)
        self.instructions = instructions
        self.spec = spec
        self.handle = runtime.new_handle()
        runtime.programs[self.handle] = self
        self._compiled: CompiledProgram | None = None
        self._finalizer = weakref.finalize(self, nothing_to_release)
        #: the redirect a program requested in its last run, if any
        self.last_redirect: tuple[Any, ...] | None = None

    @property
    def fd(self) -> int:
        """The program's handle (what a prog array stores)."""
        return self.handle

    def fileno(self) -> int:
        return self.handle

    def __repr__(self) -> str:
        return f"<VMProgram {self.type.name} {self.name!r} {len(self.instructions)} instructions>"

    def compiled(self) -> CompiledProgram:
        """The program translated to Python (translated once, on first use)."""
        if self._compiled is None:
            from .jit import compile_for  # the tier choice (JIT or interpreter) lives in vm.jit

            self._compiled = compile_for(self)
        return self._compiled

    def count_instructions(self, data: bytes | None = None, *, ctx: bytes | None = None) -> int:
        """How many instructions one run on ``data``/``ctx`` executes (helpers count as one;
        tail-called programs are not counted)."""
        counter = [0]
        counted = compile_program(self.name, self.instructions, self.runtime, self.runtime.resolve_ld64,
                                  counter=counter)
        saved, self._compiled = self._compiled, counted
        try:
            self.test_run(data, ctx=ctx)
        finally:
            self._compiled = saved
        return counter[0]

    @property
    def source(self) -> str:
        """The generated Python source (for debugging)."""
        return self.compiled().source

    def test_run(self, data: bytes | None = None, *, ctx: bytes | None = None, repeat: int = 1,
                 data_out_size: int | None = None, ctx_out_size: int | None = None,
                 cpu: int | None = None) -> TestRunResult:
        """Run the program ``repeat`` times on ``data``/``ctx``, like BPF_PROG_TEST_RUN.

        ``retval`` is r0's low 32 bits, ``data_out`` the packet afterwards, ``ctx_out`` the
        context when one was given, ``duration_ns`` the mean wall time of one run. ``cpu``
        runs it as that CPU of the VM (``runtime.cpu`` is restored afterwards).
        Raises :class:`~pybpf.vm.VMError` when the program faults.
        """
        rt = self.runtime
        if cpu is not None:
            if not 0 <= cpu < rt.ncpus:
                raise TestRunArgumentError(
                    f"cpu {cpu} is not a CPU of this VM (it has {rt.ncpus}: pybpf.vm.load(ncpus=...))")
            saved_cpu, rt.cpu = rt.cpu, cpu
            try:
                return self.test_run(data, ctx=ctx, repeat=repeat, data_out_size=data_out_size,
                                     ctx_out_size=ctx_out_size)
            finally:
                rt.cpu = saved_cpu
        compiled = self.compiled()
        entry = compiled.entry
        prepared = build_context(self.type, rt.memory, data, ctx)
        rt.state = state = RunState(program=self, ctx=prepared.address, packet=prepared.packet,
                                    redirect_ret=prepared.redirect_ret)
        r1 = prepared.address
        runs = max(repeat, 1)
        r0 = 0
        start = time.perf_counter_ns()
        try:
            if compiled.tail_calls:
                for _ in range(runs):
                    state.tail_calls = 0
                    r0 = entry(r1, 0, 0, 0, 0, 0)
            else:  # the count stays 0: a program without tail calls never tail-calls another
                for _ in range(runs):
                    r0 = entry(r1, 0, 0, 0, 0, 0)
        except VMError as exc:
            if not exc.program:
                raise VMError(exc.detail, pc=exc.pc, address=exc.address, program=self.name) from None
            raise
        except RecursionError:
            raise VMError("the program recursed too deeply (runaway callbacks)", program=self.name) from None
        finally:
            rt.memory.collect()
        elapsed = time.perf_counter_ns() - start
        self.last_redirect = state.redirect
        data_out = prepared.packet.output() if prepared.packet is not None and data is not None else b""
        if data_out_size is not None:
            data_out = data_out[:data_out_size]
        ctx_out = prepared.ctx_out()
        if ctx_out_size is not None:
            ctx_out = ctx_out[:ctx_out_size]
        return TestRunResult(retval=r0 & 0xFFFFFFFF, data_out=data_out, ctx_out=ctx_out,
                             duration_ns=elapsed // runs)

    def run(self, ctx_address: int = 0) -> int:
        """Call the program with ``r1 = ctx_address`` (any mapped address); returns r0 (64 bits)."""
        rt = self.runtime
        entry = self.compiled().entry
        rt.state = RunState(program=self, ctx=ctx_address)
        try:
            return entry(ctx_address, 0, 0, 0, 0, 0)
        except VMError as exc:
            if not exc.program:
                raise VMError(exc.detail, pc=exc.pc, address=exc.address, program=self.name) from None
            raise
        finally:
            rt.memory.collect()
