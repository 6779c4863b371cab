"""Programs from executable sections: functions, code relocations, BPF-to-BPF linking.

Every executable section is decoded once. Its functions are its ``STT_FUNC`` symbols; in a
program section (anything but ``.text``) each is an entry program, in ``.text`` each is a
subprogram. Each code relocation is resolved once per section into an action: a call or a
function address (``bpf_loop`` callbacks) to link, or a :class:`~pybpf.spec.Relocation` for the
loader (map fd, global-data address, kconfig/ksym/kfunc extern).

Linking a program appends, after its own code, every function it transitively calls or takes
the address of (in the order they are first met), and rewrites the call ``imm`` (and the
``ld_imm64`` of a function address, which becomes ``src=BPF_PSEUDO_FUNC``) to the new relative
offset. ``.BTF.ext`` func_info, line_info and CO-RE relocations of every placed function follow
it to its new place. Instruction indices everywhere count 8-byte slots, as the kernel does.

The instructions in a spec already carry the pseudo source registers the kernel expects
(``BPF_PSEUDO_MAP_FD``, ``BPF_PSEUDO_MAP_VALUE`` with the value offset in the upper 32 bits,
``BPF_PSEUDO_KFUNC_CALL``); the loader writes fds and BTF ids into the ``imm`` fields named by
the program's relocations.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..enums import ProgramFlags, ProgramType
from ..errors import ELFError, InstructionError
from ..isa import Instruction, decode
from ..isa.opcodes import CallSrc, PseudoSrc
from ..spec import ExternKind, ExternSpec, ProgramSpec, Relocation, RelocationKind
from .maps import MapSlot
from .reader import ElfObject, ElfSection, Reloc, RelocType, SymbolType
from .sections import parse_section_name

if TYPE_CHECKING:
    from ..btf.ext import BTFExt

__all__ = ["CodeTargets", "load_programs"]

log = logging.getLogger("pybpf.elf")

_SLOT = 8
_TEXT = ".text"
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class CodeTargets:
    """What code relocations can refer to, besides code."""

    map_slots: dict[int, list[MapSlot]] = field(default_factory=dict)  # section index -> maps in it
    data_maps: dict[int, str] = field(default_factory=dict)  # section index -> global-data map name
    data_sizes: dict[int, int] = field(default_factory=dict)  # section index -> its size
    externs: dict[str, ExternSpec] = field(default_factory=dict)
    kconfig_map: str = ""
    has_btf: bool = True  # externs are only known through BTF


class _Link(Enum):
    CALL = "call"
    FUNC_ADDR = "func_addr"
    LOADER = "loader"  # a Relocation for the loader


@dataclass(frozen=True)
class _Action:
    link: _Link
    insn: Instruction  # the instruction as it goes into the spec (before call offsets are fixed)
    target: tuple[int, int] | None = None  # (section index, slot) of the callee / function
    kind: RelocationKind | None = None
    symbol: str = ""
    offset: int = 0


@dataclass
class _Func:
    name: str
    section: ElfSection
    start: int  # slot in the section
    end: int  # slot (exclusive)
    first: int  # index of its first instruction in the section's decoded list
    last: int  # index after its last instruction

    @property
    def key(self) -> tuple[int, int]:
        return (self.section.index, self.start)


class _Code:
    """One executable section, decoded, with its functions and resolved relocations."""

    def __init__(self, obj: ElfObject, sec: ElfSection) -> None:
        self.section = sec
        if sec.size % _SLOT:
            raise ELFError(f"{obj.name}: section {sec.name!r} is {sec.size} bytes, not a whole "
                           f"number of {_SLOT}-byte instructions")
        try:
            self.insns: list[Instruction] = decode(sec.data)
        except InstructionError as exc:
            raise ELFError(f"{obj.name}: section {sec.name!r}: {exc}") from exc
        self.slots: list[int] = []
        pos = 0
        for insn in self.insns:
            self.slots.append(pos)
            pos += insn.slots
        self.index_of = {slot: i for i, slot in enumerate(self.slots)}
        self.nslots = pos
        self.actions: dict[int, _Action] = {}

    def at(self, obj: ElfObject, byte_offset: int, what: str) -> int:
        """The instruction index at ``byte_offset``; ELFError if none starts there."""
        if byte_offset % _SLOT or byte_offset // _SLOT not in self.index_of:
            raise ELFError(f"{obj.name}: section {self.section.name!r} offset {byte_offset}: {what} "
                           "is not at the start of an instruction")
        return self.index_of[byte_offset // _SLOT]


def _functions(obj: ElfObject, code: _Code) -> list[_Func]:
    sec = code.section
    syms = sorted((s for s in obj.symbols if s.section_index == sec.index and s.type == SymbolType.FUNC),
                  key=lambda s: (s.value, s.index))
    starts = sorted({s.value for s in syms})
    funcs: list[_Func] = []
    for sym in syms:
        if sym.value % _SLOT or sym.size % _SLOT:
            raise ELFError(f"{obj.name}: function {sym.name!r} in {sec.name!r} at offset {sym.value} "
                           f"size {sym.size} is not aligned to instructions")
        if sym.size:
            end = sym.value + sym.size
        else:
            later = [v for v in starts if v > sym.value]
            end = later[0] if later else sec.size
        if end > sec.size:
            raise ELFError(f"{obj.name}: function {sym.name!r} at offset {sym.value} size {sym.size} "
                           f"extends past the end of {sec.name!r} ({sec.size} bytes)")
        first = code.at(obj, sym.value, f"function {sym.name!r}")
        last = code.at(obj, end, f"the end of function {sym.name!r}") if end < sec.size else len(code.insns)
        funcs.append(_Func(sym.name, sec, sym.value // _SLOT, end // _SLOT, first, last))
    if not funcs and sec.name != _TEXT:
        name = _BAD_NAME_CHARS.sub("_", sec.name) or f"section{sec.index}"
        funcs.append(_Func(name, sec, 0, code.nslots, 0, len(code.insns)))
    return funcs


def _lo32(value: int) -> int:
    lo = value & 0xFFFFFFFF
    return lo - (1 << 32) if lo >> 31 else lo


class _Resolver:
    """Turns the relocations of one executable section into actions."""

    def __init__(self, obj: ElfObject, targets: CodeTargets, executable: set[int]) -> None:
        self.obj = obj
        self.targets = targets
        self.executable = executable

    def resolve(self, code: _Code) -> None:
        sec = code.section
        relocated: set[int] = set()
        for r in self.obj.relocations_by_index(sec.index):
            i = code.at(self.obj, r.offset, f"relocation against {r.symbol_name!r}")
            slot = code.slots[i]
            relocated.add(slot)
            try:
                code.actions[slot] = self._one(code, code.insns[i], r)
            except ELFError as exc:
                raise ELFError(f"{self.obj.name}: section {sec.name!r} offset {r.offset}: {exc}") from None
        for i, insn in enumerate(code.insns):
            slot = code.slots[i]
            if slot in relocated:
                continue
            if insn.is_call and insn.src == CallSrc.CALL:  # call within the section, already resolved
                code.actions[slot] = _Action(_Link.CALL, insn, (sec.index, slot + insn.imm + 1))
            elif insn.is_ld_imm64 and insn.src == PseudoSrc.FUNC:
                code.actions[slot] = _Action(_Link.FUNC_ADDR, insn, (sec.index, slot + _lo32(insn.imm) + 1))

    def _one(self, code: _Code, insn: Instruction, r: Reloc) -> _Action:
        if r.type not in (RelocType.R_64_64, RelocType.R_64_32):
            raise ELFError(f"relocation type {int(r.type)} against {r.symbol_name!r} is not valid in code")
        sym = self.obj.symbols[r.symbol_index]
        shndx = sym.section_index
        if not sym.is_defined:
            return self._extern(insn, r)
        if shndx in self.executable:
            if sym.value % _SLOT:
                raise ELFError(f"code symbol {r.symbol_name!r} at offset {sym.value} is not aligned")
            if insn.is_call and insn.src == CallSrc.CALL:
                return _Action(_Link.CALL, insn, (shndx, sym.value // _SLOT + insn.imm + 1))
            if insn.is_ld_imm64:
                byte = sym.value + _lo32(insn.imm)
                if byte % _SLOT:
                    raise ELFError(f"address of {r.symbol_name!r}+{_lo32(insn.imm)} is not an instruction")
                return _Action(_Link.FUNC_ADDR, insn, (shndx, byte // _SLOT))
            raise ELFError(f"code symbol {r.symbol_name!r} is referenced by an instruction that is "
                           "neither a call nor a 64-bit immediate load")
        if not insn.is_ld_imm64:
            raise ELFError(f"{r.symbol_name!r} is referenced by an instruction that is not a 64-bit "
                           "immediate load")
        offset = sym.value + _lo32(insn.imm)
        if shndx in self.targets.map_slots:
            return self._map(insn, r, offset, self.targets.map_slots[shndx])
        if shndx in self.targets.data_maps:
            size = self.targets.data_sizes.get(shndx, 0)
            if not 0 <= offset <= size:
                raise ELFError(f"address {r.symbol_name!r}+{offset - sym.value} lies outside its "
                               f"section {sym.section!r} ({size} bytes)")
            return _Action(_Link.LOADER, insn.replace(src=PseudoSrc.MAP_VALUE, imm=offset << 32),
                           kind=RelocationKind.MAP_VALUE, symbol=self.targets.data_maps[shndx], offset=offset)
        raise ELFError(f"relocation against {r.symbol_name!r} in section {sym.section!r}, which is "
                       "neither code, maps nor global data")

    def _map(self, insn: Instruction, r: Reloc, offset: int, slots: list[MapSlot]) -> _Action:
        for m in slots:
            if m.offset == offset:
                return _Action(_Link.LOADER, insn.replace(src=PseudoSrc.MAP_FD, imm=0),
                               kind=RelocationKind.MAP_FD, symbol=m.name)
        raise ELFError(f"relocation against {r.symbol_name!r}+{offset} does not name the start of a map")

    def _extern(self, insn: Instruction, r: Reloc) -> _Action:
        ext = self.targets.externs.get(r.symbol_name)
        if ext is None and not self.targets.has_btf:
            raise ELFError(f"unresolved symbol {r.symbol_name!r}: the object has no BTF, so its externs "
                           "cannot be read; compile with -g")
        if ext is None:
            raise ELFError(f"unresolved symbol {r.symbol_name!r}: declare kernel functions and "
                           "variables __ksym, kernel config values __kconfig, or link the object "
                           "that defines it")
        if ext.kind == ExternKind.KFUNC:
            if insn.is_ld_imm64:  # `if (kfunc)` (bpf_ksym_exists): the function's address, 0 when a __weak one is missing
                return _Action(_Link.LOADER, insn, kind=RelocationKind.KSYM, symbol=ext.name)
            if not (insn.is_call and insn.src == CallSrc.CALL):
                raise ELFError(f"kernel function {ext.name!r} is used other than by a call or by taking its address")
            return _Action(_Link.LOADER, insn.replace(src=CallSrc.KFUNC, imm=0),
                           kind=RelocationKind.KFUNC, symbol=ext.name)
        if not insn.is_ld_imm64:
            raise ELFError(f"extern {ext.name!r} is referenced by an instruction that is not a 64-bit "
                           "immediate load")
        if ext.kind == ExternKind.KSYM:
            return _Action(_Link.LOADER, insn, kind=RelocationKind.KSYM, symbol=ext.name)
        offset = ext.offset + _lo32(insn.imm)
        return _Action(_Link.LOADER, insn.replace(src=PseudoSrc.MAP_VALUE, imm=offset << 32),
                       kind=RelocationKind.KCONFIG, symbol=ext.name, offset=offset)


class _Linker:
    """Builds each program's instructions from its function and the functions it reaches."""

    def __init__(self, obj: ElfObject, codes: dict[int, _Code], funcs: dict[tuple[int, int], _Func],
                 ext: BTFExt | None) -> None:
        self.obj = obj
        self.codes = codes
        self.funcs = funcs
        self.ext = ext

    def _func_at(self, target: tuple[int, int], where: str) -> _Func:
        func = self.funcs.get(target)
        if func is None:
            sec = self.codes[target[0]].section.name if target[0] in self.codes else str(target[0])
            raise ELFError(f"{self.obj.name}: {where} targets {sec!r} offset {target[1] * _SLOT}, "
                           "which is not the start of a function")
        return func

    def link(self, entry: _Func) -> tuple[list[Instruction], list[Relocation], dict[str, list[Any]]]:
        """The linked instructions of ``entry``, its loader relocations and .BTF.ext records."""
        insns: list[Instruction] = []
        relocs: list[Relocation] = []
        records: dict[str, list[Any]] = {"func_info": [], "line_info": [], "core_relocations": []}
        pending: list[tuple[int, int, tuple[int, int], _Link]] = []  # (list index, slot, callee, link)
        queue = [entry]
        queued = {entry.key}
        base_of: dict[tuple[int, int], int] = {}
        total = 0
        for func in queue:  # grows while we walk it: callees are appended in the order met
            code = self.codes[func.section.index]
            base_of[func.key] = total
            self._carry_ext(func, total, records)
            for i in range(func.first, func.last):
                slot = code.slots[i]
                new_slot = total + slot - func.start
                action = code.actions.get(slot)
                if action is None:
                    insns.append(code.insns[i])
                    continue
                if action.link == _Link.LOADER:
                    assert action.kind is not None
                    relocs.append(Relocation(new_slot, action.kind, action.symbol, action.offset))
                else:
                    assert action.target is not None
                    what = "call" if action.link == _Link.CALL else "function address"
                    callee = self._func_at(action.target, f"{what} at {func.section.name!r} offset {slot * _SLOT}")
                    if callee.key not in queued:
                        queued.add(callee.key)
                        queue.append(callee)
                    pending.append((len(insns), new_slot, callee.key, action.link))
                insns.append(action.insn)
            total += func.end - func.start
        for index, slot, callee_key, link in pending:
            rel = base_of[callee_key] - (slot + 1)
            if link == _Link.CALL:
                insns[index] = insns[index].replace(imm=rel)
            else:
                insns[index] = insns[index].replace(src=PseudoSrc.FUNC, imm=rel)
        return insns, relocs, records

    def _carry_ext(self, func: _Func, base: int, out: dict[str, list[Any]]) -> None:
        if self.ext is None:
            return
        name = func.section.name
        for attr in ("func_info", "line_info", "core_relocations"):
            records = getattr(self.ext, attr).get(name, ())
            for rec in records:
                if func.start <= rec.insn_off < func.end:
                    out[attr].append(dataclasses.replace(rec, insn_off=rec.insn_off - func.start + base))



