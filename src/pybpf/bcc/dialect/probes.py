"""bcc's probe declarations: ``TRACEPOINT_PROBE(cat, event)`` with an ``args`` struct built
from the tracepoint's format file, ``RAW_TRACEPOINT_PROBE``, ``KFUNC_PROBE`` /
``KRETFUNC_PROBE`` / ``LSM_PROBE``, and attach-by-name prefixes (``kprobe__``,
``kretprobe__``, ``tracepoint__cat__event``, ``raw_tracepoint__``, ``kfunc__``, ``kretfunc__``,
``lsm__``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ...tracefs import FormatField, TracepointFormat
from .model import ProbeKind, RewriteError

#: name prefix -> the probe kind it auto-attaches as (longest first when matching)
PREFIXES: dict[str, ProbeKind] = {
    "kretprobe__": ProbeKind.KRETPROBE,
    "kprobe__": ProbeKind.KPROBE,
    "raw_tracepoint__": ProbeKind.RAW_TRACEPOINT,
    "tracepoint__": ProbeKind.TRACEPOINT,
    "kretfunc__": ProbeKind.KRETFUNC,
    "kfunc__": ProbeKind.KFUNC,
    "lsm__": ProbeKind.LSM,
}

#: the ELF section of each kind, given the target
SECTIONS: dict[ProbeKind, Callable[[str], str]] = {
    ProbeKind.KPROBE: lambda t: f"kprobe/{t}",
    ProbeKind.KRETPROBE: lambda t: f"kretprobe/{t}",
    ProbeKind.TRACEPOINT: lambda t: "tracepoint/" + t.replace(":", "/"),
    ProbeKind.RAW_TRACEPOINT: lambda t: f"raw_tracepoint/{t}",
    ProbeKind.KFUNC: lambda t: f"fentry/{t}",
    ProbeKind.KRETFUNC: lambda t: f"fexit/{t}",
    ProbeKind.LSM: lambda t: f"lsm/{t}",
}


def prefix_probe(name: str) -> tuple[ProbeKind, str] | None:
    """``(kind, target)`` of a function named with an auto-attach prefix, else None.

    ``tracepoint__sched__sched_switch`` -> ``(TRACEPOINT, "sched:sched_switch")``;
    ``kfunc__vmlinux__do_unlinkat`` -> ``(KFUNC, "do_unlinkat")``.
    """
    for prefix, kind in PREFIXES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix):]
            if kind is ProbeKind.TRACEPOINT:
                cat, sep, event = rest.partition("__")
                if not sep or not event:
                    return None
                return kind, f"{cat}:{event}"
            if kind in (ProbeKind.KFUNC, ProbeKind.KRETFUNC):
                rest = rest.removeprefix("vmlinux__")
            return kind, rest
    return None


def tp_struct_name(category: str, event: str) -> str:
    return f"tracepoint__{category}__{event}"


# -- the args struct of a tracepoint -------------------------------------------------------

_KNOWN_WORDS = frozenset(
    "const volatile unsigned signed char short int long void bool _Bool float double "
    "u8 u16 u32 u64 s8 s16 s32 s64 __u8 __u16 __u32 __u64 __s8 __s16 __s32 __s64 "
    "__be16 __be32 __be64 __le16 __le32 __le64 __wsum __sum16 "
    "pid_t size_t ssize_t loff_t off_t dev_t sector_t umode_t gfp_t uid_t gid_t ino_t "
    "clockid_t time64_t ktime_t blk_opf_t blk_status_t key_serial_t qid_t "
    "__user __kernel __rcu __percpu".split()
)
_TAGGED = re.compile(r"\b(?:struct|union|enum)\s+\w+")
_BY_SIZE = {(1, True): "s8", (1, False): "u8", (2, True): "s16", (2, False): "u16",
            (4, True): "s32", (4, False): "u32", (8, True): "s64", (8, False): "u64"}


def _is_data_loc(f: FormatField) -> bool:
    return f.declaration.startswith(("__data_loc", "__rel_loc"))


def _field_decl(f: FormatField) -> str:
    """The member declaration: pointers and arrays as declared when their types are known,
    scalars as an integer of the record's size (syscall records widen every argument to 8
    bytes, so ``umode_t mode`` takes 8)."""
    name = f.name
    decl = f.declaration
    if _is_data_loc(f):
        return f"int data_loc_{name}"
    words = [w for w in re.findall(r"[A-Za-z_]\w*", _TAGGED.sub("", decl)) if w != name]
    known = all(w in _KNOWN_WORDS for w in words)
    if "[" in decl:
        return decl if known else f"u8 {name}[{f.size}]"
    if "*" in decl:
        return decl if known and f.size == 8 else (f"void *{name}" if f.size == 8 else f"u{f.size * 8} {name}")
    base = _BY_SIZE.get((f.size, f.signed))
    return f"{base} {name}" if base else f"u8 {name}[{f.size}]"


def tracepoint_struct(category: str, event: str, fmt: TracepointFormat) -> str:
    """``struct tracepoint__<cat>__<event>``: the record layout, with explicit padding and
    a compile-time check of every field's offset. ``__data_loc`` fields are ``int
    data_loc_<name>`` (offset in the low 16 bits, length in the high 16), as in bcc."""
    sname = tp_struct_name(category, event)
    lines = [f"struct {sname} {{"]
    offset = 0
    checks = []
    for f in fmt.fields:
        if f.offset < offset:
            continue  # overlapping (should not happen): keep the first
        if f.offset > offset:
            lines.append(f"\tchar __pad_{offset}[{f.offset - offset}];")
        lines.append(f"\t{_field_decl(f)};")
        name = f"data_loc_{f.name}" if _is_data_loc(f) else f.name
        checks.append(f"_Static_assert(__builtin_offsetof(struct {sname}, {name}) == {f.offset}, "
                      f"\"{category}:{event}.{name}\");")
        offset = f.offset + f.size
    lines.append("};")
    return "\n".join(lines + checks) + "\n"


def syscall_fields(fmt: TracepointFormat) -> list[FormatField]:
    """The argument fields of a ``syscalls:sys_enter_*`` record (those after ``__syscall_nr``)."""
    names = [f.name for f in fmt.fields]
    start = names.index("__syscall_nr") + 1 if "__syscall_nr" in names else 0
    return [f for f in fmt.fields[start:] if not f.name.startswith("common_")]


# -- macro forms --------------------------------------------------------------------------

def _ident(text: str, what: str, line: int) -> str:
    t = text.strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", t):
        raise RewriteError(f"{what} must be an identifier, got {t!r}", line=line)
    return t


def tracepoint_probe_header(args: list[str], line: int) -> tuple[str, str, str]:
    """(function name, target ``cat:event``, C header) of ``TRACEPOINT_PROBE(cat, event)``."""
    if len(args) != 2:
        raise RewriteError("TRACEPOINT_PROBE takes (category, event)", line=line)
    cat, ev = _ident(args[0], "the tracepoint category", line), _ident(args[1], "the tracepoint event", line)
    name = tp_struct_name(cat, ev)
    return name, f"{cat}:{ev}", f'SEC("tracepoint/{cat}/{ev}") int {name}(struct {name} *args)'


def raw_tracepoint_probe_header(args: list[str], line: int) -> tuple[str, str, str]:
    if len(args) != 1:
        raise RewriteError("RAW_TRACEPOINT_PROBE takes (event)", line=line)
    ev = _ident(args[0], "the raw tracepoint name", line)
    name = f"raw_tracepoint__{ev}"
    return name, ev, f'SEC("raw_tracepoint/{ev}") int {name}(struct bpf_raw_tracepoint_args *ctx)'


def _btf_prog_header(kind: ProbeKind, prefix: str, macro: str) -> Callable[[list[str], int], tuple[str, str, str]]:
    def header(args: list[str], line: int) -> tuple[str, str, str]:
        if not args:
            raise RewriteError(f"{macro} takes (function, typed arguments...)", line=line)
        target = _ident(args[0], f"{macro}'s function", line)
        name = f"{prefix}{target}"
        params = ", ".join(a.strip() for a in args[1:])
        inner = f"{name}, {params}" if params else name
        return name, target, f'SEC("{SECTIONS[kind](target)}") int BPF_PROG({inner})'
    return header


#: macro -> (probe kind, header builder(args, line) -> (function name, target, C header))
PROBE_MACROS: dict[str, tuple[ProbeKind, Callable[[list[str], int], tuple[str, str, str]]]] = {
    "TRACEPOINT_PROBE": (ProbeKind.TRACEPOINT, tracepoint_probe_header),
    "RAW_TRACEPOINT_PROBE": (ProbeKind.RAW_TRACEPOINT, raw_tracepoint_probe_header),
    "KFUNC_PROBE": (ProbeKind.KFUNC, _btf_prog_header(ProbeKind.KFUNC, "kfunc__vmlinux__", "KFUNC_PROBE")),
    "KRETFUNC_PROBE": (ProbeKind.KRETFUNC, _btf_prog_header(ProbeKind.KRETFUNC, "kretfunc__vmlinux__",
                                                            "KRETFUNC_PROBE")),
    "LSM_PROBE": (ProbeKind.LSM, _btf_prog_header(ProbeKind.LSM, "lsm__", "LSM_PROBE")),
}

__all__ = ["PREFIXES", "PROBE_MACROS", "SECTIONS", "prefix_probe", "syscall_fields", "tp_struct_name",
           "tracepoint_struct"]
