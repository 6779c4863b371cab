"""``pybpf.vm``: run eBPF in userspace — no kernel support, no privileges.

The same object that loads into the kernel runs here: :func:`load` gives a
:class:`VMCollection` with ``.programs`` (``test_run`` like the kernel's) and ``.maps`` (the
kernel ``Map`` API). Programs are translated to Python once and bounds-checked on every
memory access (:class:`VMError` names the instruction and address).

>>> import pybpf.vm                                           # doctest: +SKIP
>>> with pybpf.vm.load("xdp_parse.bpf.o") as obj:
...     obj.programs["parse"].test_run(data=packet).retval

Lower level: :func:`run_instructions` runs raw instructions without an ELF object.
"""

from __future__ import annotations

from .._sys import TestRunResult
from ..enums import ProgramType
from ..isa import Instruction
from .collection import VMCollection, load
from .memory import Memory, VMError
from .program import VMProgram
from .runtime import Runtime, TaskContext

__all__ = ["load", "VMCollection", "VMProgram", "VMError", "Runtime", "TaskContext", "Memory",
           "TestRunResult", "program_from_instructions"]


def program_from_instructions(insns: list[Instruction], prog_type: ProgramType = ProgramType.SOCKET_FILTER, *,
                              name: str = "prog", runtime: Runtime | None = None) -> VMProgram:
    """A VM program from already-relocated instructions (``pybpf.isa.assemble`` output).

    >>> from pybpf.isa import assemble
    >>> p = program_from_instructions(assemble("r0 = 7\\nexit"), ProgramType.XDP)
    >>> p.test_run(bytes(14)).retval
    7
    """
    return VMProgram(runtime or Runtime(), name, prog_type, list(insns))
