"""bcc's C dialect as a rewriting step in front of :mod:`pybpf.cc`.

:func:`rewrite` turns a bcc program (map macros, map methods, ``TRACEPOINT_PROBE``,
``kprobe__`` prefixes, implicit kernel-memory reads...) into plain BPF C plus a
:class:`RewriteResult` describing its maps, auto-attached probes and the kprobe ->
tracepoint fallbacks taken; :func:`compile_bcc` also compiles it.

    >>> r = rewrite('BPF_HASH(counts, u32, u64);', kernel=StaticKernel())
    >>> r.maps[0].name, r.maps[0].kind.name, r.maps[0].size
    ('counts', 'HASH', 10240)
"""

from __future__ import annotations

from .kernel import KernelInfo, LiveKernel, StaticKernel, live_kernel
from .model import AttachRequest, AutoProbe, BccMapDecl, Fallback, FunctionInfo, ProbeKind, RewriteError, RewriteResult
from .rewriter import BCC_INCLUDE_DIR, compile_bcc, rewrite

__all__ = [
    "AttachRequest", "AutoProbe", "BCC_INCLUDE_DIR", "BccMapDecl", "Fallback", "FunctionInfo", "KernelInfo",
    "LiveKernel", "ProbeKind", "RewriteError", "RewriteResult", "StaticKernel", "compile_bcc", "live_kernel",
    "rewrite",
]
