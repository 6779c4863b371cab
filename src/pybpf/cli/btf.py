"""``pybpf btf dump [FILE] [--format c|raw]``: print a BTF file as C or one type per line.

``--format c`` writes a ``vmlinux.h`` (see :func:`pybpf.btf.c_dump.dump_c`); ``--format raw``
writes the same lines as ``bpftool btf dump file FILE format raw``::

    [1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)
    [2] CONST '(anon)' type_id=1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from ..btf import BTF
from ..btf.types import (
    Array, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncLinkage, FuncProto, Fwd, Int,
    IntEncoding, Kind, Struct, Type, VarLinkage, Var,
)

DEFAULT_FILE = Path("/sys/kernel/btf/vmlinux")


def register(subparsers: Any) -> None:
    """Add ``pybpf btf`` (with its ``dump`` subcommand) to the ``pybpf`` parser."""
    parser = subparsers.add_parser("btf", help="inspect BTF type information")
    sub = parser.add_subparsers(dest="btf_command", required=True, metavar="SUBCOMMAND")
    dump = sub.add_parser(
        "dump",
        help="print a BTF file as a C header or as raw types",
        description="Print the types of a BTF file (default: the running kernel's) as a C header "
        "that compiles as vmlinux.h, or one type per line like bpftool's raw format.",
    )
    dump.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE,
                      help=f"raw BTF file or ELF object with a .BTF section (default: {DEFAULT_FILE})")
    dump.add_argument("--format", choices=("c", "raw"), default="raw",
                      help="c: a header for BPF C programs; raw: one type per line (default)")
    dump.add_argument("--base", type=Path, default=None,
                      help="base BTF for split BTF such as a kernel module's "
                      "(default: the running kernel's for files under /sys/kernel/btf)")
    dump.add_argument("--header-guard", default="__VMLINUX_H__",
                      help="include guard of the C header (default: __VMLINUX_H__)")
    dump.set_defaults(func=_dump)


def _dump(args: argparse.Namespace) -> int:
    base = _base_for(args.file, args.base)
    btf = BTF.from_file(args.file, base=base)
    out = sys.stdout
    if args.format == "c":
        from ..btf.c_dump import dump_c

        out.write(dump_c(btf, header_guard=args.header_guard or None))
    else:
        for line in raw_lines(btf, include_base=False):
            out.write(line)
            out.write("\n")
    return 0


def _base_for(file: Path, base: Path | None) -> BTF | None:
    if base is not None:
        return BTF.from_file(base)
    if file.parent == DEFAULT_FILE.parent and file.name != DEFAULT_FILE.name:
        from ..btf import kernel_btf

        return kernel_btf()
    return None


# --- raw format ---------------------------------------------------------------------------


def raw_lines(btf: BTF, *, include_base: bool = False) -> Iterator[str]:
    """bpftool's ``format raw``: each type as ``[id] KIND 'name' ...``, members on tab lines."""
    for tid, t in btf.types(include_base=include_base):
        yield format_raw(btf, tid, t)


def format_raw(btf: BTF, tid: int, t: Type) -> str:
    """One type in bpftool's raw format (several lines for members, values and params)."""
    detail = _RAW.get(t.kind)
    text = f"[{tid}] {t.kind.name} '{t.name or '(anon)'}'"
    return f"{text} {detail(btf, t)}" if detail is not None else text


_INT_ENCODING = {
    IntEncoding.NONE: "(none)", IntEncoding.SIGNED: "SIGNED",
    IntEncoding.CHAR: "CHAR", IntEncoding.BOOL: "BOOL",
}
_FUNC_LINKAGE = {FuncLinkage.STATIC: "static", FuncLinkage.GLOBAL: "global", FuncLinkage.EXTERN: "extern"}
_VAR_LINKAGE = {VarLinkage.STATIC: "static", VarLinkage.GLOBAL_ALLOCATED: "global",
                VarLinkage.GLOBAL_EXTERN: "extern"}


