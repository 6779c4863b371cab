"""bcc's implicit kernel-memory reads: ``task->real_parent->tgid`` where ``task`` is a kernel
pointer becomes ``BPF_CORE_READ(task, real_parent, tgid)`` (a CO-RE read of each step, the
types coming from vmlinux.h, whose records preserve their access index).

Which names are kernel pointers (bcc decides with clang's types; we decide by the patterns
bcc tools use): a probe function's pointer arguments after the context, and locals
declared ``struct T *name = <init>`` whose initializer calls ``bpf_get_current_task()`` or
reads through another kernel pointer. A chain is left alone when it is written to
(``p->x = ...``, ``p->x++``), has its address taken (``&p->x``), is indexed or called
(``p->arr[i]``, ``p->fn()``), or sits inside an explicit read / ``sizeof`` / ``typeof``.
"""

from __future__ import annotations

from .tokens import Kind, Token

_ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "++", "--"})
_NOT_AFTER = frozenset({"&", "++", "--", ".", "->"})
_POINTER_SOURCES = frozenset({"bpf_get_current_task", "bpf_get_current_task_btf"})


def read_chain(toks: list[Token], i: int, end: int, tracked: set[str]) -> tuple[int, str] | None:
    """If a read chain through a kernel pointer starts at ``toks[i]``: (index after it, C)."""
    t = toks[i]
    if t.kind is not Kind.IDENT or t.text not in tracked:
        return None
    if i > 0 and toks[i - 1].text in _NOT_AFTER:
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
    fields = ", ".join(".".join(s) for s in segments)
    return j, f"BPF_CORE_READ({t.text}, {fields})"


def pointer_local(toks: list[Token], i: int, end: int, tracked: set[str]) -> tuple[str, int] | None:
    """``struct T *name = init`` at ``toks[i]`` whose ``init`` yields a kernel pointer:
    (name, index of the ``=``)."""
    if toks[i].text != "struct" or i + 4 >= end:
        return None
    j = i + 2  # struct T
    if toks[i + 1].kind is not Kind.IDENT or toks[j].text != "*":
        return None
    while j < end and toks[j].text == "*":
        j += 1
    if j + 1 >= end or toks[j].kind is not Kind.IDENT or toks[j + 1].text != "=":
        return None
    name, eq = toks[j].text, j + 1
    k = eq + 1
    depth = 0
    while k < end:
        txt = toks[k].text
        if txt in ("(", "[", "{"):
            depth += 1
        elif txt in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and txt in (";", ","):
            break
        if toks[k].kind is Kind.IDENT and (txt in _POINTER_SOURCES or txt in tracked):
            return name, eq
        k += 1
    return None


__all__ = ["pointer_local", "read_chain"]
