"""Rewriting inside function bodies: map method calls, ``bpf_trace_printk`` with a literal
format, implicit kernel-memory reads, and (in kprobe adapters) the real context for the
helpers that need it. Works on the token list so strings, comments and nesting are safe;
a replaced span keeps its line count, so the user's line numbers stay right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .kernel import FieldType

from .fallback import REAL_CTX
from .memread import pointer_local, read_chain
from .methods import CTX_HELPERS, METHODS, NO_IMPLICIT_READ, method_call
from .model import RewriteError
from .tokens import Kind, Token, match_close, split_args


@dataclass
class BodyContext:
    """What the body rewriter knows about the function being rewritten."""

    maps: set[str]
    #: kernel pointers: name -> the struct they point to (None when not known)
    tracked: dict[str, str | None] = field(default_factory=dict)
    ctx_name: str | None = None  # set in adapted kprobes: its uses in ctx helpers become the real ctx
    #: False in networking programs: no implicit reads at all
    tracing: bool = True
    user_structs: set[str] = field(default_factory=set)
    field_type: Callable[[str, tuple[str, ...]], FieldType | None] = lambda _s, _p: None
    #: static functions taking a hidden real-context first parameter
    ctx_fns: set[str] = field(default_factory=set)


class BodyRewriter:
    """Renders ``code[a:b]`` (code tokens of ``text``) with bcc's rewrites applied."""

    def __init__(self, text: str, code: list[Token], fctx: BodyContext, error: Callable[[str, int], RewriteError],
                 *, newline: str = "\n"):
        self.text = text
        self.code = code
        self.fctx = fctx
        self.error = error
        #: what keeps a replaced span's line count (``"\\\n"`` inside a #define)
        self.newline = newline

    def render(self, a: int, b: int, *, no_read: bool = False) -> str:
        code, text = self.code, self.text
        out: list[str] = []
        k = a
        while k < b:
            if k > a:
                out.append(text[code[k - 1].end:code[k].start])
            hit = self._match(k, b, no_read)
            if hit is None:
                out.append(code[k].text)
                k += 1
                continue
            nxt, repl = hit
            orig = text[code[k].start:code[nxt - 1].end]
            out.append(repl + self.newline * max(orig.count("\n") - repl.count("\n"), 0))
            k = nxt
        return "".join(out)

    def _args(self, open_idx: int, close_idx: int, no_read: bool) -> list[str]:
        return [self.render(s, e, no_read=no_read) if s < e else "" for s, e in split_args(self.code, open_idx, close_idx)]

    def _is(self, k: int, b: int, text: str) -> bool:
        return k < b and self.code[k].text == text

    def _match(self, k: int, b: int, no_read: bool) -> tuple[int, str] | None:
        code, f = self.code, self.fctx
        t = code[k]
        prev = code[k - 1].text if k > 0 else ""
        if t.kind is not Kind.IDENT:
            return None
        # map.method(args)
        if (t.text in f.maps and prev not in (".", "->") and self._is(k + 1, b, ".") and k + 2 < b
                and code[k + 2].kind is Kind.IDENT and self._is(k + 3, b, "(")):
            method = code[k + 2].text
            close = match_close(code, k + 3)
            args = self._args(k + 3, close, no_read)
            spec = METHODS.get(method)
            if spec is not None and spec.takes_ctx and f.ctx_name and args and args[0].strip() == f.ctx_name:
                args[0] = REAL_CTX
            try:
                c = method_call(t.text, method, args)
            except ValueError as exc:
                raise self.error(str(exc), t.start) from None
            if c is None:
                raise self.error(f"unknown map method {t.text}.{method}(); bcc maps have: "
                                 f"{', '.join(sorted(METHODS))}", t.start)
            return close + 1, c
        if not self._is(k + 1, b, "("):
            if no_read or not f.tracing:
                return None
            if t.text == "struct":
                hit = pointer_local(code, k, b, f.user_structs)
                if hit is not None:
                    f.tracked[hit[0]] = hit[1]
                return None
            return read_chain(code, k, b, f.tracked, f.field_type)
        # name(...)
        if t.text == "bpf_trace_printk" and k + 2 < b and code[k + 2].kind is Kind.STRING:
            return k + 1, "bpf_printk"
        if (t.text in CTX_HELPERS and f.ctx_name and k + 3 < b and code[k + 2].text == f.ctx_name
                and code[k + 3].text == ","):
            return k + 3, f"{t.text}({REAL_CTX}"
        if t.text in f.ctx_fns and prev not in (".", "->") and k + 2 < b and code[k + 2].text != ")":
            # a static helper taking the context: pass the real one along (ours, or its ctx argument)
            if f.ctx_name:
                return k + 2, f"{t.text}({REAL_CTX}, "
            close = match_close(code, k + 1)
            first = split_args(code, k + 1, close)[0]
            return k + 2, f"{t.text}({self.render(first[0], first[1], no_read=True)}, "
        if t.text in NO_IMPLICIT_READ:
            close = match_close(code, k + 1)
            inner = self.render(k + 2, close, no_read=True) if close > k + 2 else ""
            return close + 1, f"{t.text}({inner})"
        return None


__all__ = ["BodyContext", "BodyRewriter"]