def _anon(name: str) -> str:
    return name or "(anon)"


def _raw_int(btf: BTF, t: Int) -> str:
    enc = _INT_ENCODING.get(t.encoding, "UNKN")
    return f"size={t.size} bits_offset={t.offset} nr_bits={t.bits} encoding={enc}"


def _raw_ref(btf: BTF, t: Any) -> str:
    return f"type_id={t.type_id}"


def _raw_array(btf: BTF, t: Array) -> str:
    return f"type_id={t.elem_type_id} index_type_id={t.index_type_id} nr_elems={t.nelems}"


def _raw_record(btf: BTF, t: Struct) -> str:
    parts = [f"size={t.size} vlen={len(t.members)}"]
    for m in t.members:
        line = f"\n\t'{_anon(m.name)}' type_id={m.type_id} bits_offset={m.bit_offset}"
        parts.append(f"{line} bitfield_size={m.bitfield_size}" if m.bitfield_size else line)
    return "".join(parts)


def _raw_enum(btf: BTF, t: Enum | Enum64) -> str:
    is64 = t.kind is Kind.ENUM64
    bits = 64 if is64 else 32
    mask = (1 << bits) - 1
    suffix = ("LL" if t.signed else "ULL") if is64 else ""
    parts = [f"encoding={'SIGNED' if t.signed else 'UNSIGNED'} size={t.size} vlen={len(t.values)}"]
    for v in t.values:
        value = v.value & mask
        if t.signed and value >> (bits - 1):
            value -= 1 << bits
        parts.append(f"\n\t'{_anon(v.name)}' val={value}{suffix}")
    return "".join(parts)


def _raw_fwd(btf: BTF, t: Fwd) -> str:
    return f"fwd_kind={'union' if t.is_union else 'struct'}"


def _raw_func(btf: BTF, t: Func) -> str:
    return f"type_id={t.type_id} linkage={_FUNC_LINKAGE.get(t.linkage, 'unknown')}"


def _raw_proto(btf: BTF, t: FuncProto) -> str:
    parts = [f"ret_type_id={t.return_type_id} vlen={len(t.params)}"]
    parts.extend(f"\n\t'{_anon(p.name)}' type_id={p.type_id}" for p in t.params)
    return "".join(parts)


def _raw_var(btf: BTF, t: Var) -> str:
    return f"type_id={t.type_id}, linkage={_VAR_LINKAGE.get(t.linkage, 'unknown')}"


def _raw_datasec(btf: BTF, t: Datasec) -> str:
    parts = [f"size={t.size} vlen={len(t.vars)}"]
    for v in t.vars:
        target = btf[v.type_id]
        parts.append(f"\n\ttype_id={v.type_id} offset={v.offset} size={v.size} "
                     f"({target.kind.name} '{_anon(target.name)}')")
    return "".join(parts)


def _raw_float(btf: BTF, t: Float) -> str:
    return f"size={t.size}"


def _raw_decl_tag(btf: BTF, t: DeclTag) -> str:
    return f"type_id={t.type_id} component_idx={t.component_idx}"


_RAW: dict[Kind, Callable[[BTF, Any], str]] = {
    Kind.INT: _raw_int, Kind.PTR: _raw_ref, Kind.ARRAY: _raw_array, Kind.STRUCT: _raw_record,
    Kind.UNION: _raw_record, Kind.ENUM: _raw_enum, Kind.ENUM64: _raw_enum, Kind.FWD: _raw_fwd,
    Kind.TYPEDEF: _raw_ref, Kind.VOLATILE: _raw_ref, Kind.CONST: _raw_ref, Kind.RESTRICT: _raw_ref,
    Kind.FUNC: _raw_func, Kind.FUNC_PROTO: _raw_proto, Kind.VAR: _raw_var, Kind.DATASEC: _raw_datasec,
    Kind.FLOAT: _raw_float, Kind.DECL_TAG: _raw_decl_tag, Kind.TYPE_TAG: _raw_ref,
}
