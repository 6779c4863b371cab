"""``rewrite()``: bcc's C dialect to plain BPF C for :func:`pybpf.cc.compile`, and
``compile_bcc()`` which does both.

The output is the user's text with every rewrite made on its own lines, preceded by a
generated preamble (``#include <bcc_helpers.h>``, tracepoint ``args`` structs) and followed
by generated adapters and the license; ``#line`` directives make the compiler report the
user's line numbers.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ...errors import CompileError
from . import fallback as _fallback
from .body import BodyContext, BodyRewriter
from .kernel import KernelInfo, live_kernel
from .maps import MACROS, definition, map_decl
from .memread import is_ctx_type, is_network_ctx
from .model import AttachRequest, AutoProbe, BccMapDecl, Fallback, FunctionInfo, ProbeKind, RewriteError, RewriteResult
from .probes import PROBE_MACROS, SECTIONS, prefix_probe, tp_struct_name, tracepoint_struct
from .tokens import Kind, Token, TokenizeError, code, line_of, match_close, split_args, tokenize

log = logging.getLogger("pybpf.bcc")

#: the bcc compatibility headers (``bcc_helpers.h``, ``<linux/sched.h>``...)
BCC_INCLUDE_DIR = Path(__file__).resolve().parent.parent / "include"
#: kernel header prefixes: an include of one we do not serve is dropped (vmlinux.h has the types)
_KERNEL_HEADER_PREFIXES = ("linux/", "uapi/", "net/", "asm/", "asm-generic/", "bcc/", "trace/", "generated/",
                           "scsi/", "crypto/", "keys/", "kernel/", "xen/")
_STRUCT_DEF = re.compile(r"\b(?:struct|union)\s+(\w+)\s*\{")
_STRUCT_PTR = re.compile(r"(?:const\s+)?(?:struct|union)\s+(\w+)\s*\*(?:\s*const)?")
_WORD = re.compile(r"[A-Za-z_]\w*")
_INCLUDE = re.compile(r'#\s*include\s*[<"]([^>"]+)[>"]')
#: section of a non-static function no prefix names: loaded later with an explicit type (load_func)
LOADABLE_SECTION = ".bcc.fn/{name}"
GENERATED_FILE = "<pybpf-bcc-generated>"
PREAMBLE_FILE = "<pybpf-bcc-preamble>"
_CTX_PROBES = {ProbeKind.KPROBE, ProbeKind.KRETPROBE}
#: bcc's name prefix for a kprobe on a syscall whose arguments are bound (``syscall__execve``)
SYSCALL_PREFIX = "syscall__"


def _map_names(tokens: list[Token]) -> set[str]:
    """Names of the maps the text declares with bcc macros (a quick scan, errors come later)."""
    toks = code(tokens)
    names: set[str] = set()
    for k, t in enumerate(toks[:-1]):
        if t.kind is Kind.IDENT and t.text in MACROS and toks[k + 1].text == "(":
            try:
                args = split_args(toks, k + 1, match_close(toks, k + 1))
            except TokenizeError:
                continue
            pos = MACROS[t.text].params.index("name")
            if pos < len(args) and args[pos][1] - args[pos][0] == 1:
                names.add(toks[args[pos][0]].text)
    return names


def _rewrite_define(directive: str, maps: set[str], error: Callable[[str, int], RewriteError]) -> str:
    """Map method calls inside a ``#define`` body (``#define INC(k) counts.increment(k)``)."""
    if not maps or not any(m in directive for m in maps):
        return directive
    toks = code(tokenize(directive[1:]))
    if not toks:
        return directive
    fctx = BodyContext(maps=maps, tracing=False)
    body = BodyRewriter(directive[1:], toks, fctx, error, newline=" \\\n").render(0, len(toks))
    return "#" + directive[1:toks[0].start] + body + directive[1 + toks[-1].end:]


