"""``BPF``: bcc's Python API over pybpf — compile bcc C, load, attach, read tables and output.

The class keeps the bcc surface; the work is done elsewhere: :mod:`.build` (rewrite,
compile, load), :mod:`.attach` (what is attached), :mod:`.tables` (bcc tables),
:mod:`.tracing` (trace_pipe and symbols).
"""

from __future__ import annotations

import logging
import os
import select
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .. import features
from .. import link as _link
from ..collection import Collection
from ..enums import AttachType, ProgramType
from ..errors import BPFError
from ..program import Program
from . import tracing
from .attach import AttachmentError, Attachments, Hook, attach_auto, attach_fallback, kernel_functions_matching
from .attach import split_tracepoint, tracepoints_matching
from .build import Built, compile_text, load_main, load_sharing, split_deferred
from .dialect import AttachRequest, ProbeKind
from .tables import TableBase, TableError, make_table
from .tables.ctypes_btf import CtypesBuilder, find_record
from .tables.events import record_type_text
from .usdt import USDT

if TYPE_CHECKING:
    from ..events import RingBuffer

log = logging.getLogger("pybpf.bcc")


def _s(value: str | bytes | None) -> str:
    """bcc accepts bytes or str for names; pybpf works with str."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


class Function:
    """What ``load_func`` returns: ``name``, ``fd`` (an int) and the live :class:`~pybpf.Program`."""

    def __init__(self, bpf: BPF, name: str, program: Program) -> None:
        self.bpf = bpf
        self.name = name
        self.program = program
        self.fd = program.fileno()

    def __repr__(self) -> str:
        return f"<Function {self.name} {self.program.type.name} fd={self.fd}>"


def _read_source(src_file: str) -> str:
    candidates = [src_file]
    if not os.path.isabs(src_file) and sys.argv and sys.argv[0]:
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), src_file))
    for path in candidates:
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
    raise BPFError(f"BPF source file {src_file!r} not found (looked in {', '.join(candidates)})")


class BPF:
    """A bcc program: ``BPF(text=...)`` compiles (cached), loads and auto-attaches it.

        >>> b = BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello!\\\\n"); return 0; }')
        ... # doctest: +SKIP
        >>> b.trace_print()                                                    # doctest: +SKIP

    Functions named ``kprobe__X``, ``kretprobe__X``, ``tracepoint__cat__event``,
    ``raw_tracepoint__X``, ``kfunc__X``... and ``TRACEPOINT_PROBE``-style macros attach by
    themselves; a kprobe on a syscall falls back to its ``syscalls`` tracepoint on kernels
    without kprobes (logged). Use as a context manager, or call :meth:`cleanup`.
    """

    # program types (the kernel's numbers, as bcc names them)
    SOCKET_FILTER = int(ProgramType.SOCKET_FILTER)
    KPROBE = int(ProgramType.KPROBE)
    SCHED_CLS = int(ProgramType.SCHED_CLS)
    SCHED_ACT = int(ProgramType.SCHED_ACT)
    TRACEPOINT = int(ProgramType.TRACEPOINT)
    XDP = int(ProgramType.XDP)
    PERF_EVENT = int(ProgramType.PERF_EVENT)
    CGROUP_SKB = int(ProgramType.CGROUP_SKB)
    CGROUP_SOCK = int(ProgramType.CGROUP_SOCK)
    LWT_IN = int(ProgramType.LWT_IN)
    LWT_OUT = int(ProgramType.LWT_OUT)
    LWT_XMIT = int(ProgramType.LWT_XMIT)
    SOCK_OPS = int(ProgramType.SOCK_OPS)
    SK_SKB = int(ProgramType.SK_SKB)
    CGROUP_DEVICE = int(ProgramType.CGROUP_DEVICE)
    SK_MSG = int(ProgramType.SK_MSG)
    RAW_TRACEPOINT = int(ProgramType.RAW_TRACEPOINT)
    CGROUP_SOCK_ADDR = int(ProgramType.CGROUP_SOCK_ADDR)
    TRACING = int(ProgramType.TRACING)
    LSM = int(ProgramType.LSM)

    # XDP flags and actions
    XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
    XDP_FLAGS_SKB_MODE = 1 << 1
    XDP_FLAGS_DRV_MODE = 1 << 2
    XDP_FLAGS_HW_MODE = 1 << 3
    XDP_FLAGS_REPLACE = 1 << 4
    XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)

    # perf event types
    PERF_TYPE_HARDWARE = 0
    PERF_TYPE_SOFTWARE = 1

    _XDP_LINKS: dict[str, Any] = {}

    def __init__(self, src_file: str | bytes = b"", hdr_file: str | bytes = b"", text: str | bytes | None = None,
                 debug: int = 0, cflags: Sequence[str] = (), usdt_contexts: Sequence[USDT] = (),
                 allow_rlimit: bool = True, device: str | None = None, attach_usdt_ignore_pid: bool = False) -> None:
        self.debug = debug
        self.cflags = [_s(f) for f in cflags]
        self.usdt_contexts = list(usdt_contexts)
        source = _s(text) if text is not None else ""
        if not source and _s(src_file):
            source = _read_source(_s(src_file))
        if _s(hdr_file):
            source = _read_source(_s(hdr_file)) + "\n" + source
        if not source:
            raise BPFError("BPF() needs text= (the C program) or src_file= (a file with it)")
        self.text = source
        self.funcs: dict[str, Function] = {}
        self.tables: dict[str, TableBase] = {}
        self._links = Attachments()
        self._extra: list[Collection] = []
        self._perf_buffers: dict[str, Any] = {}
        self._ringbuf: RingBuffer | None = None
        self._trace: tracing.TraceReader | None = None
        self._closed = False
        usdt_fns = {fn: ctx for ctx in self.usdt_contexts for fn in ctx.functions}
        self._built: Built = compile_text(source, self.cflags, usdt=self.usdt_contexts)
        main_spec, self._deferred = split_deferred(self._built.spec, {fn: ProgramType.KPROBE for fn in usdt_fns})
        self._collection = load_main(main_spec, debug=debug)
        btf = self._built.spec.btf
        self._builder = CtypesBuilder(btf) if btf is not None else None
        try:
            for probe in self._built.result.probes:
                attach_auto(self._links, self._program(probe.func_name), probe)
            for ctx in self.usdt_contexts:
                self._attach_usdt(ctx, ignore_pid=attach_usdt_ignore_pid)
        except BaseException:
            self.cleanup()
            raise

    # ---- programs ----------------------------------------------------------------------------

    def _program(self, name: str) -> Program:
        prog = self._collection.programs.get(name)
        if prog is None:
            for extra in self._extra:
                if name in extra.programs:
                    return extra.programs[name]
            raise BPFError(f"no loaded function {name!r}; the BPF text has: "
                           f"{', '.join(sorted([*self._collection.programs, *self._deferred])) or 'none'}")
        return prog

    def load_func(self, func_name: str | bytes, prog_type: int, device: str | None = None,
                  attach_type: int = -1) -> Function:
        """The function ``func_name`` of the text, loaded as a ``prog_type`` program (``BPF.KPROBE``...)."""
        name = _s(func_name)
        if name in self.funcs:
            return self.funcs[name]
        if name in self._deferred:
            extra = load_sharing(self._collection, self._built.spec, {name: ProgramType(prog_type)}, debug=self.debug)
            self._extra.append(extra)
            self._deferred.pop(name)
        prog = self._program(name)
        if prog.type != ProgramType(prog_type):
            log.debug("function %s is loaded as a %s program (asked for %s)", name, prog.type.name,
                      ProgramType(prog_type).name)
        fn = self.funcs[name] = Function(self, name, prog)
        return fn

    # ---- kprobes -------------------------------------------------------------------------------

    def _kprobe(self, hook: Hook, kind: ProbeKind, event: str, fn_name: str, event_off: int, maxactive: int) -> None:
        if fn_name in self._collection.programs or any(fn_name in e.programs for e in self._extra):
            prog = self._program(fn_name)
            if prog.type == ProgramType.KPROBE:
                self._links.add(hook, event, fn_name, _link.kprobe(prog, event, offset=event_off,
                                                                   retprobe=hook is Hook.KRETPROBE,
                                                                   maxactive=maxactive))
                return
        if features.feature("kprobe").supported and fn_name in self._deferred:
            prog = self.load_func(fn_name, self.KPROBE).program
            self._links.add(hook, event, fn_name, _link.kprobe(prog, event, offset=event_off,
                                                               retprobe=hook is Hook.KRETPROBE, maxactive=maxactive))
            return
        # no kprobes: the dialect rewrites the function for the tracepoint that stands in (or refuses)
        built = compile_text(self.text, self.cflags, usdt=self.usdt_contexts,
                             attach=[AttachRequest(fn_name, kind, event)])
        fb = next((f for f in built.result.fallbacks if f.func_name == fn_name), None)
        if fb is None:
            raise BPFError(f"{fn_name}: no program was made for {kind.value} {event}")
        extra = load_sharing(self._collection, built.spec, {fn_name: ProgramType.UNSPEC}, debug=self.debug)
        self._extra.insert(0, extra)
        self._links.add(hook, event, fn_name, attach_fallback(extra.programs[fn_name], fb))

    def attach_kprobe(self, event: str | bytes = b"", event_off: int = 0, fn_name: str | bytes = b"",
                      event_re: str | bytes = b"") -> None:
        """Run ``fn_name`` when kernel function ``event`` is entered (``event_re``: every match).
        Without kprobes, a syscall function falls back to its ``sys_enter`` tracepoint."""
        events = kernel_functions_matching(_s(event_re)) if _s(event_re) else [_s(event)]
        for ev in events:
            self._kprobe(Hook.KPROBE, ProbeKind.KPROBE, ev, _s(fn_name), event_off, 0)

    def attach_kretprobe(self, event: str | bytes = b"", fn_name: str | bytes = b"", event_re: str | bytes = b"",
                         maxactive: int = 0) -> None:
        """Run ``fn_name`` when kernel function ``event`` returns (``sys_exit`` tracepoint fallback)."""
        events = kernel_functions_matching(_s(event_re)) if _s(event_re) else [_s(event)]
        for ev in events:
            self._kprobe(Hook.KRETPROBE, ProbeKind.KRETPROBE, ev, _s(fn_name), 0, maxactive)

    def detach_kprobe(self, event: str | bytes, fn_name: str | bytes | None = None) -> None:
        self._links.remove(Hook.KPROBE, _s(event), _s(fn_name) or None)

    def detach_kretprobe(self, event: str | bytes, fn_name: str | bytes | None = None) -> None:
        self._links.remove(Hook.KRETPROBE, _s(event), _s(fn_name) or None)

    # ---- tracepoints ------------------------------------------------------------------------

    def attach_tracepoint(self, tp: str | bytes = b"", tp_re: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        """Run ``fn_name`` on tracepoint ``tp`` (``"sched:sched_switch"``; ``tp_re``: every match)."""
        fn = _s(fn_name)
        targets = tracepoints_matching(_s(tp_re)) if _s(tp_re) else [split_tracepoint(_s(tp))]
        prog = self.load_func(fn, self.TRACEPOINT).program
        for cat, ev in targets:
            self._links.add(Hook.TRACEPOINT, f"{cat}:{ev}", fn, _link.tracepoint(prog, cat, ev))

    def detach_tracepoint(self, tp: str | bytes = b"", fn_name: str | bytes | None = None) -> None:
        cat, ev = split_tracepoint(_s(tp))
        self._links.remove(Hook.TRACEPOINT, f"{cat}:{ev}", _s(fn_name) or None)

    def attach_raw_tracepoint(self, tp: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        fn = _s(fn_name)
        prog = self.load_func(fn, self.RAW_TRACEPOINT).program
        self._links.add(Hook.RAW_TRACEPOINT, _s(tp), fn, _link.raw_tracepoint(prog, _s(tp)))

    def detach_raw_tracepoint(self, tp: str | bytes = b"") -> None:
        self._links.remove(Hook.RAW_TRACEPOINT, _s(tp))

    @staticmethod
    def tracepoint_exists(category: str | bytes, event: str | bytes) -> bool:
        from ..tracefs import root

        return (root() / "events" / _s(category) / _s(event) / "id").exists()

    # ---- BTF trampolines / LSM ----------------------------------------------------------------

    def _trampoline(self, hook: Hook, fn_name: str | bytes, attach: Any) -> None:
        fn = _s(fn_name)
        self._links.add(hook, fn, fn, attach(self._program(fn)))

    def attach_kfunc(self, fn_name: str | bytes = b"") -> None:
        self._trampoline(Hook.KFUNC, fn_name, _link.fentry)

    def attach_kretfunc(self, fn_name: str | bytes = b"") -> None:
        self._trampoline(Hook.KRETFUNC, fn_name, _link.fexit)

    def attach_lsm(self, fn_name: str | bytes = b"") -> None:
        self._trampoline(Hook.LSM, fn_name, _link.lsm)

    def detach_kfunc(self, fn_name: str | bytes = b"") -> None:
        self._links.remove(Hook.KFUNC, _s(fn_name))

    def detach_kretfunc(self, fn_name: str | bytes = b"") -> None:
        self._links.remove(Hook.KRETFUNC, _s(fn_name))

    @staticmethod
    def support_kfunc() -> bool:
        """True when this kernel can attach fentry/fexit (kfunc) programs."""
        return features.feature("fentry").supported

    @staticmethod
    def support_lsm() -> bool:
        """True when this kernel runs BPF LSM programs (``bpf`` in the active LSMs)."""
        return features.feature("lsm").supported

    @staticmethod
    def support_raw_tracepoint() -> bool:
        return features.attach("raw_tracepoint").supported if hasattr(features, "attach") else True

    # ---- uprobes / USDT ------------------------------------------------------------------------

    def _uprobe(self, hook: Hook, name: str | bytes, sym: str | bytes, sym_re: str | bytes, addr: int | None,
                fn_name: str | bytes, pid: int, sym_off: int) -> None:
        fn = _s(fn_name)
        prog = self.load_func(fn, self.KPROBE).program
        binary = _s(name)
        retprobe = hook is Hook.URETPROBE
        owner = None if pid == -1 else pid
        if _s(sym_re):
            from ..link.uprobe import attach_offset, multi_targets

            for t in multi_targets(binary, _s(sym_re)):
                self._links.add(hook, f"{t.path}:{t.symbol}", fn,
                                attach_offset(prog, t.path, t.offset, pid=owner, retprobe=retprobe))
            return
        target: str | int = _s(sym) if _s(sym) else (addr if addr is not None else "")
        if target == "":
            raise BPFError("attach_uprobe needs sym=, sym_re= or addr=")
        if isinstance(target, str) and "+" not in target:
            from .ifunc import resolve_ifunc

            impl = resolve_ifunc(binary, target)
            made = _link.uprobe(prog, binary, impl if impl is not None else target, pid=owner, retprobe=retprobe,
                                offset=sym_off)
        else:
            made = _link.uprobe(prog, binary, target, pid=owner, retprobe=retprobe, offset=sym_off)
        self._links.add(hook, f"{binary}:{target}", fn, made)

    def attach_uprobe(self, name: str | bytes = b"", sym: str | bytes = b"", sym_re: str | bytes = b"",
                      addr: int | None = None, fn_name: str | bytes = b"", pid: int = -1, sym_off: int = 0) -> None:
        """Run ``fn_name`` when ``sym`` (or ``addr``) of binary/library ``name`` (``"c"`` for libc) is called."""
        self._uprobe(Hook.UPROBE, name, sym, sym_re, addr, fn_name, pid, sym_off)

    def attach_uretprobe(self, name: str | bytes = b"", sym: str | bytes = b"", sym_re: str | bytes = b"",
                         addr: int | None = None, fn_name: str | bytes = b"", pid: int = -1) -> None:
        """Run ``fn_name`` when ``sym`` of ``name`` returns (``PT_REGS_RC(ctx)`` is the return value)."""
        self._uprobe(Hook.URETPROBE, name, sym, sym_re, addr, fn_name, pid, 0)

    def detach_uprobe(self, name: str | bytes = b"", sym: str | bytes = b"", addr: int | None = None) -> None:
        target = _s(sym) if _s(sym) else addr
        self._links.remove(Hook.UPROBE, f"{_s(name)}:{target}")

    def detach_uretprobe(self, name: str | bytes = b"", sym: str | bytes = b"", addr: int | None = None) -> None:
        target = _s(sym) if _s(sym) else addr
        self._links.remove(Hook.URETPROBE, f"{_s(name)}:{target}")

    def _attach_usdt(self, ctx: USDT, *, ignore_pid: bool) -> None:
        from ..link.usdt import usdt

        for p in ctx.probes:
            prog = self.load_func(p.fn_name, self.KPROBE).program
            pid = None if ignore_pid else ctx.pid
            self._links.add(Hook.USDT, f"{ctx.path}:{p.provider}:{p.name}", p.fn_name,
                            usdt(prog, ctx.path, p.provider, p.name, pid=pid))

    # ---- perf events, XDP, PROG_ATTACH ----------------------------------------------------------

    def attach_perf_event(self, ev_type: int = -1, ev_config: int = -1, fn_name: str | bytes = b"",
                          sample_period: int = 0, sample_freq: int = 0, pid: int = -1, cpu: int = -1,
                          group_fd: int = -1) -> None:
        """Run ``fn_name`` on each sample of perf event (``ev_type``, ``ev_config``)."""
        from .._sys.abi import PerfHwConfig, PerfSwConfig

        kinds: dict[int, type[PerfHwConfig] | type[PerfSwConfig]] = {
            self.PERF_TYPE_HARDWARE: PerfHwConfig, self.PERF_TYPE_SOFTWARE: PerfSwConfig}
        if ev_type not in kinds:
            raise BPFError(f"attach_perf_event: ev_type {ev_type} is not PERF_TYPE_HARDWARE (0) or SOFTWARE (1)")
        fn = _s(fn_name)
        prog = self.load_func(fn, self.PERF_EVENT).program
        made = _link.perf_event(prog, frequency=sample_freq or None, period=sample_period or None,
                                event=kinds[ev_type](ev_config), cpu=None if cpu < 0 else cpu, pid=pid)
        self._links.add(Hook.PERF_EVENT, f"{ev_type}:{ev_config}", fn, made)

    def detach_perf_event(self, ev_type: int = -1, ev_config: int = -1) -> None:
        self._links.remove(Hook.PERF_EVENT, f"{ev_type}:{ev_config}")

    @staticmethod
    def attach_xdp(dev: str | bytes, fn: Function, flags: int = 0) -> None:
        """Attach XDP function ``fn`` (from ``load_func(name, BPF.XDP)``) to interface ``dev``."""
        from ..link.xdp import XDPMode

        modes = {BPF.XDP_FLAGS_SKB_MODE: XDPMode.SKB, BPF.XDP_FLAGS_DRV_MODE: XDPMode.DRIVER,
                 BPF.XDP_FLAGS_HW_MODE: XDPMode.HW}
        mode = next((m for bit, m in modes.items() if flags & bit), XDPMode.AUTO)
        name = _s(dev)
        if name in BPF._XDP_LINKS:
            raise AttachmentError(f"an XDP program is already attached to {name} by this process; remove_xdp first")
        BPF._XDP_LINKS[name] = _link.xdp(fn.program, name, mode=mode)

    @staticmethod
    def remove_xdp(dev: str | bytes, flags: int = 0) -> None:
        """Detach the XDP program :meth:`attach_xdp` put on ``dev``."""
        made = BPF._XDP_LINKS.pop(_s(dev), None)
        if made is None:
            raise AttachmentError(f"no XDP program was attached to {_s(dev)} by this process")
        made.close()

    @staticmethod
    def attach_func(fn: Function, attachable_fd: int, attach_type: int, flags: int = 0) -> None:
        """BPF_PROG_ATTACH ``fn`` to ``attachable_fd`` (a cgroup, sockmap...) as ``attach_type``."""
        from .. import _sys
        from .._sys.abi import AttachFlags

        _sys.prog_attach(attachable_fd, fn.program.fd, AttachType(attach_type), flags=AttachFlags(flags))

    @staticmethod
    def detach_func(fn: Function, attachable_fd: int, attach_type: int) -> None:
        from .. import _sys

        _sys.prog_detach(attachable_fd, AttachType(attach_type), prog_fd=fn.program.fd)

    # ---- counts ---------------------------------------------------------------------------------

    def num_open_kprobes(self) -> int:
        """kprobes + kretprobes attached (a tracepoint fallback counts as the kprobe asked for)."""
        return self._links.count("kprobes")

    def num_open_uprobes(self) -> int:
        return self._links.count("uprobes")

    def num_open_tracepoints(self) -> int:
        return self._links.count("tracepoints")

    # ---- tables -----------------------------------------------------------------------------------

    def get_table(self, name: str | bytes, keytype: Any = None, leaftype: Any = None, reducer: Any = None) -> TableBase:
        """The bcc table of map ``name`` (``Key``/``Leaf`` from BTF unless given)."""
        key = _s(name)
        table = self.tables.get(key)
        if table is not None:
            return table
        m = self._collection.maps.get(key)
        if m is None:
            declared = [d.name for d in self._built.result.maps]
            raise KeyError(f"no table {key!r} in this BPF program (it declares: {', '.join(declared) or 'none'})")
        spec = self._built.spec.maps.get(key)
        table = make_table(self, m, key, self._builder, spec.key_type_id if spec else 0,
                           spec.value_type_id if spec else 0)
        if keytype is not None:
            table.Key = keytype
        if leaftype is not None:
            table.Leaf = leaftype
        self.tables[key] = table
        return table

    def __getitem__(self, name: str | bytes) -> TableBase:
        return self.get_table(name)

    def __contains__(self, name: object) -> bool:
        return _s(name) in self._collection.maps  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in self._collection.maps if not n.endswith((".rodata", ".bss", ".data"))])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __delitem__(self, name: str | bytes) -> None:
        table = self.tables.pop(_s(name), None)
        if table is not None:
            table.close()

    def _record_class(self, map_name: str) -> Any:
        """The ctypes class of the records sent through ``map_name`` (for ``.event()``)."""
        type_text = record_type_text(self.text, map_name)
        if type_text is None:
            raise TableError(f"cannot tell the record type of {map_name!r}: no {map_name}.perf_submit(ctx, &var, ...) "
                             "/ ringbuf_output / ringbuf_reserve with a declared variable in the text")
        bare = type_text.split()[-1]
        btf = self._built.spec.btf
        tid = find_record(btf, bare) if btf is not None else None
        builder = self._builder
        if tid is None:
            btf, tid = tracing.record_btf(self._built, type_text, self.cflags)
            builder = CtypesBuilder(btf)
        assert builder is not None
        return builder.build(tid)

    # ---- output -----------------------------------------------------------------------------------

    def perf_buffer_poll(self, timeout: int = -1) -> None:
        """Wait up to ``timeout`` ms (-1: forever) for records of the open perf buffers and run their callbacks."""
        readers = list(self._perf_buffers.values())
        if not readers:
            raise BPFError("perf_buffer_poll: no perf buffer is open; call b[\"events\"].open_perf_buffer(cb) first")
        if len(readers) == 1:
            readers[0].poll(None if timeout < 0 else timeout / 1000)
            return
        ep = select.epoll()
        try:
            for r in readers:
                ep.register(r.fileno(), select.EPOLLIN)
            ep.poll(-1 if timeout < 0 else timeout / 1000)
        finally:
            ep.close()
        for r in readers:
            r.consume()

    def perf_buffer_consume(self) -> None:
        for r in self._perf_buffers.values():
            r.consume()

    def _ring_reader(self) -> RingBuffer:
        if self._ringbuf is None:
            from ..events import RingBuffer

            self._ringbuf = RingBuffer()
        return self._ringbuf

    def ring_buffer_poll(self, timeout: int = -1) -> None:
        """Wait up to ``timeout`` ms (-1: forever) for ring buffer records and run their callbacks."""
        if self._ringbuf is None:
            raise BPFError("ring_buffer_poll: no ring buffer is open; call b[\"events\"].open_ring_buffer(cb) first")
        self._ringbuf.poll(None if timeout < 0 else timeout / 1000)

    def ring_buffer_consume(self) -> None:
        """Run the callbacks for the ring buffer records there now, without waiting."""
        if self._ringbuf is None:
            raise BPFError("ring_buffer_consume: no ring buffer is open")
        self._ringbuf.consume()

    def _trace_reader(self) -> tracing.TraceReader:
        if self._trace is None:
            self._trace = tracing.TraceReader()
        return self._trace

    def trace_readline(self, nonblocking: bool = False) -> bytes:
        """The next trace_pipe line (bytes, no newline); ``b""`` when ``nonblocking`` and none is there."""
        return self._trace_reader().readline(nonblocking=nonblocking)

    def trace_fields(self, nonblocking: bool = False) -> tuple[bytes, int, int, bytes, float, bytes] | tuple[None, ...]:
        """The next ``bpf_trace_printk`` line as ``(task, pid, cpu, flags, ts, msg)`` (bytes fields)."""
        return self._trace_reader().fields(nonblocking=nonblocking)

    def trace_print(self, fmt: str | None = None) -> None:
        """Print trace_pipe lines forever (``fmt``: ``"{0} {1} {5}"`` over the fields)."""
        self._trace_reader().print_forever(fmt)

    # ---- symbols, syscalls, time ------------------------------------------------------------------

    ksym = staticmethod(tracing.ksym)
    ksymname = staticmethod(tracing.ksymname)
    sym = staticmethod(tracing.sym)
    get_syscall_prefix = staticmethod(tracing.syscall_prefix)
    get_kprobe_functions = staticmethod(tracing.kprobe_functions)
    find_library = staticmethod(tracing.find_library)
    monotonic_time = staticmethod(tracing.monotonic_time)

    def get_syscall_fnname(self, name: str | bytes) -> bytes:
        """The kernel function of syscall ``name``: ``b"__x64_sys_" + name`` on x86_64."""
        return tracing.syscall_prefix() + (name if isinstance(name, bytes) else name.encode())

    # ---- lifetime -----------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Detach everything, close the readers, tables, programs and maps (later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        self._links.close()
        for reader in self._perf_buffers.values():
            reader.close()
        self._perf_buffers.clear()
        if self._ringbuf is not None:
            self._ringbuf.close()
        if self._trace is not None:
            self._trace.close()
        for table in self.tables.values():
            table.close()
        self.tables.clear()
        for extra in self._extra:
            extra.close()
        self._collection.close()

    close = cleanup

    def __enter__(self) -> BPF:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        programs = sorted({*self._collection.programs, *(n for e in self._extra for n in e.programs)})
        return (f"<BPF programs={programs} maps={sorted(self)} "
                f"attached={len(self._links.links)}{' closed' if self._closed else ''}>")


__all__ = ["BPF", "Function"]
