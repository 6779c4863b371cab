"""The on-disk cache of compiled ``pybpf trace`` programs, under ``pybpf._cache_dir.cache_dir() / "trace"``.

Parsing, type-checking and compiling a one-liner with LLVM costs several times what loading it
does. A later run of the same program on the same kernel reads the compiled script (the
:class:`~pybpf.spec.ObjectSpec`, its probes, maps and event layouts) from here instead, without
importing the parser, the analyser, code generation, llvmlite or the ELF reader.

The *key* hashes what the compiled object depends on and is known before compiling: the program
text and file name, the positional parameters, ``--unsafe``, the ``-c`` command's pid when the
program reads ``cpid``, the modules' load addresses when it calls ``kaddr()``, the number of
CPUs, the running kernel (release, build, the size and mtime of its BTF, which change with a
reboot, and the modules that have BTF: tracepoint formats and BTF types come from there),
pybpf's compiler sources (size and mtime of each module: a changed compiler is a new key),
llvmlite and the Python version. The *entry* also lists the binaries the program probes
(uprobe, uretprobe and usdt targets, whose symbols, DWARF and USDT notes are read while
compiling) with their size and mtime; a changed binary makes the entry stale. What only the
run needs (``-p PID``, the output format, uprobe addresses, which the attach step resolves) is
part of neither.

Entries are :mod:`marshal` data of builtins only, never pickles: dataclasses and enums are
written as (class name, fields) and read back only for classes of :data:`_MODULES`. When the
object's BTF loads as it was marshalled (:func:`pybpf.loader.prepared.prepare_btf`), the entry
keeps it apart, as the blob and packed func/line info the kernel takes: a launch
(:meth:`TraceCache.lookup_prepared`) then loads it without importing :mod:`pybpf.btf`, while
:meth:`TraceCache.lookup` gives the whole script back. A missing,
truncated, corrupt, stale or foreign entry is a miss; reading the cache never raises. Bypass it
with ``pybpf trace --no-cache`` or ``PYBPF_TRACE_CACHE=0``.

An entry also keeps the *launch record* of the program's first run (:meth:`TraceCache.add_launch`;
:mod:`pybpf.trace.runtime.startup`): the load and attach that run made, recorded at the syscall
seam. A later launch replays it before importing the runtime (:mod:`pybpf.trace.quick`), with
:meth:`TraceCache.read_entry`, which checks an entry without decoding it.
"""

from __future__ import annotations

import marshal
import os
import sys

from .._cache_dir import cache_dir_name
from .._log import get_logger
from ..errors import BPFError

TYPE_CHECKING = False  # not typing's: a launch (pybpf.trace.quick) reads entries before importing it
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import Any

    from ..loader.prepared import PreparedBTF
    from .codegen.result import CompiledScript

log = get_logger("pybpf.trace.cache")

#: bumped when the entry layout changes (old entries become misses)
FORMAT = 3
#: the first bytes of every entry file
MAGIC = b"pybpf-trace-cache\n"
#: modules whose dataclasses and enums an entry may name; nothing else is ever instantiated
_MODULES = frozenset({
    "pybpf.enums", "pybpf.spec", "pybpf.btf.types", "pybpf.trace.types", "pybpf.trace.points",
    "pybpf.trace.layouts", "pybpf.trace.semantic.model", "pybpf.trace.codegen.result",
})
#: probe kinds whose target is a binary read while compiling (symbols, USDT notes)
_BINARY_PROBES = ("uprobe", "uretprobe", "usdt")
#: where the kernel publishes its BTF (vmlinux, and one file per module that has BTF)
KERNEL_BTF_DIR = "/sys/kernel/btf"


class CacheFormatError(ValueError):
    """An entry that cannot be written or read back (a class outside :data:`_MODULES`, bad data)."""


def enabled(no_cache_flag: bool = False) -> bool:
    """Whether ``pybpf trace`` uses the cache: not with ``--no-cache`` or ``PYBPF_TRACE_CACHE=0``."""
    return not no_cache_flag and os.environ.get("PYBPF_TRACE_CACHE", "1").strip().lower() not in ("0", "no", "off")


# ----------------------------------------------------------------------------- the key


