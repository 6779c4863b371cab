"""C to eBPF with nothing but pip packages.

``compile()`` finds a compiler (a ``clang`` with the bpf target on PATH, else the
``ziglang`` wheel), passes the eBPF target and arch flags, puts pybpf's own headers
(``bpf/bpf_helpers.h``, ``bpf/bpf_tracing.h``, ``bpf/bpf_core_read.h``, ``bpf/bpf_endian.h``)
and a generated ``vmlinux.h`` on the include path, and caches objects by content hash.
"""

from __future__ import annotations

from .cache import ObjectCache, cache_dir
from .diagnostics import Diagnostic, Severity, parse_diagnostics
from .discovery import Compiler, CompilerKind, discover_compiler, find_compiler, target_arch
from .driver import compile, compiler_flags
from .headers import STATIC_INCLUDE_DIR, render_helper_defs

__all__ = [
    "Compiler",
    "CompilerKind",
    "Diagnostic",
    "ObjectCache",
    "STATIC_INCLUDE_DIR",
    "Severity",
    "cache_dir",
    "compile",
    "compiler_flags",
    "discover_compiler",
    "find_compiler",
    "parse_diagnostics",
    "render_helper_defs",
    "target_arch",
]
