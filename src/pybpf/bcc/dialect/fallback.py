"""kprobe -> tracepoint fallbacks, for kernels that refuse kprobes and fentry.

A kprobe program cannot run on a tracepoint (its context is ``struct pt_regs``), so the
user's function is kept as a ``static __always_inline`` body and an *adapter* program is
generated for the tracepoint: it builds a ``struct pt_regs`` on its stack from the
tracepoint's arguments, so ``PT_REGS_PARM1(ctx)``..``PT_REGS_PARM6(ctx)``, ``PT_REGS_RC(ctx)``
and the function's bound arguments keep working, and calls the body with it. The real
context is passed too: helpers that need it (``perf_submit``, ``get_stackid``, tail calls)
get it instead of the fake registers.

Syscalls (``__x64_sys_X``, ``sys_X``, ``__arm64_sys_X``, ``ksys_X``... and bcc's ``syscall__``
functions) map exactly: entry -> ``syscalls:sys_enter_X`` (PARM1..6 = the syscall's
arguments, in order), return -> ``syscalls:sys_exit_X`` (RC = ``args->ret``).

Other kernel functions map through :data:`TABLE`; each entry says what its arguments
become and how the tracepoint differs from the kprobe (``note``). Every fallback taken is
logged on the ``pybpf.bcc`` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...errors import NotSupportedError
from .kernel import KernelInfo
from .model import Fallback, FunctionInfo, ProbeKind
from .probes import syscall_fields, tp_struct_name

log = logging.getLogger("pybpf.bcc")

#: prefixes of kernel functions that take a syscall's own arguments (do_sys_* do not)
SYSCALL_FUNCTION_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__riscv_sys_", "__s390x_sys_",
                             "__powerpc_sys_", "__se_sys_", "__do_sys_", "ksys_", "sys_")
MAX_PARMS = 6
BODY_PREFIX = "__bcc_body_"
REAL_CTX = "__bcc_ctx"


@dataclass(frozen=True)
class TableEntry:
    """How a kernel function maps onto a tracepoint.

    ``parms``: C expressions for PARM1.. of the fake registers, over ``ctx->args[i]`` (raw
    tracepoint) or ``args->field`` (tracepoint); ``"0"`` where the tracepoint lacks it.
    ``skip``: a C condition under which the event is not the function's (the adapter
    returns 0). ``ret``: the return value for a kretprobe, None when it cannot be had.
    """

    hook: ProbeKind
    category: str
    event: str
    parms: tuple[str, ...]
    note: str
    exact: bool = False
    skip: str | None = None
    ret: str | None = None
    ret_event: str | None = None


_SK = "((struct sock *)ctx->args[0])"
_TCP_CONNECT_SKIP = (f"BPF_CORE_READ({_SK}, sk_protocol) != IPPROTO_TCP || ctx->args[2] != TCP_SYN_SENT || "
                     f"BPF_CORE_READ({_SK}, __sk_common.skc_family) != %s")
_CONNECT_NOTE = ("fires inside {fn} when the socket enters SYN_SENT, after the addresses and ports are set "
                 "(a kprobe fires on entry, before); uaddr and addr_len are 0; a kretprobe sees 0, and connects "
                 "that fail before SYN_SENT are not seen")

#: kernel function -> the tracepoint that stands in for it
TABLE: dict[str, TableEntry] = {
    "tcp_v4_connect": TableEntry(ProbeKind.RAW_TRACEPOINT, "sock", "inet_sock_set_state", ("ctx->args[0]", "0", "0"),
                                 _CONNECT_NOTE.format(fn="tcp_v4_connect"), skip=_TCP_CONNECT_SKIP % "AF_INET",
                                 ret="0"),
    "tcp_v6_connect": TableEntry(ProbeKind.RAW_TRACEPOINT, "sock", "inet_sock_set_state", ("ctx->args[0]", "0", "0"),
                                 _CONNECT_NOTE.format(fn="tcp_v6_connect"), skip=_TCP_CONNECT_SKIP % "AF_INET6",
                                 ret="0"),
    "tcp_set_state": TableEntry(ProbeKind.RAW_TRACEPOINT, "sock", "inet_sock_set_state",
                                ("ctx->args[0]", "ctx->args[2]"),
                                "sock:inet_sock_set_state also fires for TCP state changes made without "
                                "tcp_set_state (TCP_LISTEN, TCP_SYN_RECV of new child sockets); (sk, state) map exactly",
                                skip=f"BPF_CORE_READ({_SK}, sk_protocol) != IPPROTO_TCP"),
    "blk_account_io_start": TableEntry(ProbeKind.RAW_TRACEPOINT, "block", "block_io_start", ("ctx->args[0]",),
                                       "block:block_io_start is emitted by blk_account_io_start; req maps exactly",
                                       exact=True),
    "blk_account_io_done": TableEntry(ProbeKind.RAW_TRACEPOINT, "block", "block_io_done",
                                      ("ctx->args[0]", "bpf_ktime_get_ns()"),
                                      "block:block_io_done is emitted by blk_account_io_done; req maps exactly, "
                                      "now is bpf_ktime_get_ns() at the event"),
    "blk_account_io_completion": TableEntry(ProbeKind.RAW_TRACEPOINT, "block", "block_rq_complete",
                                            ("ctx->args[0]", "ctx->args[2]"),
                                            "block:block_rq_complete (req, nr_bytes) fires once per completion, "
                                            "also for requests the block layer does not account"),
    "blk_mq_start_request": TableEntry(ProbeKind.RAW_TRACEPOINT, "block", "block_rq_issue", ("ctx->args[0]",),
                                       "block:block_rq_issue is emitted by blk_mq_start_request; rq maps exactly",
                                       exact=True),
    "blk_start_request": TableEntry(ProbeKind.RAW_TRACEPOINT, "block", "block_rq_issue", ("ctx->args[0]",),
                                    "block:block_rq_issue is emitted when a request is started; rq maps exactly"),
    "finish_task_switch": TableEntry(ProbeKind.RAW_TRACEPOINT, "sched", "sched_switch", ("ctx->args[1]",),
                                     "sched:sched_switch runs before the switch, in prev's context: prev maps "
                                     "exactly, but bpf_get_current_*() describe prev, not the task switched to "
                                     "(use ctx->args[2], next)"),
    "do_exit": TableEntry(ProbeKind.RAW_TRACEPOINT, "sched", "sched_process_exit", ("0",),
                          "sched:sched_process_exit fires in do_exit for the exiting task (current); the exit "
                          "code argument is not available (0)"),
    "wake_up_new_task": TableEntry(ProbeKind.RAW_TRACEPOINT, "sched", "sched_wakeup_new", ("ctx->args[0]",),
                                   "sched:sched_wakeup_new is emitted by wake_up_new_task; p maps exactly",
                                   exact=True),
    "try_to_wake_up": TableEntry(ProbeKind.RAW_TRACEPOINT, "sched", "sched_waking", ("ctx->args[0]", "0", "0"),
                                 "sched:sched_waking fires in try_to_wake_up only when the task is woken; p maps, "
                                 "state and wake_flags are 0"),
    "do_sys_open": TableEntry(ProbeKind.TRACEPOINT, "syscalls", "sys_enter_openat",
                              ("args->dfd", "args->filename", "args->flags", "args->mode"),
                              "syscalls:sys_enter_openat covers openat(2) only (not open(2) or openat2(2)); "
                              "(dfd, filename, flags, mode) map exactly",
                              ret="args->ret", ret_event="sys_exit_openat"),
    "vfs_read": TableEntry(ProbeKind.TRACEPOINT, "syscalls", "sys_enter_read", ("0", "args->buf", "args->count", "0"),
                           "syscalls:sys_enter_read covers read(2) only (not readv, pread64, sendfile or reads "
                           "inside the kernel); the struct file * argument is NULL and pos is 0",
                           ret="args->ret", ret_event="sys_exit_read"),
    "vfs_write": TableEntry(ProbeKind.TRACEPOINT, "syscalls", "sys_enter_write",
                            ("0", "args->buf", "args->count", "0"),
                            "syscalls:sys_enter_write covers write(2) only (not writev, pwrite64 or writes inside "
                            "the kernel); the struct file * argument is NULL and pos is 0",
                            ret="args->ret", ret_event="sys_exit_write"),
}


@dataclass(frozen=True)
class Adapter:
    """A generated adapter: the fallback record, its C text and the tracepoint structs it needs."""

    fallback: Fallback
    c_text: str
    formats: tuple[tuple[str, str], ...]


def syscall_of(function: str, kernel: KernelInfo) -> str | None:
    """The syscall a kernel function takes the arguments of, when ``syscalls:sys_enter_<name>``
    exists (``__x64_sys_clone`` -> ``clone``)."""
    for prefix in SYSCALL_FUNCTION_PREFIXES:
        if function.startswith(prefix):
            name = function[len(prefix):]
            if name and kernel.tracepoint_format("syscalls", f"sys_enter_{name}") is not None:
                return name
    return None


def _param_type(ptype: str) -> str:
    return ptype.strip() or "unsigned long"


def _call_body(func: FunctionInfo, real_ctx: str) -> str:
    args = [real_ctx, "&__bcc_regs"]
    for i, (ptype, _name) in enumerate(func.params[1:], start=1):
        value = f"PT_REGS_PARM{i}(&__bcc_regs)" if i <= MAX_PARMS else "0"
        args.append(f"({_param_type(ptype)}){value}")
    call = f"{BODY_PREFIX}{func.name}({', '.join(args)})"
    return f"{call};\n\treturn 0;" if func.returns_void else f"return {call};"


def _adapter_c(func: FunctionInfo, section: str, ctx_decl: str, real_ctx: str, sets: list[str],
               skip: str | None) -> str:
    lines = [f'SEC("{section}") int {func.name}({ctx_decl})', "{",
             "\tstruct pt_regs __bcc_regs;", "\t__builtin_memset(&__bcc_regs, 0, sizeof(__bcc_regs));"]
    if skip:
        lines.append(f"\tif ({skip})\n\t\treturn 0;")
    lines += [f"\t{s};" for s in sets]
    lines += [f"\t{_call_body(func, real_ctx)}", "}"]
    return "\n".join(lines) + "\n"


def _syscall_adapter(func: FunctionInfo, kind: ProbeKind, function: str, syscall: str,
                     kernel: KernelInfo) -> Adapter:
    retprobe = kind is ProbeKind.KRETPROBE
    event = f"sys_exit_{syscall}" if retprobe else f"sys_enter_{syscall}"
    fmt = kernel.tracepoint_format("syscalls", event)
    if fmt is None:
        raise NotSupportedError(f"kretprobe on {function}", reason=f"there is no syscalls:{event} tracepoint")
    sname = tp_struct_name("syscalls", event)
    if retprobe:
        sets = ["__bcc_set_rc(&__bcc_regs, args->ret)"]
        note = f"syscalls:{event}: PT_REGS_RC(ctx) is the syscall's return value; other registers are 0"
    else:
        fields = syscall_fields(fmt)[:MAX_PARMS]
        sets = [f"__bcc_set_parm(&__bcc_regs, {i}, args->{f.name})" for i, f in enumerate(fields, start=1)]
        note = (f"syscalls:{event}: PT_REGS_PARM1..{len(fields)}(ctx) and the bound arguments are "
                f"({', '.join(f.name for f in fields)}), the syscall's own arguments")
    section = f"tracepoint/syscalls/{event}"
    fb = Fallback(func_name=func.name, requested=kind, function=function, hook_kind=ProbeKind.TRACEPOINT,
                  category="syscalls", event=event, section=section, note=note, exact=True)
    text = _adapter_c(func, section, f"struct {sname} *args", "args", sets, None)
    return Adapter(fb, text, (("syscalls", event),))


def _table_adapter(func: FunctionInfo, kind: ProbeKind, function: str, entry: TableEntry) -> Adapter:
    retprobe = kind is ProbeKind.KRETPROBE
    event = entry.ret_event if retprobe and entry.ret_event else entry.event
    if retprobe and entry.ret is None:
        raise NotSupportedError(f"kretprobe on {function}", reason="kretprobes are not available on this kernel",
                                alternative=f"{entry.category}:{entry.event} stands in for the entry only; "
                                            "attach_kprobe and keep the state you need in a map")
    formats: tuple[tuple[str, str], ...]
    if entry.hook is ProbeKind.RAW_TRACEPOINT:
        section, ctx_decl, real_ctx, formats = (f"raw_tracepoint/{event}", "struct bpf_raw_tracepoint_args *ctx",
                                                "ctx", ())
    else:
        sname = tp_struct_name(entry.category, event)
        section, ctx_decl, real_ctx = f"tracepoint/{entry.category}/{event}", f"struct {sname} *args", "args"
        formats = ((entry.category, event),)
    if retprobe:
        sets = [f"__bcc_set_rc(&__bcc_regs, {entry.ret})"]
    else:
        sets = [f"__bcc_set_parm(&__bcc_regs, {i}, {p})" for i, p in enumerate(entry.parms, start=1) if p != "0"]
    fb = Fallback(func_name=func.name, requested=kind, function=function, hook_kind=entry.hook,
                  category=entry.category, event=event, section=section, note=entry.note, exact=entry.exact)
    return Adapter(fb, _adapter_c(func, section, ctx_decl, real_ctx, sets, entry.skip), formats)


def _similar(kernel: KernelInfo, function: str) -> list[str]:
    finder = getattr(kernel, "similar_tracepoints", None)
    return list(finder(function)) if finder is not None else []


def _subsystem(function: str) -> str:
    return function.lstrip("_").split("_")[0]


def refusal(function: str, kind: ProbeKind, kernel: KernelInfo) -> NotSupportedError:
    """The error for a kprobe with no fallback: the tracepoints of the function's subsystem
    (the table's category when its tracepoint is missing on this kernel)."""
    category = TABLE[function].category if function in TABLE else _subsystem(function)
    names = kernel.tracepoints(category)
    if names:
        shown = ", ".join(f"{category}:{n}" for n in names[:24]) + (" ..." if len(names) > 24 else "")
        alt = (f"no tracepoint stands in for {function} in pybpf's table; the {category} subsystem has these "
               f"tracepoints: {shown} (use TRACEPOINT_PROBE({category}, <event>))")
    elif (similar := _similar(kernel, function)):
        alt = (f"no tracepoint stands in for {function}; tracepoints with similar names: {', '.join(similar)} "
               "(use TRACEPOINT_PROBE(category, event))")
    else:
        alt = (f"no tracepoint stands in for {function}, and there is no {category!r} tracepoint category; "
               "find one near that code path with pybpf.tracefs.categories() / pybpf.tracefs.tracepoints(cat) "
               "and use TRACEPOINT_PROBE(category, event)")
    what = "kretprobe" if kind is ProbeKind.KRETPROBE else "kprobe"
    return NotSupportedError(f"{what} on {function}", reason="this kernel has no kprobes and no fentry",
                             alternative=alt)


def plan(func: FunctionInfo, kind: ProbeKind, function: str, kernel: KernelInfo) -> Adapter:
    """The adapter that runs ``func`` (a kprobe/kretprobe on kernel ``function``) on a tracepoint.

    Raises NotSupportedError (listing the subsystem's tracepoints) when nothing stands in.
    """
    function = function.split(".")[0]  # finish_task_switch.isra.0: the compiler's clone of the function
    syscall = syscall_of(function, kernel)
    if syscall is not None:
        adapter = _syscall_adapter(func, kind, function, syscall, kernel)
    elif function in TABLE and kernel.tracepoint_format(TABLE[function].category, TABLE[function].event) is not None:
        adapter = _table_adapter(func, kind, function, TABLE[function])
    else:
        raise refusal(function, kind, kernel)
    fb = adapter.fallback
    log.warning("%s %s(%s): no kprobes on this kernel, attaching to %s %s instead (%s)", kind.value, function,
                func.name, fb.hook_kind.value, fb.tracepoint, fb.note)
    return adapter


__all__ = ["Adapter", "BODY_PREFIX", "REAL_CTX", "SYSCALL_FUNCTION_PREFIXES", "TABLE", "TableEntry", "plan",
           "refusal", "syscall_of"]
