"""bcc's map macros (``BPF_HASH(counts, u32, u64)``...) as BTF-defined ``.maps`` definitions.

Each macro has bcc's parameter list and defaults; a call is replaced, on the same line,
by ``struct { __uint(type, ...); __type(key, K); __type(value, V); __uint(max_entries, N); }
name SEC(".maps")``. ``BPF_TABLE("kind", K, V, name, size[, flags])`` and its
``_PINNED``/``_SHARED``/``_PUBLIC`` variants take bcc's table kind names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...enums import MapType
from .model import BccMapDecl, RewriteError
from .tokens import Kind, Token

#: bcc table kind -> kernel map type ("histogram" is decided by its key type, see _histogram)
TABLE_KINDS: dict[str, MapType] = {
    "hash": MapType.HASH,
    "array": MapType.ARRAY,
    "histogram": MapType.ARRAY,
    "percpu_hash": MapType.PERCPU_HASH,
    "percpu_array": MapType.PERCPU_ARRAY,
    "lru_hash": MapType.LRU_HASH,
    "lru_percpu_hash": MapType.LRU_PERCPU_HASH,
    "lpm_trie": MapType.LPM_TRIE,
    "stacktrace": MapType.STACK_TRACE,
    "perf_output": MapType.PERF_EVENT_ARRAY,
    "perf_array": MapType.PERF_EVENT_ARRAY,
    "ringbuf": MapType.RINGBUF,
    "prog": MapType.PROG_ARRAY,
    "queue": MapType.QUEUE,
    "stack": MapType.STACK,
    "cgroup_array": MapType.CGROUP_ARRAY,
    "devmap": MapType.DEVMAP,
    "cpumap": MapType.CPUMAP,
    "xskmap": MapType.XSKMAP,
    "sockmap": MapType.SOCKMAP,
    "sockhash": MapType.SOCKHASH,
    "sk_storage": MapType.SK_STORAGE,
    "inode_storage": MapType.INODE_STORAGE,
    "task_storage": MapType.TASK_STORAGE,
}

#: kinds declared without a key (queue/stack/ringbuf) or without a value (ringbuf)
_NO_KEY = {MapType.QUEUE, MapType.STACK, MapType.RINGBUF}
_NO_VALUE = {MapType.RINGBUF}
#: BPF_F_NO_PREALLOC, required by these kinds
_NO_PREALLOC = 1
_NEEDS_NO_PREALLOC = {MapType.LPM_TRIE, MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE}
_PAGE_SIZE = 4096
#: bcc's default sizes
DEFAULT_HASH_SIZE = 10240
DEFAULT_HISTOGRAM_SIZE = 64
STACKTRACE_LEAF = "struct bpf_stacktrace"
STACKTRACE_BUILDID_LEAF = "struct bpf_stacktrace_buildid"


@dataclass(frozen=True)
class MacroSpec:
    """A bcc map macro: its table kind, parameter names, defaults and fixed key/leaf types."""

    kind: str
    params: tuple[str, ...]
    defaults: dict[str, str]
    required: int  # how many leading params must be given
    pinned: bool = False
    shared: bool = False


def _m(kind: str, params: str, required: int, **defaults: str) -> MacroSpec:
    return MacroSpec(kind, tuple(params.split()), dict(defaults), required)


_HASHLIKE = dict(key="u64", leaf="u64", size=str(DEFAULT_HASH_SIZE))
MACROS: dict[str, MacroSpec] = {
    "BPF_HASH": _m("hash", "name key leaf size", 1, **_HASHLIKE),
    "BPF_PERCPU_HASH": _m("percpu_hash", "name key leaf size", 1, **_HASHLIKE),
    "BPF_LRU_HASH": _m("lru_hash", "name key leaf size", 1, **_HASHLIKE),
    "BPF_LRU_PERCPU_HASH": _m("lru_percpu_hash", "name key leaf size", 1, **_HASHLIKE),
    "BPF_LPM_TRIE": _m("lpm_trie", "name key leaf size", 1, **_HASHLIKE),
    "BPF_ARRAY": _m("array", "name leaf size", 1, key="int", leaf="u64", size=str(DEFAULT_HASH_SIZE)),
    "BPF_PERCPU_ARRAY": _m("percpu_array", "name leaf size", 1, key="int", leaf="u64", size=str(DEFAULT_HASH_SIZE)),
    "BPF_HISTOGRAM": _m("histogram", "name key size", 1, key="int", leaf="u64", size=str(DEFAULT_HISTOGRAM_SIZE)),
    "BPF_STACK_TRACE": _m("stacktrace", "name size", 2, key="int", leaf=STACKTRACE_LEAF),
    "BPF_STACK_TRACE_BUILDID": _m("stacktrace", "name size", 2, key="int", leaf=STACKTRACE_BUILDID_LEAF),
    "BPF_PERF_OUTPUT": _m("perf_output", "name", 1, key="int", leaf="u32", size="0"),
    "BPF_PERF_ARRAY": _m("perf_array", "name size", 2, key="int", leaf="u32"),
    "BPF_RINGBUF_OUTPUT": _m("ringbuf", "name pages", 2),
    "BPF_PROG_ARRAY": _m("prog", "name size", 2, key="int", leaf="int"),
    "BPF_QUEUE": _m("queue", "name leaf size flags", 3, flags="0"),
    "BPF_STACK": _m("stack", "name leaf size flags", 3, flags="0"),
    "BPF_CGROUP_ARRAY": _m("cgroup_array", "name size", 2, key="int", leaf="int"),
    "BPF_DEVMAP": _m("devmap", "name size", 2, key="int", leaf="int"),
    "BPF_CPUMAP": _m("cpumap", "name size", 2, key="int", leaf="u32"),
    "BPF_XSKMAP": _m("xskmap", "name size", 2, key="int", leaf="int"),
    "BPF_SOCKMAP": _m("sockmap", "name size", 2, key="int", leaf="int"),
    "BPF_SOCKHASH": _m("sockhash", "name key size", 2, key="u32", leaf="int", size=str(DEFAULT_HASH_SIZE)),
    "BPF_SK_STORAGE": _m("sk_storage", "name leaf", 2, key="int", size="0"),
    "BPF_INODE_STORAGE": _m("inode_storage", "name leaf", 2, key="int", size="0"),
    "BPF_TASK_STORAGE": _m("task_storage", "name leaf", 2, key="int", size="0"),
    "BPF_TABLE": _m("", "kind key leaf name size flags", 5, flags="0"),
    "BPF_F_TABLE": _m("", "kind key leaf name size flags", 6),
    "BPF_TABLE_PINNED": MacroSpec("", ("kind", "key", "leaf", "name", "size", "pinned", "flags"), {"flags": "0"},
                                  6, pinned=True),
    "BPF_TABLE_SHARED": MacroSpec("", ("kind", "key", "leaf", "name", "size", "flags"), {"flags": "0"}, 5,
                                  shared=True),
    "BPF_TABLE_PUBLIC": MacroSpec("", ("kind", "key", "leaf", "name", "size", "flags"), {"flags": "0"}, 5,
                                  shared=True),
}


def _histogram(key: str) -> MapType:
    """bcc: a histogram keyed by plain ``int`` is an array, by anything else a hash."""
    return MapType.ARRAY if key.strip() == "int" else MapType.HASH


_KIND_OVERRIDE: dict[str, Callable[[str], MapType]] = {"histogram": _histogram}


def _int(text: str, what: str, line: int) -> int:
    try:
        return int(text.strip().rstrip("uUlL") or "0", 0)
    except ValueError:
        raise RewriteError(f"{what} must be an integer constant, got {text.strip()!r}", line=line) from None


def _unquote(text: str, what: str, line: int) -> str:
    t = text.strip()
    if len(t) < 2 or t[0] != '"' or t[-1] != '"':
        raise RewriteError(f"{what} must be a string literal, got {t!r}", line=line)
    return t[1:-1]


def map_decl(macro: str, args: list[str], *, line: int, ncpus: int) -> BccMapDecl:
    """The map a macro call declares (``args`` are the argument texts)."""
    spec = MACROS[macro]
    if len(args) < spec.required or len(args) > len(spec.params):
        want = ", ".join(spec.params)
        raise RewriteError(f"{macro} takes ({want}) with at least {spec.required} argument(s), got {len(args)}",
                           line=line)
    values = dict(spec.defaults)
    values.update({p: a.strip() for p, a in zip(spec.params, args)})
    bcc_kind = spec.kind or _unquote(values["kind"], f"{macro}'s table kind", line)
    if bcc_kind not in TABLE_KINDS:
        raise RewriteError(f"unknown bcc table kind {bcc_kind!r} in {macro}; known: {', '.join(sorted(TABLE_KINDS))}",
                           line=line)
    key = values.get("key")
    leaf = values.get("leaf")
    override = _KIND_OVERRIDE.get(bcc_kind)
    kind = override(key or "") if override is not None else TABLE_KINDS[bcc_kind]
    if bcc_kind in ("queue", "stack"):
        key = None
    flags = _int(values.get("flags", "0"), f"{macro}'s flags", line)
    if kind in _NEEDS_NO_PREALLOC:
        flags |= _NO_PREALLOC
    if bcc_kind == "ringbuf":
        pages = _int(values["pages"], "BPF_RINGBUF_OUTPUT's page count", line)
        if pages <= 0 or pages & (pages - 1):
            raise RewriteError(f"BPF_RINGBUF_OUTPUT's page count must be a power of two, got {pages}", line=line)
        size, key, leaf = pages * _PAGE_SIZE, None, None
    else:
        size = _int(values.get("size", "0"), f"{macro}'s size", line)
    if kind is MapType.PERF_EVENT_ARRAY and size == 0:
        size = ncpus
    name = values["name"].strip()
    if not name.isidentifier():
        raise RewriteError(f"{macro}: map name must be an identifier, got {name!r}", line=line)
    pinned = _unquote(values["pinned"], "BPF_TABLE_PINNED's path", line) if spec.pinned else None
    return BccMapDecl(name=name, bcc_kind=bcc_kind, kind=kind, key_type=key, leaf_type=leaf, size=size,
                      flags=flags, pinned=pinned, shared=spec.shared, line=line)


def definition(decl: BccMapDecl) -> str:
    """The BTF ``.maps`` definition of ``decl`` on one line (without the trailing ``;``)."""
    parts = [f"__uint(type, {int(decl.kind)})"]
    if decl.key_type is not None and decl.kind not in _NO_KEY:
        parts.append(f"__type(key, {decl.key_type})")
    if decl.leaf_type is not None and decl.kind not in _NO_VALUE:
        parts.append(f"__type(value, {decl.leaf_type})")
    parts.append(f"__uint(max_entries, {decl.size})")
    if decl.flags:
        parts.append(f"__uint(map_flags, {decl.flags})")
    return "struct { " + "; ".join(parts) + f"; }} {decl.name} SEC(\".maps\")"


def is_macro(tok: Token) -> bool:
    """Is ``tok`` the name of a bcc map macro?"""
    return tok.kind is Kind.IDENT and tok.text in MACROS


__all__ = ["DEFAULT_HASH_SIZE", "DEFAULT_HISTOGRAM_SIZE", "MACROS", "MacroSpec", "TABLE_KINDS", "definition",
           "is_macro", "map_decl"]
