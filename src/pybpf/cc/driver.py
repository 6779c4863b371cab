"""``compile()``: C source to an eBPF object, with pybpf's headers, vmlinux.h and a cache."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import CompileError
from .cache import ObjectCache, cache_dir, parse_depfile, sha256_text
from .diagnostics import Diagnostic, Severity, parse_diagnostics, rename_in_text
from .discovery import Compiler, CompilerKind, discover_compiler, target_arch
from .headers import STATIC_INCLUDE_DIR, generated_include_dir, includes_vmlinux, vmlinux_include_dir
from .pch import PchBuild, is_pch_failure, pch_path, starts_with_vmlinux

log = logging.getLogger("pybpf.cc")

#: the file name source text is written under (it appears in BTF line info)
_TEXT_FILE = "prog.bpf.c"
_VMLINUX_MISSING = "'vmlinux.h' file not found"


#: per-driver extras: zig's freestanding target disables builtins (see pybpf_builtins.h)
_KIND_FLAGS: dict[CompilerKind, list[str]] = {
    CompilerKind.CLANG: [],
    CompilerKind.ZIG: ["-include", str(STATIC_INCLUDE_DIR / "bpf" / "pybpf_builtins.h")],
}


def _system_include_dirs() -> list[str]:
    """Host UAPI header directories (``linux/bpf.h`` ...) searched after everything else."""
    candidates = ["/usr/include", f"/usr/include/{platform.machine()}-linux-gnu"]
    return [d for d in candidates if os.path.isdir(os.path.join(d, "linux")) or os.path.isdir(os.path.join(d, "asm"))]


def compiler_flags(
    compiler: Compiler,
    *,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    cflags: Sequence[str] = (),
    extra_include_dirs: Sequence[Path] = (),
) -> list[str]:
    """The flags :func:`compile` passes (everything but the source and output files).

    Order of the include path: the user's ``include_dirs``, then ``extra_include_dirs``
    (generated headers), then pybpf's own headers, then the host's UAPI headers if any.
    The user's ``defines`` and ``cflags`` come after pybpf's defaults and so override them.
    """
    flags = [
        *compiler.target_flags,
        "-O2",
        "-g",
        f"-D__TARGET_ARCH_{target_arch()}",
        "-D__BPF_TRACING__",
        "-fno-unwind-tables",
        "-fno-asynchronous-unwind-tables",
    ]
    for d in include_dirs:
        flags += ["-I", os.path.abspath(os.fspath(d))]
    for d in extra_include_dirs:
        flags += ["-I", str(d)]
    flags += ["-I", str(STATIC_INCLUDE_DIR)]
    for d in _system_include_dirs():
        flags += ["-idirafter", d]
    flags += _KIND_FLAGS[compiler.kind]
    for key, value in (defines or {}).items():
        flags.append(f"-D{key}" if value is None else f"-D{key}={value}")
    flags += list(cflags)
    return flags


def _run_compiler(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    log.debug("running %s", " ".join(cmd))
    try:
        return subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise CompileError(f"cannot run the compiler {cmd[0]}: {exc}", command=cmd) from exc


def compile(  # noqa: A001 - the verb users expect
    source_or_path: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    cflags: Sequence[str] = (),
    name: str = "<source>",
    cache: bool = True,
) -> Path:
    """Compile C into an eBPF object and return the object's path.

    ``source_or_path`` is a path (``str`` ending in ``.c``/``.h`` that exists, or any
    ``os.PathLike``) or C source text. The program may include pybpf's headers
    (``<bpf/bpf_helpers.h>``, ``<bpf/bpf_tracing.h>``, ``<bpf/bpf_core_read.h>``,
    ``<bpf/bpf_endian.h>``) and ``"vmlinux.h"``, which is generated from the running
    kernel's BTF the first time a source includes it (unless one of ``include_dirs`` has
    its own ``vmlinux.h``).

    Flags: ``-target bpfel -O2 -g -D__TARGET_ARCH_<x86|arm64> -D__BPF_TRACING__``, then
    ``defines`` (``{"NAME": "value"}``, ``None`` for a bare ``-DNAME``) and ``cflags``.

    With ``cache`` (default), the object is looked up by a hash of the compiler version,
    flags, source and every header it read, under :func:`pybpf.cc.cache_dir`; a hit does
    not run the compiler. Without ``output`` the returned path is inside the cache: treat
    it as read-only (pass ``output=`` to get your own copy).

    ``name`` is how diagnostics refer to source text (paths are reported as given).

    Raises:
        CompilerNotFoundError: no clang with the bpf target and no ``ziglang`` package.
        CompileError: the compiler failed; ``.messages`` holds :class:`Diagnostic` records
            (file, line, column, severity, message) and ``.diagnostics`` its raw output.

    Example::

        obj = pybpf.cc.compile('#include <bpf/bpf_helpers.h>\\n'
                               'SEC("xdp") int pass(void *ctx) { return 2; }\\n'
                               'char LICENSE[] SEC("license") = "GPL";\\n')
    """
    compiler = discover_compiler()
    root = cache_dir()
    src_path: Path | None = None
    if _looks_like_path(source_or_path):
        src_path = Path(os.fspath(source_or_path)).absolute()
        try:
            text = src_path.read_text(errors="replace")
        except OSError as exc:
            raise CompileError(f"cannot read the C source {src_path}: {exc}") from exc
        display = os.fspath(source_or_path)
    else:
        text = str(source_or_path)
        display = name

    own_vmlinux = any(_own_vmlinux(Path(d), root) for d in include_dirs) or (
        src_path is not None and _own_vmlinux(src_path.parent, root)
    )
    want_vmlinux = includes_vmlinux(text) and not own_vmlinux
    use_pch = want_vmlinux and starts_with_vmlinux(text)
    with tempfile.TemporaryDirectory(prefix="pybpf-cc-") as tmp:
        work = Path(tmp)
        if src_path is None:
            src = work / _TEXT_FILE
            src.write_text(text)
        else:
            src = src_path
        rename = {str(src): display}
        while True:
            extra = [generated_include_dir(root)]
            vdir = vmlinux_include_dir(root) if want_vmlinux else None
            if vdir is not None:
                extra.insert(0, vdir)
            flags = compiler_flags(
                compiler, include_dirs=include_dirs, defines=defines, cflags=cflags, extra_include_dirs=extra
            )
            if src_path is None:
                flags.append(f"-fdebug-prefix-map={work}=.")
            key = sha256_text(
                compiler.kind.value,
                compiler.version,
                json.dumps([f for f in flags if not f.startswith("-fdebug-prefix-map=")]),
                text,
                str(src_path or ""),
            )
            store = ObjectCache(root)
            if cache:
                hit = store.lookup(key)
                if hit is not None:
                    return _deliver(hit, output)
            obj = work / "out.o"
            dep = work / "out.d"
            pch_flags, pch_build = (_vmlinux_pch(compiler, vdir, flags, may_build=not defines and not cflags)
                                    if use_pch and vdir is not None else ([], None))
            cmd = [*compiler.command, *flags, *pch_flags, "-c", str(src), "-o", str(obj), "-MD", "-MF", str(dep)]
            proc = _run_compiler(cmd)
            if pch_build is not None:
                pch_build.wait()
            stderr = rename_in_text(proc.stderr, rename)
            messages = parse_diagnostics(proc.stderr, rename=rename)
            if proc.returncode != 0:
                if pch_flags and is_pch_failure(proc.stderr, Path(pch_flags[-1])):
                    # stale (vmlinux.h rewritten since) or damaged: drop it, the next compile rebuilds it
                    log.debug("the precompiled vmlinux.h was refused; compiling with the plain header: %s",
                              proc.stderr.strip())
                    Path(pch_flags[-1]).unlink(missing_ok=True)
                    use_pch = False
                    continue
                if not want_vmlinux and not own_vmlinux and any(_VMLINUX_MISSING in m.message for m in messages):
                    want_vmlinux = True  # included from a header: generate it and try again
                    continue
                raise _compile_error(display, stderr, cmd, messages)
            break
        for m in messages:
            if m.severity is Severity.WARNING:
                log.warning("%s", m)
        if cache:
            deps = [os.path.abspath(d) for d in parse_depfile(dep.read_text()) if os.path.abspath(d) != str(src)]
            return _deliver(store.store(key, obj, deps), output)
        if output is not None:
            return _deliver(obj, output)
        keep = Path(tempfile.mkdtemp(prefix="pybpf-cc-")) / (Path(display).stem + ".o")
        shutil.copyfile(obj, keep)
        return keep


def _own_vmlinux(directory: Path, cache_root: Path) -> bool:
    """True when ``directory`` has a ``vmlinux.h`` that pybpf did not generate."""
    if not (directory / "vmlinux.h").is_file():
        return False
    generated = (cache_root / "vmlinux").absolute()
    return directory.absolute().parent != generated


def _vmlinux_pch(compiler: Compiler, vdir: Path, flags: list[str], *,
                 may_build: bool) -> tuple[list[str], PchBuild | None]:
    """(flags loading the PCH of ``vdir/vmlinux.h``, a PCH build started meanwhile).

    A PCH that exists for exactly these flags is used. Otherwise, for pybpf's default flags
    (``may_build``), it is built in the background while this program compiles the plain
    way (the one-time cost per kernel and compiler); for other flags the plain header is used.
    """
    pch = pch_path(vdir, compiler, flags)
    if pch.is_file():
        return ["-include-pch", str(pch)], None
    if not may_build:
        log.debug("no precompiled vmlinux.h for these defines/cflags; using the plain header")
        return [], None
    return [], PchBuild(compiler, vdir / "vmlinux.h", flags, pch)


def _deliver(obj: Path, output: str | os.PathLike[str] | None) -> Path:
    if output is None:
        return obj
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(obj, out)
    return out


def _compile_error(display: str, stderr: str, cmd: list[str], messages: list[Diagnostic]) -> CompileError:
    errors = [m for m in messages if m.is_error]
    first = f": {errors[0]}" if errors else ""
    return CompileError(f"compiling {display} failed{first}", diagnostics=stderr, command=cmd, messages=list(messages))


def _looks_like_path(value: str | os.PathLike[str]) -> bool:
    """A PathLike, or a one-line string naming a .c/.h file (C text has ; { } or #)."""
    if isinstance(value, os.PathLike):
        return True
    return (
        "\n" not in value
        and len(value) < 4096
        and value.endswith((".c", ".h"))
        and not any(ch in value for ch in ";{}#")
    )
