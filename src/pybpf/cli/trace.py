"""``pybpf trace``: bpftrace programs, compiled in-process (no clang, no system LLVM).

    pybpf trace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args.filename)); }'
    pybpf trace script.bt ARG1 ARG2          # $1, $2 ... and $#
    pybpf trace -l 'tracepoint:sched:*'      # -lv: with the tracepoint fields
    pybpf trace -c 'ls /' -e '...'           # trace until the command exits (cpid is its pid)
    pybpf trace -f json -e '...'             # bpftrace's NDJSON records
    pybpf trace --dry-run -e '...'           # the LLVM IR and the eBPF instructions, nothing loaded

A compiled program is kept in pybpf's cache (``~/.cache/pybpf/trace``, see pybpf.trace.cache):
the next run of the same program on the same kernel starts without compiling. ``--no-cache``
(or PYBPF_TRACE_CACHE=0) compiles every time and leaves the cache alone.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

from ..errors import BPFError

TYPE_CHECKING = False  # not typing's: a cached launch (pybpf.trace.quick) starts from this module
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, TextIO

    from .._sys.replay import Replayed
    from ..loader.prepared import PreparedBTF
    from ..trace.cache import TraceCache
    from ..trace.quick import Declined


class CodegenUnavailableError(BPFError):
    """Code generation (pybpf.trace.codegen.compile_script) is not part of this build yet."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ._help import RawDescriptionHelpFormatter

    p = subparsers.add_parser(
        "trace", help="run a bpftrace program", description="Run a bpftrace program (one-liner or script).",
        formatter_class=RawDescriptionHelpFormatter, epilog=__doc__,
    )
    for strings, dest, kind, choices, default, metavar, help_text in _OPTIONS:
        if kind == "flag":
            p.add_argument(*strings, dest=dest, action="store_true", default=default, help=help_text)
        else:
            p.add_argument(*strings, dest=dest, type=int if kind == "int" else None, choices=choices,
                           default=default, metavar=metavar, help=help_text)
    p.add_argument("args", nargs="*", metavar="ARG",
                   help="script file (without -e) and positional parameters $1, $2 ...; with -l: the pattern")
    p.set_defaults(func=run)


if TYPE_CHECKING:
    #: option strings, dest, kind ("flag": store_true; "value": a string; "int"; "choice": one
    #: of choices), choices, default, metavar, help
    _Option = tuple[tuple[str, ...], str, str, tuple[str, ...] | None, object, str | None, str]

#: the options of ``pybpf trace`` (all but the positional ``args``), in --help order, declared
#: once: :func:`register` adds them to the argparse parser, :func:`parse_launch` reads them. Plain
#: tuples: a cached launch imports this module first (no dataclasses, enum or typing here).
_OPTIONS: tuple[_Option, ...] = (
    (("-e",), "program", "value", None, None, "PROGRAM", "the program text"),
    (("-l",), "list", "flag", None, False, None, "list probes matching the pattern given as the first argument"),
    (("-v",), "verbose", "flag", None, False, None, "with -l: show tracepoint arguments"),
    (("-p",), "pid", "int", None, None, "PID", "enable USDT/uprobes for PID; stop when it exits"),
    (("-c",), "command", "value", None, None, "CMD", "run CMD, trace until it exits (cpid is its pid)"),
    (("-f",), "format", "choice", ("text", "json"), "text", None, "output format"),
    (("-o",), "output", "value", None, None, "FILE", "write the program's output to FILE"),
    (("-q",), "quiet", "flag", None, False, None, "no 'Attaching N probes...' line"),
    (("--unsafe",), "unsafe", "flag", None, False, None, "allow system() and signal()"),
    (("--dry-run",), "dry_run", "flag", None, False, None, "print the LLVM IR and the eBPF instructions, then stop"),
    (("--emit-obj",), "emit_obj", "value", None, None, "FILE",
     "write the compiled ELF object to FILE (pybpf.load reads it)"),
    (("--no-cache",), "no_cache", "flag", None, False, None,
     "compile even if this program is in the cache, and do not store it (also: PYBPF_TRACE_CACHE=0)"),
)
#: each option of :data:`_OPTIONS` by each of its option strings
_OPTION_BY_STRING = {string: option for option in _OPTIONS for string in option[0]}


