"""bcc's implicit kernel-memory reads: ``task->real_parent->tgid`` where ``task`` is a kernel
pointer becomes ``BPF_CORE_READ(task, real_parent, tgid)`` (a CO-RE read of each step, the
types coming from vmlinux.h, whose records preserve their access index).

Which names are kernel pointers (bcc decides with clang's types; we decide by declarations):
in a tracing function, its ``struct T *`` arguments other than the context, and locals
declared ``struct T *name`` -- where ``T`` is not a struct the program defines itself.
Networking programs (XDP, tc, socket filters...) read packets directly and are left alone.

With the kernel's BTF (:meth:`KernelInfo.field_type`) the chain is typed: an array member
(``t->real_parent->comm``) or an address (``&t->real_parent->comm``) reads only the pointers
on the way (``(BPF_CORE_READ(t, real_parent))->comm``). A chain is left alone when it is
written to (``p->x = ...``, ``p->x++``), indexed or called (``p->arr[i]``, ``p->fn()``), or
sits inside ``sizeof``/``typeof``; ``&p->x`` with one hop is plain address arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

from .kernel import FieldKind, FieldType
from .tokens import Kind, Token

_ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--"})
_NOT_AFTER = frozenset({"++", "--", ".", "->"})
#: context types of programs that must not get implicit reads (packet data is read directly)
NETWORK_CTX_TYPES = ("xdp_md", "__sk_buff", "sk_msg_md", "sk_reuseport_md", "bpf_sock_ops", "bpf_sock_addr",
                     "bpf_sk_lookup", "bpf_sockopt", "bpf_sysctl", "bpf_cgroup_dev_ctx", "bpf_sock ")
#: first-parameter types that are a program context (never read through)
CTX_TYPES = ("pt_regs", "bpf_raw_tracepoint_args", "tracepoint__", "bpf_perf_event_data", "void")

FieldLookup = Callable[[str, tuple[str, ...]], "FieldType | None"]


def _final_type(base: str | None, segments: list[list[str]], lookup: FieldLookup) -> FieldType | None:
    cur = base
    for seg in segments[:-1]:
        ft = lookup(cur, tuple(seg)) if cur else None
        cur = ft.struct if ft is not None and ft.kind is FieldKind.POINTER else None
    return lookup(cur, tuple(segments[-1])) if cur else None


def read_chain(toks: list[Token], i: int, end: int, tracked: dict[str, str | None],
               lookup: FieldLookup) -> tuple[int, str] | None:
    """If a read chain through a kernel pointer starts at ``toks[i]``: (index after it, C)."""
    t = toks[i]
    if t.kind is not Kind.IDENT or t.text not in tracked:
        return None
    prev = toks[i - 1].text if i > 0 else ""
    if prev in _NOT_AFTER:
        return None
    j = i + 1
    segments: list[list[str]] = []
    while j + 1 < end and toks[j].text in ("->", ".") and toks[j + 1].kind is Kind.IDENT:
        if toks[j].text == "->":
            segments.append([toks[j + 1].text])
        elif not segments:
            return None  # base.field on a pointer: not C
        else:
            segments[-1].append(toks[j + 1].text)
        j += 2
    if not segments:
        return None
    if j < end and (toks[j].text in _ASSIGN or toks[j].text in ("(", "[")):
        return None
    final = _final_type(tracked[t.text], segments, lookup)
    paths = [".".join(s) for s in segments]
    if prev == "&" or (final is not None and final.kind is FieldKind.ARRAY):
        if len(segments) == 1:
            return None  # pointer arithmetic on a pointer we hold: no read
        return j, f"(BPF_CORE_READ({t.text}, {', '.join(paths[:-1])}))->{paths[-1]}"
    return j, f"BPF_CORE_READ({t.text}, {', '.join(paths)})"


def pointer_local(toks: list[Token], i: int, end: int, user_structs: set[str]) -> tuple[str, str] | None:
    """``struct T *name`` (then ``=``, ``;`` or ``,``) at ``toks[i]`` with ``T`` a kernel
    struct: ``(name, T)``."""
    if toks[i].text != "struct" or i + 3 >= end:
        return None
    if toks[i + 1].kind is not Kind.IDENT or toks[i + 2].text != "*" or toks[i + 3].kind is not Kind.IDENT:
        return None
    if i + 4 < end and toks[i + 4].text not in ("=", ";", ","):
        return None
    struct = toks[i + 1].text
    if struct in user_structs:
        return None
    return toks[i + 3].text, struct


def is_ctx_type(ptype: str) -> bool:
    """Is a first parameter of this type the program context?"""
    return any(c in ptype for c in CTX_TYPES) or any(c in ptype + " " for c in NETWORK_CTX_TYPES)


def is_network_ctx(ptype: str) -> bool:
    return any(c in ptype + " " for c in NETWORK_CTX_TYPES)


__all__ = ["CTX_TYPES", "NETWORK_CTX_TYPES", "is_ctx_type", "is_network_ctx", "pointer_local", "read_chain"]
