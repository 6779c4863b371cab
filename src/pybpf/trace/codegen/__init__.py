"""Code generation for ``pybpf trace``: typed bpftrace AST -> LLVM IR (llvmlite, target bpfel) ->
BPF ELF object -> :class:`CompiledScript` for the runtime.

Modules: :mod:`.compile` (entry point), :mod:`.irgen` (per-probe functions, statements, maps),
:mod:`.exprs`, :mod:`.builtins`, :mod:`.calls`, :mod:`.strings`, :mod:`.aggregations`,
:mod:`.events`, :mod:`.loops` (``for ($kv : @m)`` and ``len(@m)`` callbacks), :mod:`.maps` (map
layout), :mod:`.probes` (sections, contexts, usdt arguments), :mod:`.debuginfo` (what makes LLVM
emit BTF), :mod:`.object` (LLVM -> ELF -> ObjectSpec), :mod:`.result` (what the runtime consumes).

Example (needs tracefs for the tracepoint's format)::

    >>> from pybpf.trace.codegen import compile_script                       # doctest: +SKIP
    >>> cs = compile_script('tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }')  # doctest: +SKIP
    >>> cs.probes[0].name, cs.maps["@"].percpu                                # doctest: +SKIP
    ('tracepoint:syscalls:sys_enter_openat', True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes
from .result import CompiledScript, MapBinding, ProbeAttach

if TYPE_CHECKING:
    from .compile import compile_script, compile_typed
    from .irgen import CodegenError

__all__ = ["compile_script", "compile_typed", "CompiledScript", "MapBinding", "ProbeAttach", "CodegenError"]

#: imported on first use: a cached script (pybpf.trace.cache) needs .result, not llvmlite
_LAZY = {"compile_script": ".compile", "compile_typed": ".compile", "CodegenError": ".irgen"}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