def _rewrite_preprocessor(text: str) -> str:
    """Drop ``#include``s of kernel headers we do not serve, and rewrite map methods in
    ``#define`` bodies (same line count)."""
    out: list[str] = []
    tokens = tokenize(text)
    maps = _map_names(tokens)

    def error(message: str, offset: int) -> RewriteError:
        return RewriteError(message)

    for tok in tokens:
        if tok.kind is Kind.PREPROC and re.match(r"#\s*define\b", tok.text):
            line = line_of(text, tok.start)
            try:
                out.append(_rewrite_define(tok.text, maps, error))
            except RewriteError as exc:
                raise RewriteError(f"in this #define: {exc}", line=line,
                                   source_line=text.splitlines()[line - 1]) from None
            continue
        m = _INCLUDE.match(tok.text) if tok.kind is Kind.PREPROC else None
        if m is not None:
            header = m.group(1)
            if header.startswith(_KERNEL_HEADER_PREFIXES) and not (BCC_INCLUDE_DIR / header).is_file():
                log.debug("dropping #include <%s>: its types come from vmlinux.h", header)
                out.append(f"/* <{header}>: its types come from vmlinux.h */" + "\n" * tok.text.count("\n"))
                continue
        out.append(tok.text)
    return "".join(out)


class _Rewriter:
    def __init__(self, text: str, *, kernel: KernelInfo, attach: Sequence[AttachRequest], name: str,
                 cflags: Sequence[str] = ()) -> None:
        self.user_text = text
        self.defines = _defines(cflags)
        self.text = _rewrite_preprocessor(text)
        self.kernel = kernel
        self.name = name
        self.attach = {r.func_name: r for r in attach}
        self.tokens = tokenize(self.text)
        self.code = code(self.tokens)
        self.maps: list[BccMapDecl] = []
        self.probes: list[AutoProbe] = []
        self.fallbacks: list[Fallback] = []
        self.functions: list[FunctionInfo] = []
        self.formats: dict[tuple[str, str], str] = {}
        self.generated: list[str] = []
        self.user_structs = set(_STRUCT_DEF.findall(self.text))
        self.ctx_fns = self._static_ctx_functions()

    # -- errors ----------------------------------------------------------------------------
    def error(self, message: str, offset: int) -> RewriteError:
        line = line_of(self.text, offset)
        lines = self.user_text.splitlines()
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        return RewriteError(message, line=line, source_line=src)

    # -- helpers -----------------------------------------------------------------------------
    def _arg_texts(self, open_idx: int, close_idx: int) -> list[str]:
        return [self.text[self.code[s].start:self.code[e - 1].end] if s < e else ""
                for s, e in split_args(self.code, open_idx, close_idx)]

    def _static_ctx_functions(self) -> set[str]:
        """Static functions whose first parameter is a ``struct pt_regs *`` context: they get
        a hidden first parameter carrying the program's real context (see BodyContext)."""
        out: set[str] = set()
        code_ = self.code
        depth, start = 0, 0
        for k, t in enumerate(code_):
            if t.text in ("{", "(", "["):
                if (depth == 0 and t.text == "(" and k > 0 and code_[k - 1].kind is Kind.IDENT):
                    try:
                        close = match_close(code_, k)
                    except TokenizeError:
                        break
                    if close + 1 < len(code_) and code_[close + 1].text == "{":
                        params = self._params(k, close)
                        specs = {c.text for c in code_[start:k - 1]}
                        if "static" in specs and params and "pt_regs" in params[0][0]:
                            out.add(code_[k - 1].text)
                depth += 1
            elif t.text in ("}", ")", "]"):
                depth -= 1
                if depth == 0 and t.text == "}":
                    start = k + 1
            elif t.text == ";" and depth == 0:
                start = k + 1
        return out

    def _fctx(self, params: tuple[tuple[str, str], ...], body: str = "") -> BodyContext:
        """The body context of a function: its kernel-pointer parameters (not the context),
        no implicit reads at all in networking programs (a network context type, after the
        -D macros of cflags, or a body that checks ``data_end``)."""
        tracked: dict[str, str | None] = {}
        params = tuple((_WORD.sub(lambda m: self.defines.get(m[0], m[0]), t), n) for t, n in params)
        tracing = not (params and is_network_ctx(params[0][0])) and "data_end" not in body
        for i, (ptype, pname) in enumerate(params):
            if i == 0 and is_ctx_type(ptype):
                continue
            m = _STRUCT_PTR.fullmatch(ptype.strip())
            if m is not None and m.group(1) not in self.user_structs:
                tracked[pname] = m.group(1)
        return BodyContext(maps={m.name for m in self.maps}, tracked=tracked if tracing else {}, tracing=tracing,
                           user_structs=self.user_structs, field_type=self.kernel.field_type,
                           ctx_fns=self.ctx_fns)

    def _need_format(self, category: str, event: str, offset: int) -> None:
        if (category, event) in self.formats:
            return
        fmt = self.kernel.tracepoint_format(category, event)
        if fmt is None:
            near = [f"{category}:{n}" for n in self.kernel.tracepoints(category)][:16]
            hint = f"; {category} has: {', '.join(near)}" if near else f"; there is no tracepoint category {category!r}"
            raise self.error(f"no tracepoint {category}:{event} on this kernel{hint}", offset)
        self.formats[(category, event)] = tracepoint_struct(category, event, fmt)

    def _params(self, open_idx: int, close_idx: int) -> tuple[tuple[str, str], ...]:
        out = []
        for s, e in split_args(self.code, open_idx, close_idx):
            toks = self.code[s:e]
            if not toks or (len(toks) == 1 and toks[0].text in ("void", "...")):
                continue
            idents = [i for i, t in enumerate(toks) if t.kind is Kind.IDENT]
            if not idents:
                continue
            last = idents[-1]
            ptype = self.text[toks[0].start:toks[last - 1].end] if last > 0 else ""
            out.append((ptype, toks[last].text))
        return tuple(out)

    # -- the top level -------------------------------------------------------------------------
    def run(self) -> str:
        code_, text = self.code, self.text
        out: list[str] = []
        depth = 0
        decl_piece = 0  # index in out of the first code token of the current top-level declaration
        k = 0
        while k < len(code_):
            t = code_[k]
            out.append(text[code_[k - 1].end if k else 0:t.start])
            if depth == 0 and (k == 0 or code_[k - 1].text in (";", "}")):
                decl_piece = len(out)
            if depth == 0 and t.kind is Kind.IDENT and k + 1 < len(code_) and code_[k + 1].text == "(":
                close = match_close(code_, k + 1)
                nxt = code_[close + 1] if close + 1 < len(code_) else None
                if t.text in MACROS:
                    decl = map_decl(t.text, self._arg_texts(k + 1, close), line=line_of(text, t.start),
                                    ncpus=self.kernel.ncpus)
                    self.maps.append(decl)
                    out.append(self._same_lines(definition(decl), t.start, code_[close].end))
                    k = close + 1
                    if nxt is None or nxt.text != ";":
                        out.append(";")
                    continue
                if t.text in PROBE_MACROS and nxt is not None and nxt.text == "{":
                    k = self._probe_macro(k, close, out)
                    continue
                if nxt is not None and nxt.text == "{":
                    k = self._function(k, close, out, decl_piece)
                    continue
            if t.text in ("{", "(", "["):
                depth += 1
            elif t.text in ("}", ")", "]"):
                depth -= 1
            out.append(t.text)
            k += 1
        out.append(text[code_[-1].end:] if code_ else text)
        return "".join(out)

    def _same_lines(self, replacement: str, start: int, end: int) -> str:
        return replacement + "\n" * max(self.text.count("\n", start, end) - replacement.count("\n"), 0)

    def _body(self, brace: int, fctx: BodyContext) -> tuple[str, int]:
        end = match_close(self.code, brace)
        inner = BodyRewriter(self.text, self.code, fctx, self.error).render(brace, end + 1)
        return inner, end + 1

    def _probe_macro(self, k: int, close: int, out: list[str]) -> int:
        t = self.code[k]
        kind, build = PROBE_MACROS[t.text]
        fname, target, header = build(self._arg_texts(k + 1, close), line_of(self.text, t.start))
        if kind is ProbeKind.TRACEPOINT:
            cat, ev = target.split(":", 1)
            self._need_format(cat, ev, t.start)
        out.append(self._same_lines(header, t.start, self.code[close].end))
        out.append(self.text[self.code[close].end:self.code[close + 1].start])
        body, nxt = self._body(close + 1, self._fctx(()))
        out.append(body)
        self.probes.append(AutoProbe(fname, kind, target, SECTIONS[kind](target), line=line_of(self.text, t.start)))
        self.functions.append(FunctionInfo(fname, (), SECTIONS[kind](target), line_of(self.text, t.start), False))
        return nxt

    def _function(self, k: int, close: int, out: list[str], decl_piece: int) -> int:
        code_, text = self.code, self.text
        t = code_[k]
        name = t.text
        line = line_of(text, t.start)
        params = self._params(k + 1, close)
        decl_text = "".join(out[decl_piece:])
        static = re.search(r"\bstatic\b", decl_text) is not None
        returns_void = re.search(r"\bvoid\b", decl_text) is not None and "*" not in decl_text
        has_sec = re.search(r"\bSEC\s*\(|__attribute__\s*\(\(\s*section", decl_text) is not None
        body_end = match_close(code_, close + 1)
        fctx = self._fctx(params, text[code_[close + 1].start:code_[body_end].end])
        auto = prefix_probe(name)
        request = self.attach.get(name)
        section: str | None = None
        header = text[t.start:code_[close].end]
        auto_attach = request is None
        if request is not None and request.kind in _CTX_PROBES:
            kind, target = request.kind, request.target
        elif auto is not None:
            kind, target = auto
        elif name.startswith(SYSCALL_PREFIX) and len(name) > len(SYSCALL_PREFIX):
            # bcc's convention: attach_kprobe(event=get_syscall_fnname("X"), fn_name="syscall__X")
            kind, target = ProbeKind.KPROBE, self.kernel.syscall_prefix + name[len(SYSCALL_PREFIX):]
            auto_attach = False
        else:
            kind, target = None, ""
        if kind in _CTX_PROBES and not static:
            header, section = self._kprobe(name, params, kind, target, k, close, out, decl_piece, fctx, line,
                                           auto_attach=auto_attach and auto is not None, returns_void=returns_void)
        elif kind is not None and not static and not has_sec:
            if kind is ProbeKind.TRACEPOINT:
                cat, ev = target.split(":", 1)
                self._need_format(cat, ev, t.start)
            section = SECTIONS[kind](target)
            out.insert(decl_piece, f'SEC("{section}") ')
            self.probes.append(AutoProbe(name, kind, target, section, line=line))
        elif not static and not has_sec:
            section = LOADABLE_SECTION.format(name=name)
            out.insert(decl_piece, f'SEC("{section}") ')
        elif static and name in self.ctx_fns:
            fctx.ctx_name = params[0][1]
            plist = text[code_[k + 2].start:code_[close - 1].end]
            header = self._same_lines(f"{name}(void *{_fallback.REAL_CTX}, {plist})", t.start, code_[close].end)
        out.append(header)
        out.append(text[code_[close].end:code_[close + 1].start])
        body, nxt = self._body(close + 1, fctx)
        out.append(body)
        self.functions.append(FunctionInfo(name, params, section, line, static, returns_void))
        return nxt

    def _kprobe(self, name: str, params: tuple[tuple[str, str], ...], kind: ProbeKind, target: str, k: int,
                close: int, out: list[str], decl_piece: int, fctx: BodyContext, line: int, *,
                auto_attach: bool, returns_void: bool) -> tuple[str, str]:
        """A kprobe/kretprobe function: as is (kprobes, no bound arguments), behind a wrapper
        that binds its arguments from the registers (kprobes), or behind a tracepoint adapter
        (no kprobes). The user's function becomes the always-inline ``__bcc_body_<name>``."""
        func = FunctionInfo(name, params, None, line, False, returns_void)
        body_name = f"{_fallback.BODY_PREFIX}{name}"
        fb: Fallback | None = None
        if self.kernel.has_kprobes:
            section = SECTIONS[kind](target)
            if len(params) <= 1:
                out.insert(decl_piece, f'SEC("{section}") ')
                if auto_attach:
                    self.probes.append(AutoProbe(name, kind, target, section, line=line))
                return self.text[self.code[k].start:self.code[close].end], section
            self.generated.append(self._kprobe_wrapper(func, section, target))
        else:
            adapter = _fallback.plan(func, kind, target, self.kernel)
            for cat, ev in adapter.formats:
                self._need_format(cat, ev, self.code[k].start)
            self.generated.append(adapter.c_text)
            fb = adapter.fallback
            self.fallbacks.append(fb)
            section = fb.section
        fctx.ctx_name = params[0][1] if params else None
        if auto_attach:
            self.probes.append(AutoProbe(name, kind, target, section, fallback=fb, line=line))
        out.insert(decl_piece, "static __always_inline ")
        plist = self.text[self.code[k + 2].start:self.code[close - 1].end] if close > k + 2 else ""
        if not params:
            plist = ""
        sep = ", " if plist else ""
        header = f"{body_name}(void *{_fallback.REAL_CTX}{sep}{plist})"
        return self._same_lines(header, self.code[k].start, self.code[close].end), section

    def _kprobe_wrapper(self, func: FunctionInfo, section: str, target: str) -> str:
        syscall = target.startswith(_fallback.SYSCALL_FUNCTION_PREFIXES[:6])
        args = ["ctx", "ctx"]
        for i, (ptype, _n) in enumerate(func.params[1:], start=1):
            value = (f"PT_REGS_PARM{i}_CORE_SYSCALL(PT_REGS_SYSCALL_REGS(ctx))" if syscall
                     else f"PT_REGS_PARM{i}(ctx)") if i <= _fallback.MAX_PARMS else "0"
            args.append(f"({ptype.strip()}){value}")
        call = f"{_fallback.BODY_PREFIX}{func.name}({', '.join(args)})"
        ret = f"{call};\n\treturn 0;" if func.returns_void else f"return {call};"
        return f'SEC("{section}") int {func.name}(struct pt_regs *ctx)\n{{\n\t{ret}\n}}\n'


