"""Code generation for ``pybpf trace``: typed bpftrace AST -> LLVM IR (llvmlite, target bpfel) ->
BPF ELF object -> :class:`CompiledScript` for the runtime.

Modules: :mod:`.compile` (entry point), :mod:`.irgen` (per-probe functions, statements, maps),
:mod:`.exprs`, :mod:`.builtins`, :mod:`.calls`, :mod:`.strings`, :mod:`.aggregations`,
:mod:`.events`, :mod:`.maps` (map layout), :mod:`.probes` (sections and contexts),
:mod:`.object` (LLVM -> ELF -> ObjectSpec), :mod:`.result` (what the runtime consumes).
"""

from __future__ import annotations

from .compile import compile_script, compile_typed
from .irgen import CodegenError
from .result import CompiledScript, MapBinding, ProbeAttach

__all__ = ["compile_script", "compile_typed", "CompiledScript", "MapBinding", "ProbeAttach", "CodegenError"]
