"""``pybpf spec FILE.o``: a readable summary of what an eBPF object describes."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..errors import BPFError
from ..spec import MapSpec, ObjectSpec


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "spec", help="summarise an eBPF object (programs, maps, globals, externs)",
        description="Print the programs, maps, global variables, externs and license of an "
                    "eBPF ELF object, as pybpf reads them (no kernel needed).",
    )
    parser.add_argument("file", help="an eBPF object file (clang -target bpf output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..elf import load_object

    spec = load_object(args.file)
    print_summary(spec, out=sys.stdout)
    return 0


def _table(rows: list[tuple[str, ...]], out: TextIO, indent: str = "  ") -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        out.write(indent + line.rstrip() + "\n")


def _flags(m: MapSpec) -> str:
    value = int(m.flags)
    if not value:
        return "-"
    names = [f.name for f in type(m.flags) if f.value and value & f.value and f.name]
    return "|".join(names) or hex(value)


def _map_row(m: MapSpec) -> tuple[str, ...]:
    extra = []
    if m.inner_map is not None:
        extra.append(f"inner={m.inner_map.type.name.lower()}({m.inner_map.key_size}/{m.inner_map.value_size})")
    if m.contents:
        extra.append("slots=" + ",".join(f"{k}:{v!s}" for k, v in sorted(m.contents.items())))
    if m.struct_ops_programs:
        extra.append("ops=" + ",".join(f"{k}:{v}" for k, v in m.struct_ops_programs.items()))
    if m.pinning:
        extra.append(f"pinning={m.pinning.name.lower()}")
    if m.freeze:
        extra.append("frozen")
    return (m.name, m.type.name.lower(), str(m.key_size), str(m.value_size), str(m.max_entries),
            _flags(m), m.section, " ".join(extra))


def print_summary(spec: ObjectSpec, *, out: TextIO) -> None:
    """Write the summary ``pybpf spec`` prints."""
    out.write(f"license: {spec.license or '(none)'}")
    if spec.kernel_version:
        v = spec.kernel_version
        out.write(f"   kernel version: {v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}")
    out.write("\n")

    out.write(f"\nprograms ({len(spec.programs)}):\n")
    rows: list[tuple[str, ...]] = [("NAME", "SECTION", "TYPE", "ATTACH TYPE", "ATTACH TO", "INSNS", "")]
    for p in spec.programs.values():
        notes = []
        if p.sleepable:
            notes.append("sleepable")
        if p.relocations:
            notes.append(f"{len(p.relocations)} relocs")
        if p.core_relocations:
            notes.append(f"{len(p.core_relocations)} CO-RE")
        if len(p.func_info) > 1:
            notes.append(f"{len(p.func_info) - 1} subprogs")
        rows.append((p.name, p.section, p.type.name.lower(),
                     p.expected_attach_type.name.lower() if p.expected_attach_type is not None else "-",
                     p.attach_to or "-", str(sum(i.slots for i in p.instructions)), ", ".join(notes)))
    _table(rows, out)

    out.write(f"\nmaps ({len(spec.maps)}):\n")
    if spec.maps:
        _table([("NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS", "SECTION", "")]
               + [_map_row(m) for m in spec.maps.values()], out)

    if spec.variables:
        out.write(f"\nglobals ({len(spec.variables)}):\n")
        rows = [("NAME", "MAP", "OFFSET", "SIZE", "TYPE", "VALUE")]
        for var in spec.variables.values():
            m = spec.maps.get(var.map_name)
            tname = "-"
            value = "-"
            if spec.btf is not None and var.type_id:
                tname = _type_name(spec, var.type_id)
            if m is not None and m.data is not None:
                raw = bytes(m.data[var.offset:var.offset + var.size])
                value = _value(spec, var.type_id, raw)
            rows.append((var.name, var.map_name, str(var.offset), str(var.size), tname, value))
        _table(rows, out)

    if spec.externs:
        out.write(f"\nexterns ({len(spec.externs)}):\n")
        rows = [("NAME", "KIND", "WEAK", "OFFSET", "SIZE")]
        for e in spec.externs.values():
            rows.append((e.name, e.kind.value, "weak" if e.weak else "-", str(e.offset), str(e.size)))
        _table(rows, out)


def _type_name(spec: ObjectSpec, type_id: int) -> str:
    assert spec.btf is not None
    try:
        name = spec.btf.name_of(spec.btf.resolve(type_id))
    except (BPFError, ValueError, KeyError, TypeError):  # a display nicety: never fail the summary
        return "?"
    return name or spec.btf[spec.btf.resolve(type_id)].kind.name.lower()


def _value(spec: ObjectSpec, type_id: int, raw: bytes) -> str:
    if spec.btf is not None and type_id:
        try:
            text = spec.btf.format_value(type_id, raw)
        except (BPFError, ValueError, KeyError, TypeError):  # fall back to hex
            text = raw.hex()
    else:
        text = raw.hex()
    return text if len(text) <= 40 else text[:37] + "..."