def _defines(cflags: Sequence[str]) -> dict[str, str]:
    """``-DNAME=VALUE`` / ``-D NAME`` of cflags as a dict (bcc scripts pick types this way:
    ``-DCTXTYPE=xdp_md``)."""
    out: dict[str, str] = {}
    flags = list(cflags)
    for i, f in enumerate(flags):
        d = f[2:] if f.startswith("-D") and len(f) > 2 else (flags[i + 1] if f == "-D" and i + 1 < len(flags) else "")
        if d:
            name, _, value = d.partition("=")
            out[name] = value or "1"
    return out


def _license(text: str, cflags: Sequence[str]) -> str:
    if re.search(r'SEC\s*\(\s*"license"\s*\)', text):
        return ""
    if "BPF_LICENSE" in text or any("BPF_LICENSE" in f for f in cflags):
        return ('#define __BCC_XSTR(x) __BCC_STR(x)\n#define __BCC_STR(x) #x\n'
                'char _license[] SEC("license") = __BCC_XSTR(BPF_LICENSE);\n')
    return 'char _license[] SEC("license") = "GPL";\n'


def rewrite(
    text: str,
    *,
    cflags: Sequence[str] = (),
    usdt: bool | Sequence[object] = False,
    kernel: KernelInfo | None = None,
    attach: Sequence[AttachRequest] = (),
    name: str = "<bcc>",
) -> RewriteResult:
    """Translate bcc-dialect C into BPF C that :func:`pybpf.cc.compile` builds.

    ``attach`` names functions the Python side will attach as kprobes/kretprobes
    (``attach_kprobe(event=..., fn_name=...)``): they are rewritten for this kernel (a
    tracepoint adapter when it has no kprobes). ``usdt`` (true or a non-empty list of USDT
    contexts) makes ``bpf_usdt_readarg()`` available. ``kernel`` defaults to the running
    kernel (:func:`~pybpf.bcc.dialect.kernel.live_kernel`).

    Raises:
        RewriteError: bcc C that cannot be translated (names the line).
        NotSupportedError: a kprobe the kernel cannot run and no tracepoint stands in for.

    Example::

        r = rewrite('int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello!\\\\n"); return 0; }')
        r.probes[0].section     # 'tracepoint/syscalls/sys_enter_clone' on a kernel without kprobes
    """
    kernel = kernel if kernel is not None else live_kernel()
    try:
        rw = _Rewriter(text, kernel=kernel, attach=attach, name=name, cflags=cflags)
        body = rw.run()
    except TokenizeError as exc:
        raise RewriteError(str(exc)) from None
    # vmlinux.h first and by name, so pybpf.cc sees it (generated, precompiled) before bcc_helpers.h
    pre = [f'#line 1 "{PREAMBLE_FILE}"', '#include "vmlinux.h"', "#include <bcc_helpers.h>"]
    if usdt:
        pre += ["#include <bpf/usdt.bpf.h>",
                "#define bpf_usdt_readarg(n, ctx, addr) ({ long ___bcc_u = 0; "
                "int ___bcc_e = bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &___bcc_u); "
                "*(addr) = (__typeof__(*(addr)))___bcc_u; ___bcc_e; })",
                "#define bpf_usdt_readarg_p(n, ctx, buf, len) ({ long ___bcc_u = 0; "
                "bpf_usdt_arg((struct pt_regs *)(ctx), (n) - 1, &___bcc_u); "
                "bpf_probe_read_user((buf), (len), (void *)___bcc_u); })"]
    pre += list(rw.formats.values())
    preamble = "\n".join(pre) + "\n"
    file_name = name.replace("\\", "\\\\").replace('"', '\\"')
    head = preamble + f'#line 1 "{file_name}"\n'
    if not body.endswith("\n"):
        body += "\n"
    tail = f'#line 1 "{GENERATED_FILE}"\n' + "".join(rw.generated) + _license(text, cflags)
    c_source = head + body + tail
    n_head, n_body, n_tail = head.count("\n"), body.count("\n"), tail.count("\n")
    line_map = [0] * n_head + list(range(1, n_body + 1)) + [0] * n_tail
    return RewriteResult(c_source=c_source, maps=rw.maps, probes=rw.probes, fallbacks=rw.fallbacks,
                         functions=rw.functions, line_map=line_map, include_dirs=[str(BCC_INCLUDE_DIR)], name=name)


