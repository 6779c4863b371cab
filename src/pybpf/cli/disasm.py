"""``pybpf disasm FILE.o``: print the programs of an eBPF object like ``llvm-objdump -dr``.

The default output reproduces ``llvm-objdump-19 -dr`` line for line: the file header, one
``Disassembly of section NAME:`` block per executable section, a ``<symbol>:`` label per
function, then ``index: raw bytes <TAB> instruction`` with jump targets as
``<function+0xoffset>`` and each relocation on its own line under the instruction it patches
(``R_BPF_64_64 my_map`` for a map or global-data address, ``R_BPF_64_32 func`` for a call).
``--no-relocs`` leaves the relocation lines out, which is ``llvm-objdump-19 -d``.

Where llvm-objdump-19 cannot decode an instruction that newer compilers emit (32-bit atomics
other than ``add``, load-acquire / store-release) it prints ``<unknown>`` or, for a 64-bit
load-acquire, a wrong ``lock ... +=``; pybpf prints the instruction as LLVM 21+ spells it.

``--asm`` prints each function as assembly that :func:`pybpf.isa.assemble` reads back
(decimal numbers, ``LBB0_n`` labels, helper and relocation symbol names).
"""

from __future__ import annotations

import argparse
import bisect
import sys
from pathlib import Path
from typing import Callable, Iterable, TextIO

from ..elf.reader import ElfObject, ElfSection, Reloc, Symbol, SymbolType
from ..errors import ELFError
from ..isa import SLOT_SIZE, CallSrc, Instruction, decode, disassemble
from ..isa.disasm import OBJDUMP_SYNTAX, format_instruction

__all__ = ["register", "run", "format_object", "RELOC_NAMES"]

#: relocation type -> the name llvm-objdump shows (``R_BPF_*``)
RELOC_NAMES: dict[int, str] = {
    0: "R_BPF_NONE",
    1: "R_BPF_64_64",
    2: "R_BPF_64_ABS64",
    3: "R_BPF_64_ABS32",
    4: "R_BPF_64_NODYLD32",
    10: "R_BPF_64_32",
}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``disasm`` subcommand."""
    parser = subparsers.add_parser(
        "disasm",
        help="disassemble the programs of an eBPF object file",
        description="Print each executable section of an eBPF ELF object like llvm-objdump -dr.",
    )
    parser.add_argument("file", metavar="FILE.o", help="eBPF object file (clang -target bpf)")
    parser.add_argument("--section", "-j", metavar="NAME", help="only this section (e.g. xdp, .text)")
    parser.add_argument(
        "--no-relocs", action="store_true", help="leave out relocation lines (like llvm-objdump -d)"
    )
    parser.add_argument(
        "--asm", action="store_true", help="print re-assemblable assembly instead of an objdump listing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Entry point of ``pybpf disasm``."""
    stream = out if out is not None else sys.stdout
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ELFError(f"cannot read {args.file}: {exc.strerror}") from None
    obj = ElfObject(data, args.file)
    sections = [obj.section(args.section)] if args.section else obj.executable_sections()
    if args.section and not sections[0].is_executable:
        raise ELFError(
            f"{args.file}: section {args.section!r} holds no code; code sections are: "
            + ", ".join(s.name for s in obj.executable_sections())
        )
    formatter = format_asm if args.asm else format_object
    stream.write(formatter(obj, sections, relocs=not args.no_relocs))
    return 0


# --------------------------------------------------------------------------- objdump listing
def format_object(obj: ElfObject, sections: Iterable[ElfSection], *, relocs: bool = True) -> str:
    """The ``llvm-objdump-19 -d`` (``-dr`` when ``relocs``) listing of ``sections``."""
    lines = ["", f"{obj.name}:\tfile format elf64-bpf"]
    for sec in sections:
        lines += ["", f"Disassembly of section {sec.name}:"]
        lines += _section_listing(obj, sec, relocs)
    return "\n".join(lines) + "\n"


def _labels(obj: ElfObject, sec: ElfSection) -> list[Symbol]:
    """Symbols that label code in ``sec``, sorted by address (section symbol as fallback)."""
    syms = [s for s in obj.symbols_in(sec.name) if s.type not in (SymbolType.FILE, SymbolType.SECTION)]
    if not any(s.value == 0 for s in syms):
        syms += [s for s in obj.symbols_in(sec.name) if s.type == SymbolType.SECTION][:1]
    return sorted(syms, key=lambda s: (s.value, s.name))


