"""LLVM module -> BPF ELF object (llvmlite, target ``bpfel``) -> :class:`~pybpf.spec.ObjectSpec`."""

from __future__ import annotations

import logging
from functools import lru_cache

import llvmlite.binding as llvm
from llvmlite import ir

from ...errors import CompileError
from ...spec import ObjectSpec

log = logging.getLogger("pybpf.trace.codegen")

TRIPLE = "bpfel"
CPU = "v3"


@lru_cache(maxsize=1)
def _target_machine() -> llvm.TargetMachine:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu=CPU, opt=2, reloc="static", codemodel="small")


def optimize(mod: llvm.ModuleRef) -> None:
    """Run LLVM's -O2 pipeline on ``mod``."""
    tm = _target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=2)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)


def emit_object(module: ir.Module) -> tuple[str, bytes]:
    """The optimised IR text and the ELF object bytes of ``module``."""
    text = str(module)
    try:
        mod = llvm.parse_assembly(text)
        mod.verify()
    except RuntimeError as e:
        raise CompileError(f"internal error: generated LLVM IR is invalid: {e}") from None
    optimize(mod)
    try:
        obj = _target_machine().emit_object(mod)
    except RuntimeError as e:
        raise CompileError(f"LLVM could not compile the program for BPF: {e}") from None
    return str(mod), bytes(obj)


def load_spec(elf: bytes, name: str = "bpftrace.o") -> ObjectSpec:
    """Parse the object into an ObjectSpec."""
    from ...elf import load_object_bytes

    return load_object_bytes(elf, name=name)