def _user_lines_error(exc: CompileError, result: RewriteResult, text: str) -> CompileError:
    lines = text.splitlines()
    shown = []
    for m in exc.messages:
        file, line = getattr(m, "file", ""), getattr(m, "line", 0)
        if file == result.name and getattr(m, "is_error", False) and 0 < line <= len(lines):
            shown.append(f"{m}\n    {lines[line - 1].strip()}")
    first = f": {shown[0]}" if shown else ""
    return CompileError(f"compiling the bcc program {result.name} failed{first}", diagnostics=exc.diagnostics,
                        command=exc.command, messages=exc.messages)


def compile_bcc(
    text: str,
    cflags: Sequence[str] = (),
    *,
    usdt: bool | Sequence[object] = False,
    kernel: KernelInfo | None = None,
    attach: Sequence[AttachRequest] = (),
    name: str = "<bcc>",
    include_dirs: Sequence[str | os.PathLike[str]] = (),
) -> tuple[Path, RewriteResult]:
    """Rewrite bcc C and compile it: ``(path of the .o, the RewriteResult)``.

    A compiler error is a :class:`~pybpf.errors.CompileError` whose diagnostics name the
    user's lines (``<bcc>:3:5: error: ...``) and whose message quotes the first one.

    Example::

        obj, result = compile_bcc('BPF_HASH(counts, u32);\\n'
                                  'TRACEPOINT_PROBE(sched, sched_switch) { u32 k = 0; counts.increment(k); return 0; }')
    """
    from ...cc import compile as cc_compile

    result = rewrite(text, cflags=cflags, usdt=usdt, kernel=kernel, attach=attach, name=name)
    dirs = [*include_dirs, BCC_INCLUDE_DIR]
    try:
        obj = cc_compile(result.c_source, include_dirs=dirs, cflags=list(cflags), name=name)
    except CompileError as exc:
        raise _user_lines_error(exc, result, text) from None
    return obj, result


__all__ = ["BCC_INCLUDE_DIR", "GENERATED_FILE", "LOADABLE_SECTION", "compile_bcc", "rewrite"]