def parse_launch(argv: Sequence[str]) -> SimpleNamespace | None:
    """The arguments ``pybpf trace`` is given (``argv`` after ``trace``) parsed as the argparse
    parser of :func:`register` parses them, for the forms a launch takes: each option its own
    word, option values that do not start with ``-``, then the script and its parameters.
    None for anything else (``-h``, ``-qv``, ``--emit-obj=F``, ``--``, a word starting with ``-``
    among the parameters, a bad ``-p`` or ``-f``...): the argparse parser handles those, with its
    messages. A launch then imports no argparse (~5 ms with its translations and parser building)."""
    values: dict[str, Any] = {option[1]: option[4] for option in _OPTIONS}
    positional: list[str] = []
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        if positional:  # argparse takes one run of parameters; an option after them is its business
            return None
        option = _OPTION_BY_STRING.get(word)
        if option is None:
            return None
        _, dest, kind, choices, _, _, _ = option
        if kind == "flag":
            values[dest] = True
            continue
        value = next(words, None)
        if value is None or value.startswith("-"):
            return None
        if kind == "int":
            try:
                values[dest] = int(value)
            except ValueError:
                return None
        elif kind == "choice" and value not in (choices or ()):
            return None
        else:
            values[dest] = value
    return SimpleNamespace(**values, args=positional, func=run)


