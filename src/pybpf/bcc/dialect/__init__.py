"""bcc's C dialect as a rewriting step in front of :mod:`pybpf.cc`.

:func:`rewrite` turns a bcc program (map macros, map methods, ``TRACEPOINT_PROBE``,
``kprobe__`` prefixes, implicit kernel-memory reads...) into plain BPF C plus a
:class:`RewriteResult` describing its maps, auto-attached probes and the kprobe ->
tracepoint fallbacks taken; :func:`compile_bcc` also compiles it (compiler errors name the
user's lines).

    >>> r = rewrite('BPF_HASH(counts, u32, u64);', kernel=StaticKernel())
    >>> r.maps[0].name, r.maps[0].kind.name, r.maps[0].size
    ('counts', 'HASH', 10240)

How the ``BPF`` class drives it
-------------------------------
- ``BPF(text=..., cflags=...)``: ``obj, result = compile_bcc(text, cflags, usdt=bool(usdt_contexts))``
  then ``spec = ObjectSpec.from_file(obj)``. ``result.maps`` gives each map's bcc kind (which
  table class), key/leaf type names, size and ``pinned`` path; the object's BTF has the types.
- Programs: every non-static function with a body is a program. Its section tells what it
  is: auto-attach probes (``result.probes``, each with ``kind``/``target``/``section`` and
  ``fallback``) carry a full section; other functions are in ``.bcc.fn/<name>`` and need
  ``spec.programs[name].type = ...`` from ``load_func(name, BPF.KPROBE)`` before loading.
- Kprobes on a kernel without kprobes (``live_kernel().has_kprobes`` is False): a function
  becomes a tracepoint/raw-tracepoint program only when the rewriter knows its target.
  ``kprobe__X``/``kretprobe__X`` and ``syscall__X`` (the syscall X) are known up front; for
  ``attach_kprobe(event=E, fn_name=F)`` on another function, rewrite again with
  ``attach=[AttachRequest(F, ProbeKind.KPROBE, E)]`` (KRETPROBE for attach_kretprobe), load
  that object's program ``F`` and attach it where ``result.fallback_for(F)`` says
  (``hook_kind`` TRACEPOINT -> ``link.tracepoint(prog, category, event)``, RAW_TRACEPOINT ->
  ``link.raw_tracepoint(prog, event)``). A kprobe with no stand-in raises NotSupportedError
  naming the tracepoints of the function's subsystem. Each fallback is logged (``pybpf.bcc``).
- ``KFUNC_PROBE``/``KRETFUNC_PROBE``/``LSM_PROBE`` produce fentry/fexit/lsm sections; the kernel
  may refuse them at load (``pybpf.features.feature("fentry")`` says why).
"""

from __future__ import annotations

from .kernel import FieldKind, FieldType, KernelInfo, LiveKernel, StaticKernel, live_kernel
from .model import AttachRequest, AutoProbe, BccMapDecl, Fallback, FunctionInfo, ProbeKind, RewriteError, RewriteResult
from .rewriter import BCC_INCLUDE_DIR, LOADABLE_SECTION, compile_bcc, rewrite

__all__ = [
    "AttachRequest", "AutoProbe", "BCC_INCLUDE_DIR", "BccMapDecl", "Fallback", "FieldKind", "FieldType",
    "FunctionInfo", "KernelInfo", "LOADABLE_SECTION", "LiveKernel", "ProbeKind", "RewriteError", "RewriteResult",
    "StaticKernel", "compile_bcc", "live_kernel", "rewrite",
]