def load_programs(obj: ElfObject, targets: CodeTargets, ext: BTFExt | None, *, license: str = "",
                  kernel_version: int = 0) -> dict[str, ProgramSpec]:
    """Every entry program of the object, linked with its subprograms."""
    codes = {s.index: _Code(obj, s) for s in obj.executable_sections()}
    resolver = _Resolver(obj, targets, set(codes))
    funcs: dict[tuple[int, int], _Func] = {}
    entries: list[_Func] = []
    for code in codes.values():
        for func in _functions(obj, code):
            funcs.setdefault(func.key, func)
            if code.section.name != _TEXT:
                entries.append(func)
        resolver.resolve(code)
    linker = _Linker(obj, codes, funcs, ext)
    programs: dict[str, ProgramSpec] = {}
    for func in entries:
        insns, relocs, records = linker.link(func)
        sdef = parse_section_name(func.section.name)
        if sdef is None:
            log.warning("%s: program %s: section name %r is not a known program type; set "
                        "ProgramSpec.type before loading", obj.name, func.name, func.section.name)
        if func.name in programs:
            raise ELFError(f"{obj.name}: two programs are named {func.name!r} (in "
                           f"{programs[func.name].section!r} and {func.section.name!r})")
        programs[func.name] = ProgramSpec(
            name=func.name, section=func.section.name,
            type=sdef.type if sdef else ProgramType.UNSPEC, instructions=insns,
            expected_attach_type=sdef.attach_type if sdef else None,
            attach_to=sdef.attach_to if sdef else "",
            sleepable=sdef.sleepable if sdef else False, license=license,
            kernel_version=kernel_version,
            flags=int(sdef.program_flags & ~ProgramFlags.SLEEPABLE) if sdef else 0,
            relocations=relocs, core_relocations=records["core_relocations"],
            func_info=records["func_info"], line_info=records["line_info"],
            section_offset=func.start * _SLOT,
        )
    return programs