#: parts of pybpf that compiling a program never runs (the loader, the runtime, other front
#: ends): editing them does not make cached programs stale
_NOT_COMPILER = frozenset({
    "/vm", "/bcc", "/cc", "/cli", "/events", "/stacks", "/loader", "/maps", "/features", "/trace/runtime",
    "/collection.py", "/map.py", "/program.py", "/_collection_base.py", "/_lifetime.py",
})


def _package_files(root: str) -> list[tuple[str, int, int]]:
    """(path under ``root``, size, mtime ns) of the compiler's Python modules below ``root``, sorted."""
    out: list[tuple[str, int, int]] = []
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for e in entries:
                rel = e.path[len(root):]
                if rel in _NOT_COMPILER:
                    continue
                if e.name.endswith(".py"):
                    st = e.stat()
                    out.append((rel, st.st_size, st.st_mtime_ns))
                elif e.is_dir(follow_symlinks=False) and e.name != "__pycache__" and not e.name.startswith("."):
                    pending.append(e.path)
    out.sort()
    return out


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _shared_library(package_dir: str) -> tuple[int, int] | None:
    """Size and mtime of llvmlite's shared library in its package directory ``package_dir``."""
    lib_dir = os.path.join(package_dir, "binding")
    try:
        libs = sorted(n for n in os.listdir(lib_dir) if n.startswith("libllvmlite"))
    except OSError:
        return None
    return _stat(os.path.join(lib_dir, libs[0])) if libs else None