def program_source(args: argparse.Namespace) -> tuple[str, str, tuple[str, ...]]:
    """(program text, filename for messages, positional parameters)."""
    if args.program is not None:
        return args.program, "stdin", tuple(args.args)
    if not args.args:
        raise BPFError("no program: give -e 'PROGRAM' or a script file (see pybpf trace --help)")
    path = args.args[0]
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path, tuple(args.args[1:])
    except OSError as exc:
        raise BPFError(f"cannot read script {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BPFError(f"cannot read script {path}: not UTF-8 text (byte {exc.start})") from None


def _list(args: argparse.Namespace) -> int:
    from ..trace.runtime.listing import probe_listing

    pattern = args.args[0] if args.args else None
    if args.program is not None:
        raise BPFError("-l lists probes; it does not run -e programs (drop one of them)")
    listing = probe_listing(pattern, verbose=args.verbose)
    for remark in listing.remarks:
        sys.stderr.write(f"pybpf: note: {remark}\n")
    out = sys.stdout
    for line in listing.lines:
        out.write(line + "\n")
    return 0


def compile_program(text: str, filename: str, params: tuple[str, ...], *, unsafe: bool, cpid: int = 0) -> Any:
    """Parse, check and compile ``text``: the ``CompiledScript`` code generation returns."""
    from ..trace import analyse, parse
    from ..trace.semantic.model import Env

    typed = analyse(parse(text, filename=filename), env=Env(unsafe=unsafe, params=params))
    try:
        from ..trace.codegen import compile_script
    except ImportError:
        raise CodegenUnavailableError(
            "the program parses and type-checks, but code generation (pybpf.trace.codegen.compile_script) "
            "is not available in this build yet; use Debian's bpftrace meanwhile") from None
    return compile_script(typed, cpid=cpid)


def cached_program(text: str, filename: str, params: tuple[str, ...], *, unsafe: bool, cpid: int = 0,
                   use_cache: bool = True) -> Any:
    """The compiled script from the cache when this program was compiled before for this kernel
    (nothing of the compiler is imported then), else :func:`compile_program`'s, then stored."""
    if not use_cache:
        return compile_program(text, filename, params, unsafe=unsafe, cpid=cpid)
    from ..trace.cache import TraceCache, cache_key

    cache = TraceCache()
    key = cache_key(text, filename, params, unsafe=unsafe, cpid=cpid)
    script = cache.lookup(key)
    if script is None:
        script = compile_program(text, filename, params, unsafe=unsafe, cpid=cpid)
        cache.store(key, script)
    return script


class _Launch:
    """What a launch loads: the script, the BTF prepared for it (a cache hit that keeps it apart:
    pybpf.btf is not imported), and where to keep the launch record of this run (a cached
    program without one, when the lean start could replay it: see pybpf.trace.quick)."""

    def __init__(self, script: Any, prepared: PreparedBTF | None = None,
                 record_launch: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.script = script
        self.prepared = prepared
        self.record_launch = record_launch


def _compiled(text: str, filename: str, params: tuple[str, ...], *, unsafe: bool, cpid: int, use_cache: bool,
              record: bool, rerecord: bool = False, key: str | None = None) -> _Launch:
    """The program to launch, from the cache or compiled (and stored); ``record``: whether this
    run's start may be recorded for the lean start of later ones (when the entry has no launch
    record yet, or ``rerecord``: the one it has did not replay); ``key``: the cache key of these
    arguments when the caller has it."""
    if not use_cache:
        return _Launch(compile_program(text, filename, params, unsafe=unsafe, cpid=cpid))
    from ..trace.cache import TraceCache, cache_key

    cache = TraceCache()
    if key is None:
        key = cache_key(text, filename, params, unsafe=unsafe, cpid=cpid)

    def keep(launch_record: dict[str, Any]) -> None:
        cache.add_launch(key, launch_record)

    entry = cache.read_entry(key)
    decoded = cache.decode_prepared(entry) if entry is not None else None
    if entry is None or decoded is None:
        script = compile_program(text, filename, params, unsafe=unsafe, cpid=cpid)
        stored = cache.store(key, script) is not None
        return _Launch(script, record_launch=keep if record and stored else None)
    script, prepared = decoded
    return _Launch(script, prepared, keep if record and (entry[5] is None or rerecord) else None)


def _prepared_loader(prepared: PreparedBTF) -> Callable[[Any], Any]:
    """:func:`pybpf.load` for a spec whose BTF is ``prepared`` (the Session's ``loader``)."""
    def load(spec: Any) -> Any:
        from ..collection import Collection
        from ..loader import load_spec

        loaded = load_spec(spec, prepared_btf=prepared)
        return Collection(loaded.programs, loaded.maps, spec=spec, struct_ops=loaded.struct_ops)

    return load


def _output(path: str | None) -> Any:
    """A context giving the output stream: stdout, or ``path`` opened for writing."""
    import contextlib

    if path is None:
        return contextlib.nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise BPFError(f"cannot write {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    try:
        if args.list:
            return _list(args)
        from ..trace.quick import launch

        status = launch(args)
        return status if isinstance(status, int) else _run(args, status)
    except BPFError as exc:
        from ..trace.errors import TraceError  # (imported here: a lean start does not import it)

        if not isinstance(exc, TraceError):
            raise
        sys.stderr.write(f"{exc}\n")
        return 1


def _run(args: argparse.Namespace, declined: Declined | None = None) -> int:
    """The ordinary launch (``declined``: why the lean start did not take it, see pybpf.trace.quick)."""
    from ..trace.quick import replayable
    from ..trace.runtime.output import make_printer
    from ..trace.runtime.session import PausedCommand, Session, SessionOptions

    text, filename, params = program_source(args)
    if args.dry_run:
        script = compile_program(text, filename, params, unsafe=args.unsafe)
        sys.stdout.write(script.ir.rstrip("\n") + "\n\n" + script.disassembly().rstrip("\n") + "\n")
        return 0
    child = PausedCommand(args.command) if args.command else None
    try:
        from ..trace.cache import enabled

        launch = _compiled(text, filename, params, unsafe=args.unsafe, cpid=child.pid if child else 0,
                           use_cache=enabled(args.no_cache), record=replayable(args),
                           rerecord=declined is not None and declined.stale,
                           key=declined.key if declined is not None and child is None else None)
        loader = _prepared_loader(launch.prepared) if launch.prepared is not None else None
        if args.emit_obj:
            launch.script.write_object(args.emit_obj)
        with _output(args.output) as out:
            quiet = args.quiet or (declined is not None and declined.attaching_printed)
            printer = make_printer(out, fmt=args.format, quiet=quiet, err=sys.stderr, terminal=sys.stdout)
            options = SessionOptions(pid=args.pid, record_launch=launch.record_launch)
            return Session(launch.script, printer, options, child=child, loader=loader).run()
    finally:
        if child is not None:
            child.close()


def run_adopted(args: argparse.Namespace, cache: TraceCache, entry: tuple[Any, ...], record: dict[str, Any],
                replayed: Replayed, *, interrupted: Callable[[], bool]) -> int:
    """Go on with a trace the lean start (pybpf.trace.quick) loaded, attached and began to print:
    the runtime adopts what it made. A cache entry that does not decode after all is launched
    again the ordinary way (what the lean start made is closed first)."""
    from ..trace.runtime.output import make_printer
    from ..trace.runtime.session import Session, SessionOptions
    from ..trace.runtime.startup import adopt

    decoded = cache.decode_entry(entry)
    if decoded is None:
        from ..trace.quick import Declined

        replayed.close()
        return _run(args, Declined(attaching_printed=not args.quiet, key=str(entry[1])))
    script = decoded[0]
    adopted = adopt(record, replayed, script, interrupted=interrupted)
    printer = make_printer(sys.stdout, fmt=args.format, quiet=args.quiet, err=sys.stderr, terminal=sys.stdout)
    return Session(script, printer, SessionOptions(pid=args.pid)).run(adopted=adopted)
