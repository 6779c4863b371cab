"""pybpf.trace: the bpftrace language — parse, type-check, compile, run.

``parse(text, filename="stdin") -> ast.Program`` and ``analyse(program, env=...) -> TypedProgram``
are the front end; code generation and the runtime live in ``pybpf.trace.codegen`` and
``pybpf.trace.runtime``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: importing it costs ~8 ms of a ``pybpf trace`` start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = ["parse", "analyse"]


def __getattr__(name: str) -> Any:
    if name == "parse":
        from .parser import parse
        return parse
    if name == "analyse":
        from .semantic import analyse
        return analyse
    raise AttributeError(name)