def _llvmlite_identity() -> tuple[int, int] | None:
    """Size and mtime of llvmlite's shared library (the LLVM that compiles), without importing it
    (nor importlib, ~0.6 ms of a launch: the package is looked up on sys.path as PathFinder would)."""
    for entry in sys.path:
        package_dir = os.path.join(entry or ".", "llvmlite")
        if os.path.isdir(package_dir):
            return _shared_library(package_dir)
    import importlib.util  # installed through another finder (a zip...)

    spec = importlib.util.find_spec("llvmlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    return _shared_library(next(iter(spec.submodule_search_locations)))


def kernel_identity(btf_dir: str = KERNEL_BTF_DIR) -> tuple[object, ...]:
    """What identifies the running kernel's types and tracepoints: uname, vmlinux BTF size and
    mtime, the modules with BTF."""
    u = os.uname()
    try:
        modules: tuple[str, ...] = tuple(sorted(os.listdir(btf_dir)))
    except OSError:
        modules = ()
    return u.release, u.version, u.machine, _stat(os.path.join(btf_dir, "vmlinux")), modules


def cache_key(text: str, filename: str, params: Sequence[str], *, unsafe: bool, cpid: int = 0,
              kernel: tuple[object, ...] | None = None) -> str:
    """The key of a program: the SHA-256 of every input its compiled object depends on (see the module doc)."""
    try:  # CPython's built-in SHA-256: importing hashlib (OpenSSL) costs more than the whole lookup
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256

    from .. import __file__ as package_init

    parts = (
        FORMAT, sys.version, _package_files(os.path.dirname(package_init)), _llvmlite_identity(),
        kernel_identity() if kernel is None else kernel, os.cpu_count(),
        text, filename, tuple(params), bool(unsafe),
        cpid if "cpid" in text else 0,  # compiled in as a constant only where the program reads it
        _module_addresses() if "kaddr" in text else None,  # kaddr() compiles in a /proc/kallsyms address
    )
    digest: str = sha256(repr(parts).encode()).hexdigest()
    return digest


def _module_addresses() -> str:
    """``/proc/modules`` (load addresses included): a module loaded again moves its symbols.

    (vmlinux's own symbols move only with a reboot, which changes the mtime of its BTF.)
    """
    try:
        with open("/proc/modules") as f:
            return f.read()
    except OSError:
        return ""


def _resolve_binary(target: str) -> str:
    """The file a uprobe/usdt target names (a bare name is looked up on PATH, as the analyser does)."""
    if "/" in target:
        return target
    import shutil

    return shutil.which(target) or target


def binary_dependencies(script: CompiledScript) -> list[tuple[str, str, tuple[int, int] | None]]:
    """(target as written, the file it resolves to, its size and mtime) of every probed binary."""
    targets = sorted({p.attach_point.target for p in script.probes
                      if str(p.kind) in _BINARY_PROBES and p.attach_point.target})
    return [(t, path, _stat(path)) for t in targets for path in (_resolve_binary(t),)]


def _dependencies_unchanged(deps: Any) -> bool:
    for target, path, stat in deps:
        if _resolve_binary(target) != path or _stat(path) != stat:
            log.debug("trace cache: %s changed since the program was compiled", target)
            return False
    return True


# ----------------------------------------------------------------------------- the codec


def _class_name(obj: object) -> str:
    cls = type(obj)
    if cls.__module__ not in _MODULES:
        raise CacheFormatError(f"{cls.__module__}.{cls.__qualname__} is not a class the trace cache stores")
    return f"{cls.__module__}:{cls.__qualname__}"


def encode(obj: object) -> object:
    """``obj`` as marshal-able builtins: every container and object becomes a tagged tuple."""
    import dataclasses
    import enum

    from ..btf import BTF
    from ..isa import Instruction, encode as encode_insns

    def enc(o: object) -> object:
        if o is None or isinstance(o, (bool, int, float, str, bytes)) and not isinstance(o, enum.Enum):
            return o
        if isinstance(o, enum.Enum):
            return ("e", _class_name(o), o.value)
        if isinstance(o, bytearray):
            return ("b", bytes(o))
        if isinstance(o, list):
            if o and all(isinstance(i, Instruction) for i in o):
                return ("i", encode_insns(o))
            return ("l", [enc(i) for i in o])
        if isinstance(o, tuple):
            return ("t", tuple(enc(i) for i in o))
        if isinstance(o, (set, frozenset)):
            return ("s", [enc(i) for i in o])
        if isinstance(o, dict):
            return ("d", [(enc(k), enc(v)) for k, v in o.items()])
        if isinstance(o, BTF):
            return ("btf", o.to_bytes())
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return ("c", _class_name(o), {f.name: enc(getattr(o, f.name)) for f in dataclasses.fields(o)})
        raise CacheFormatError(f"{type(o).__qualname__} values are not stored by the trace cache")

    return enc(obj)


class _Decoder:
    """Reads what :func:`encode` wrote; classes are looked up (and their modules imported) on first use."""

    def __init__(self) -> None:
        self._classes: dict[str, Any] = {}
        self._init_fields: dict[Any, tuple[frozenset[str], bool]] = {}
        self._tags: dict[str, Callable[[tuple[Any, ...]], object]] = {
            "e": lambda v: self._class(v[1])(v[2]),
            "b": lambda v: bytearray(v[1]),
            "l": lambda v: [self(i) for i in v[1]],
            "t": lambda v: tuple(self(i) for i in v[1]),
            "s": lambda v: frozenset(self(i) for i in v[1]),
            "d": lambda v: {self(k): self(x) for k, x in v[1]},
            "i": self._instructions,
            "btf": self._btf,
            "c": self._dataclass,
        }

    def _class(self, name: object) -> Any:
        cls = self._classes.get(str(name))
        if cls is None:
            import importlib

            module, _, qualname = str(name).partition(":")
            if module not in _MODULES:
                raise CacheFormatError(f"the entry names {name!r}, not a class the trace cache stores")
            cls = getattr(importlib.import_module(module), qualname)
            self._classes[str(name)] = cls
        return cls

    @staticmethod
    def _instructions(v: tuple[Any, ...]) -> object:
        from ..isa import decode

        return decode(v[1])

    @staticmethod
    def _btf(v: tuple[Any, ...]) -> object:
        from ..btf import BTF

        return BTF.from_bytes(v[1])

    def _dataclass(self, v: tuple[Any, ...]) -> object:
        cls = self._class(v[1])
        known = self._init_fields.get(cls)
        if known is None:
            import dataclasses

            fields = dataclasses.fields(cls)
            known = frozenset(f.name for f in fields if f.init), all(f.init for f in fields)
            self._init_fields[cls] = known
        names, all_init = known
        values = {k: self(x) for k, x in v[2].items()}
        obj = cls(**{k: x for k, x in values.items() if k in names})
        if not all_init:
            for k, x in values.items():
                if k not in names:
                    object.__setattr__(obj, k, x)
        return obj

    def __call__(self, data: object) -> object:
        if isinstance(data, tuple):
            return self._tags[data[0]](data)
        return data


def decode(data: object) -> object:
    """The object :func:`encode` turned into ``data``; :class:`CacheFormatError` (or the error of a
    class's own checks) on data it did not write."""
    return _Decoder()(data)


def _is_kept_btf(kept: object) -> bool:
    """Whether ``kept`` is what :meth:`TraceCache.store` writes for a BTF kept apart: (blob,
    {program: packed func info}, {program: packed line info}, encoded func/line info)."""
    def packed(d: object) -> bool:
        return isinstance(d, dict) and all(isinstance(k, str) and isinstance(v, bytes) for k, v in d.items())

    return (isinstance(kept, tuple) and len(kept) == 4 and isinstance(kept[0], bytes)
            and packed(kept[1]) and packed(kept[2]))


def _with_btf(script: CompiledScript, kept: tuple[Any, ...]) -> CompiledScript:
    """``script`` whose object_spec (stored without BTF) has its BTF and func/line info back."""
    import dataclasses

    from ..btf import BTF

    spec = script.object_spec
    infos: Any = decode(kept[3])
    programs = {n: dataclasses.replace(p, func_info=list(infos[n][0]), line_info=list(infos[n][1]))
                for n, p in spec.programs.items()}
    spec = dataclasses.replace(spec, btf=BTF.from_bytes(kept[0]), programs=programs)
    return dataclasses.replace(script, object_spec=spec)


# ----------------------------------------------------------------------------- the store


class TraceCache:
    """Compiled scripts by :func:`cache_key`, one file each under ``root`` (default: ``cache_dir()/trace``).

    At most ``max_entries`` are kept: storing one more removes the least recently used (a hit
    touches its entry's mtime).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, max_entries: int = 1000) -> None:
        # kept as a string: a lookup (a ``pybpf trace`` launch) does not import pathlib
        self._root = os.fspath(root) if root is not None else os.path.join(cache_dir_name(), "trace")
        self.max_entries = max_entries

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self._root)

    def path(self, key: str) -> Path:
        from pathlib import Path

        return Path(self._file(key))

    def _file(self, key: str) -> str:
        return os.path.join(self._root, key[:2], f"{key}.bin")

    def lookup(self, key: str) -> CompiledScript | None:
        """The script stored under ``key``, or None (missing, stale, unreadable or corrupt: never raises).

        An entry someone else could have written (another owner, group- or world-writable) is
        ignored: its programs are loaded into the kernel with this process's privileges.
        """
        found = self._read(key)
        if found is None:
            return None
        script, kept = found
        if kept is None:
            return script
        try:
            return _with_btf(script, kept)
        except Exception as exc:  # noqa: BLE001 - as in _read: a damaged entry is a miss
            log.warning("ignoring the damaged trace cache entry %s (%s: %s); compiling again",
                        self._file(key), type(exc).__name__, exc)
            return None

    def lookup_prepared(self, key: str) -> tuple[CompiledScript, PreparedBTF | None] | None:
        """What a launch needs (as :meth:`lookup`, never raises): the script and, when the entry
        keeps the BTF apart, the :class:`~pybpf.loader.prepared.PreparedBTF` to load its object
        with (the script's ``object_spec`` then has no BTF; see :func:`pybpf.loader.load_spec`)."""
        entry = self.read_entry(key)
        return None if entry is None else self.decode_prepared(entry)

    def decode_prepared(self, entry: tuple[Any, ...]) -> tuple[CompiledScript, PreparedBTF | None] | None:
        """:meth:`lookup_prepared` of an entry :meth:`read_entry` gave (None if it does not decode)."""
        found = self.decode_entry(entry)
        if found is None:
            return None
        script, kept = found
        if kept is None:
            return script, None
        from ..loader.prepared import PreparedBTF

        return script, PreparedBTF(kept[0], kept[1], kept[2])

    def read_entry(self, key: str) -> tuple[Any, ...] | None:
        """The entry stored under ``key`` as marshal gave it back: (format, key, binaries, script,
        BTF kept apart, launch record), checked but not decoded; None if missing, stale, foreign
        or damaged (never raises). Imports nothing: :mod:`pybpf.trace.quick` starts with it."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                    log.warning("ignoring the trace cache entry %s: not written by this user only", path)
                    return None
                raw = f.read()
        except OSError:
            return None
        try:
            if not raw.startswith(MAGIC):
                raise CacheFormatError("not a trace cache entry")
            entry = marshal.loads(raw[len(MAGIC):])
            if type(entry) is not tuple or len(entry) != 6 or entry[0] != FORMAT or entry[1] != key:
                raise CacheFormatError("an entry of another format or key")
            if not _dependencies_unchanged(entry[2]):
                return None
        except Exception as exc:  # noqa: BLE001 - any damage to the file is a miss, never a crash
            log.warning("ignoring the damaged trace cache entry %s (%s: %s); compiling again",
                        path, type(exc).__name__, exc)
            return None
        log.debug("trace cache hit %s", key[:12])
        try:
            os.utime(path)  # recently used: the last to be pruned
        except OSError:
            pass
        return entry

    def decode_entry(self, entry: tuple[Any, ...]) -> tuple[CompiledScript, tuple[Any, ...] | None] | None:
        """The script of an entry :meth:`read_entry` gave and its BTF kept apart (raw entry data),
        or None (logged) if it does not decode."""
        try:
            script = decode(entry[3])
            if type(script).__name__ != "CompiledScript":
                raise CacheFormatError("the entry does not hold a compiled script")
            kept = entry[4]
            if kept is not None and not _is_kept_btf(kept):
                raise CacheFormatError("the entry's prepared BTF is not (blob, func info, line info, infos)")
        except Exception as exc:  # noqa: BLE001 - any damage to the file is a miss, never a crash
            log.warning("ignoring the damaged trace cache entry %s (%s: %s); compiling again",
                        self._file(str(entry[1])), type(exc).__name__, exc)
            return None
        return script, kept  # type: ignore[return-value]

    def _read(self, key: str) -> tuple[CompiledScript, tuple[Any, ...] | None] | None:
        """The decoded script of the entry and its BTF kept apart (raw entry data), or None."""
        entry = self.read_entry(key)
        return None if entry is None else self.decode_entry(entry)

    def add_launch(self, key: str, record: dict[str, Any]) -> bool:
        """Keep ``record`` (:mod:`pybpf.trace.runtime.startup`) with the entry under ``key``;
        False if there is no such entry or it cannot be written."""
        entry = self.read_entry(key)
        if entry is None:
            return False
        try:
            data = MAGIC + marshal.dumps((*entry[:5], record))
        except ValueError as exc:
            log.warning("not keeping the launch record: %s", exc)
            return False
        return self._write(self._file(key), data)

    def _write(self, path: str, data: bytes) -> bool:
        """Write ``data`` to ``path`` at once (readers see the old file or the whole new one)."""
        import contextlib
        import tempfile

        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("cannot write the trace cache entry %s: %s", path, exc.strerror)
            return False
        return True

    def store(self, key: str, script: CompiledScript) -> Path | None:
        """Keep ``script`` (without its typed AST and IR) under ``key``; None when it cannot be
        stored (a read-only cache directory is not an error for the run)."""
        import dataclasses

        from ..loader.prepared import prepare_btf

        try:
            spec = script.object_spec
            try:
                prepared = prepare_btf(spec)
            except BPFError as exc:  # a BTF the loader's checks refuse: kept whole, it fails at load
                log.debug("not keeping the BTF apart: %s", exc)
                prepared = None
            kept: tuple[Any, ...] | None = None
            if prepared is not None:
                kept = (prepared[1].blob, prepared[1].func_info, prepared[1].line_info,
                        encode({n: (p.func_info, p.line_info) for n, p in spec.programs.items()}))
            body = encode(dataclasses.replace(script, typed=None, ir="",
                                              object_spec=prepared[0] if prepared is not None else spec))
            entry = (FORMAT, key, binary_dependencies(script), body, kept, None)
            data = MAGIC + marshal.dumps(entry)  # type: ignore[arg-type]
        except (CacheFormatError, ValueError) as exc:
            log.warning("not caching the compiled program: %s", exc)
            return None
        path = self.path(key)
        if not self._write(str(path), data):
            return None
        self.prune()
        return path

    def prune(self) -> None:
        """Remove the least recently used entries beyond ``max_entries``."""
        entries: list[tuple[int, str]] = []
        try:
            for sub in os.scandir(self._root):
                if sub.is_dir(follow_symlinks=False):
                    entries += [(e.stat().st_mtime_ns, e.path) for e in os.scandir(sub.path) if e.name.endswith(".bin")]
        except OSError:
            return
        entries.sort()
        for _, path in entries[:max(0, len(entries) - self.max_entries)]:
            try:
                os.unlink(path)
            except OSError:
                pass

    def clear(self) -> None:
        """Remove every entry."""
        import shutil

        shutil.rmtree(self._root, ignore_errors=True)
