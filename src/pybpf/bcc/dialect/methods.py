"""Map method calls (``counts.increment(key)``, ``events.perf_submit(ctx, &d, sizeof(d))``...)
as calls of the ``__bcc_map_*`` macros of ``bcc_helpers.h``, which call the kernel helpers
with the map's address and return typed pointers (``lookup`` returns ``leaf_type *``).

Each method has its argument count range and, where bcc has one, the default of its last
argument; a call with another count, or an unknown method, is a :class:`RewriteError` that
names the user's line and the methods that exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """A bcc map method: its macro, argument counts, defaults for trailing arguments, and
    whether its first argument is the program context (replaced by the real context in
    kprobe -> tracepoint adapters)."""

    macro: str
    min_args: int
    max_args: int
    defaults: tuple[str, ...] = ()
    takes_ctx: bool = False


def _m(name: str, lo: int, hi: int | None = None, *defaults: str, ctx: bool = False) -> Method:
    return Method(f"__bcc_map_{name}", lo, lo if hi is None else hi, defaults, ctx)


METHODS: dict[str, Method] = {
    "lookup": _m("lookup", 1),
    "lookup_or_try_init": _m("lookup_or_try_init", 2),
    "lookup_or_init": _m("lookup_or_try_init", 2),
    "update": _m("update", 2),
    "insert": _m("insert", 2),
    "delete": _m("delete", 1),
    "increment": _m("increment", 1, 2, "1"),
    "atomic_increment": _m("increment", 1, 2, "1"),
    "perf_submit": _m("perf_submit", 3, ctx=True),
    "perf_submit_skb": _m("perf_submit_skb", 4, ctx=True),
    "perf_read": _m("perf_read", 1),
    "ringbuf_output": _m("ringbuf_output", 3),
    "ringbuf_reserve": _m("ringbuf_reserve", 1),
    "ringbuf_submit": _m("ringbuf_submit", 2),
    "ringbuf_discard": _m("ringbuf_discard", 2),
    "get_stackid": _m("get_stackid", 2, ctx=True),
    "call": _m("call", 2, ctx=True),
    "push": _m("push", 2),
    "pop": _m("pop", 1),
    "peek": _m("peek", 1),
    "redirect_map": _m("redirect_map", 2),
    "sk_storage_get": _m("sk_storage_get", 3),
    "sk_storage_delete": _m("sk_storage_delete", 1),
    "task_storage_get": _m("task_storage_get", 3),
    "task_storage_delete": _m("task_storage_delete", 1),
    "inode_storage_get": _m("inode_storage_get", 3),
    "inode_storage_delete": _m("inode_storage_delete", 1),
}

#: kernel helpers whose first argument is the program context
CTX_HELPERS = frozenset({"bpf_perf_event_output", "bpf_get_stackid", "bpf_get_stack", "bpf_tail_call",
                         "bpf_perf_prog_read_value", "bpf_read_branch_records"})

#: calls whose arguments are not evaluated, or are CO-RE expressions already: no implicit reads
NO_IMPLICIT_READ = frozenset({
    "sizeof", "typeof", "__typeof__", "__typeof", "offsetof", "__builtin_offsetof", "_Alignof", "__alignof__",
    "BPF_CORE_READ", "BPF_CORE_READ_INTO", "BPF_CORE_READ_STR_INTO", "BPF_PROBE_READ", "BPF_PROBE_READ_INTO",
    "BPF_CORE_READ_USER", "BPF_CORE_READ_USER_INTO", "bpf_core_read", "bpf_core_read_str", "bpf_core_read_user",
    "bpf_core_field_exists", "bpf_core_field_size", "bpf_core_field_offset", "bpf_core_type_exists",
    "__builtin_preserve_access_index", "__builtin_preserve_field_info",
})


def method_call(map_name: str, method: str, args: list[str]) -> str | None:
    """The C for ``map_name.method(args...)``, None when ``method`` is not a map method.

    Raises ValueError with the expected arity when the argument count is wrong.
    """
    spec = METHODS.get(method)
    if spec is None:
        return None
    args = [a.strip() for a in args]
    if not spec.min_args <= len(args) <= spec.max_args:
        want = str(spec.min_args) if spec.min_args == spec.max_args else f"{spec.min_args} to {spec.max_args}"
        raise ValueError(f"{map_name}.{method}() takes {want} argument(s), got {len(args)}")
    missing = spec.max_args - len(args)
    if missing:
        args += list(spec.defaults[len(spec.defaults) - missing:])
    return f"{spec.macro}({', '.join([map_name, *args])})"


__all__ = ["CTX_HELPERS", "METHODS", "Method", "NO_IMPLICIT_READ", "method_call"]