def _section_listing(obj: ElfObject, sec: ElfSection, relocs: bool) -> list[str]:
    insns = decode(sec.data)
    labels = _labels(obj, sec)
    label_at: dict[int, list[Symbol]] = {}
    for sym in labels:
        label_at.setdefault(sym.value, []).append(sym)
    starts = [s.value for s in labels]
    by_offset: dict[int, list[Reloc]] = {}
    if relocs:
        for rel in sorted(obj.relocations_by_index(sec.index), key=lambda r: r.offset):
            by_offset.setdefault(rel.offset, []).append(rel)
    lines: list[str] = []
    addr = 0
    for insn in insns:
        for sym in label_at.get(addr, ()):
            lines += ["", f"{addr:016x} <{sym.name}>:"]
        text = format_instruction(insn, OBJDUMP_SYNTAX)
        if insn.is_jump and not text.startswith("<"):
            text += _target_annotation(addr + (insn.jump_offset + 1) * SLOT_SIZE, starts, labels)
        raw = " ".join(f"{b:02x}" for b in insn.to_bytes())
        lines.append(f"{addr // SLOT_SIZE:8d}:\t{raw}\t{text}")
        for off in range(addr, addr + insn.slots * SLOT_SIZE):
            for rel in by_offset.get(off, ()):
                name = RELOC_NAMES.get(int(rel.type), f"R_BPF_{int(rel.type)}")
                lines.append(f"\t\t{rel.offset:016x}:  {name}\t{rel.symbol_name}")
        addr += insn.slots * SLOT_SIZE
    return lines


def _target_annotation(target: int, starts: list[int], labels: list[Symbol]) -> str:
    i = bisect.bisect_right(starts, target) - 1
    if i < 0:
        return ""
    sym = labels[i]
    delta = target - sym.value
    return f" <{sym.name}+{delta:#x}>" if delta else f" <{sym.name}>"


# --------------------------------------------------------------------------- re-assemblable
def format_asm(obj: ElfObject, sections: Iterable[ElfSection], *, relocs: bool = True) -> str:
    """Each function of ``sections`` as assembly text that :func:`pybpf.isa.assemble` reads."""
    out: list[str] = []
    for sec in sections:
        insns = decode(sec.data)
        funcs = _labels(obj, sec)
        at = dict(zip(_positions(insns), insns))
        # calls between functions of one section carry no relocation: name the callee
        func_at = {s.value // SLOT_SIZE: s.name for s in funcs if s.type == SymbolType.FUNC}
        names = {
            pos: func_at[pos + 1 + insn.imm]
            for pos, insn in at.items()
            if insn.is_call and insn.src == CallSrc.CALL and pos + 1 + insn.imm in func_at
        }
        if relocs:
            for rel in obj.relocations_by_index(sec.index):
                names[rel.offset // SLOT_SIZE] = _reloc_target(obj, rel, at.get(rel.offset // SLOT_SIZE))
        bounds = sorted({s.value // SLOT_SIZE for s in funcs} | {0})
        out.append(f"# section {sec.name}")
        for n, (start, end) in enumerate(zip(bounds, [*bounds[1:], None])):
            part = _slice(insns, start, end)
            title = [s.name for s in funcs if s.value // SLOT_SIZE == start]
            out.append(f"{title[0] if title else sec.name}:")
            text = disassemble(part, symbolizer=_offset_lookup(names, start), label_prefix=f"LBB{n}_")
            out += ["\t" + line if not line.endswith(":") else line for line in text.splitlines()]
        out.append("")
    return "\n".join(out)


def _positions(insns: list[Instruction]) -> list[int]:
    out, pos = [], 0
    for insn in insns:
        out.append(pos)
        pos += insn.slots
    return out


def _reloc_target(obj: ElfObject, rel: Reloc, insn: Instruction | None) -> str:
    """What a relocation names: for a section symbol (static functions and data) the symbol
    at the offset the instruction encodes (``call square``, ``r1 = printk.fmt ll``)."""
    if rel.symbol_type != SymbolType.SECTION or insn is None:
        return rel.symbol_name
    offset = (insn.imm + 1) * SLOT_SIZE if insn.is_call else insn.imm
    for sym in obj.symbols_in(rel.symbol_section):
        if sym.value == offset and sym.type in (SymbolType.FUNC, SymbolType.OBJECT):
            return sym.name
    return f"{rel.symbol_name}+{offset:#x}" if offset else rel.symbol_name


def _offset_lookup(names: dict[int, str], base: int) -> Callable[[int], str | None]:
    return lambda pos: names.get(base + pos)


def _slice(insns: list[Instruction], start: int, end: int | None) -> list[Instruction]:
    out: list[Instruction] = []
    pos = 0
    for insn in insns:
        if pos >= start and (end is None or pos < end):
            out.append(insn)
        pos += insn.slots
    return out
