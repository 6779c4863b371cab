"""Instructions to text in the LLVM / kernel-verifier syntax.

The default syntax is the one ``clang -S`` writes for the BPF target, with decimal numbers:
``r1 = *(u32 *)(r10 - 4)``, ``w0 += w1``, ``if r1 s> 5 goto +3``, ``r1 = 4660 ll``. It is
lossless: :func:`pybpf.isa.assemble` reads it back to the same instructions. Where LLVM's
text is ambiguous, pybpf uses the kernel verifier's spelling (``call pc+3`` for a BPF-to-BPF
call) or a small extension (``call kfunc 1234``, ``ld_pseudo r1, 2, 3, 8`` with the second
immediate half, ``.insn OPCODE, DST, SRC, OFF, IMM`` for an encoding that has no mnemonic).

``Syntax(objdump=True)`` reproduces ``llvm-objdump-19 -d`` instead (hex numbers, raw call
immediates, ``ld_pseudo`` without its second half, 32-bit ``lock`` add on r registers) for
the CLI; it is not meant to be read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .helpers import HELPER_NAMES
from .instruction import Instruction, slot_offsets
from .opcodes import (
    CLASS_MASK,
    CODE_MASK,
    MODE_MASK,
    SIZE_MASK,
    SOURCE_MASK,
    AluOp,
    AtomicOp,
    CallSrc,
    Endian,
    InsnClass,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
)

__all__ = [
    "Syntax",
    "DEFAULT_SYNTAX",
    "OBJDUMP_SYNTAX",
    "format_instruction",
    "disassemble",
    "Symbolizer",
    "is_canonical",
]

#: maps a slot index to the symbol a relocation there refers to (or None)
Symbolizer = Callable[[int], "str | None"]


@dataclass(frozen=True)
class Syntax:
    """How instructions are spelled.

    ``hex_imm``: numbers in hex (``0x4``, ``-0x4``) as llvm-objdump prints them.
    ``helper_names``: ``call bpf_map_lookup_elem`` instead of ``call 1``.
    ``objdump``: llvm-objdump-19's spellings (raw call immediates, 3-operand ``ld_pseudo``,
    ``<unknown>``); use it as :data:`OBJDUMP_SYNTAX`, which also sets hex and no helper names.
    """

    hex_imm: bool = False
    helper_names: bool = True
    objdump: bool = False


DEFAULT_SYNTAX = Syntax()
OBJDUMP_SYNTAX = Syntax(hex_imm=True, helper_names=False, objdump=True)

ALU_OPS: dict[AluOp, str] = {
    AluOp.ADD: "+=",
    AluOp.SUB: "-=",
    AluOp.MUL: "*=",
    AluOp.DIV: "/=",
    AluOp.OR: "|=",
    AluOp.AND: "&=",
    AluOp.LSH: "<<=",
    AluOp.RSH: ">>=",
    AluOp.MOD: "%=",
    AluOp.XOR: "^=",
    AluOp.ARSH: "s>>=",
}
#: signed variants selected by off == 1 (cpu v4)
SIGNED_ALU_OPS: dict[AluOp, str] = {AluOp.DIV: "s/=", AluOp.MOD: "s%="}

JMP_OPS: dict[JmpOp, str] = {
    JmpOp.JEQ: "==",
    JmpOp.JNE: "!=",
    JmpOp.JGT: ">",
    JmpOp.JGE: ">=",
    JmpOp.JLT: "<",
    JmpOp.JLE: "<=",
    JmpOp.JSGT: "s>",
    JmpOp.JSGE: "s>=",
    JmpOp.JSLT: "s<",
    JmpOp.JSLE: "s<=",
    JmpOp.JSET: "&",
}

ATOMIC_OPS: dict[AtomicOp, str] = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}
FETCH_OPS: dict[AtomicOp, str] = {
    AtomicOp.FETCH_ADD: "add",
    AtomicOp.FETCH_OR: "or",
    AtomicOp.FETCH_AND: "and",
    AtomicOp.FETCH_XOR: "xor",
}

SIZE_NAMES: dict[Size, str] = {Size.B: "8", Size.H: "16", Size.W: "32", Size.DW: "64"}
MOVSX_BITS = {8: "(s8)", 16: "(s16)", 32: "(s32)"}
UNKNOWN = "<unknown>"
MAX_REGISTER = 10


class _Unknown(Exception):
    """Raised inside a formatter when an encoding has no mnemonic."""


def _num(value: int, syn: Syntax) -> str:
    if not syn.hex_imm:
        return str(value)
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _rel(value: int, syn: Syntax) -> str:
    """A signed pc-relative distance: ``+3`` / ``-3`` (``+0x3`` in hex)."""
    text = _num(value, syn)
    return text if value < 0 else "+" + text


def _mem(reg: int, off: int, syn: Syntax) -> str:
    sign = "-" if off < 0 else "+"
    return f"r{reg} {sign} {_num(abs(off), syn)}"


def _check(cond: bool) -> None:
    if not cond:
        raise _Unknown


@dataclass(frozen=True)
class _Ctx:
    syn: Syntax
    target: str | None  # jump/call target text replacing the relative distance
    symbol: str | None  # relocation symbol (ld_imm64 value, call target)


# --------------------------------------------------------------------------- ALU
def _fmt_alu(insn: Instruction, ctx: _Ctx) -> str:
    is64 = insn.opcode & CLASS_MASK == InsnClass.ALU64
    r = "r" if is64 else "w"
    op = AluOp(insn.opcode & CODE_MASK)
    src_x = insn.opcode & SOURCE_MASK == Source.X
    syn = ctx.syn
    dst = f"{r}{insn.dst}"
    if op == AluOp.END:
        _check(insn.src == 0 and insn.off == 0 and insn.imm in (16, 32, 64))
        if is64:
            _check(not src_x)
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        kind = "be" if insn.opcode & SOURCE_MASK == Endian.TO_BE else "le"
        return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
    if op == AluOp.NEG:
        _check(not src_x and insn.src == 0 and insn.off == 0 and insn.imm == 0)
        return f"{dst} = -{dst}"
    if src_x:
        _check(insn.imm == 0)
        operand = f"{r}{insn.src}"
    else:
        _check(insn.src == 0)
        operand = _num(insn.imm, syn)
    if op == AluOp.MOV:
        if insn.off:
            _check(src_x and insn.off in ((8, 16, 32) if is64 else (8, 16)))
            return f"{dst} = {MOVSX_BITS[insn.off]}{operand}"
        return f"{dst} = {operand}"
    if insn.off:
        _check(insn.off == 1 and op in SIGNED_ALU_OPS)
        return f"{dst} {SIGNED_ALU_OPS[op]} {operand}"
    return f"{dst} {ALU_OPS[op]} {operand}"


# --------------------------------------------------------------------------- jumps
def _jump_target(insn: Instruction, ctx: _Ctx) -> str:
    return ctx.target if ctx.target is not None else _rel(insn.jump_offset, ctx.syn)


def _fmt_call(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.dst == 0 and insn.off == 0 and insn.src in (0, 1, 2))
    syn = ctx.syn
    if syn.objdump:
        return f"call {_num(insn.imm, syn)}"
    kind = CallSrc(insn.src)
    if ctx.symbol is not None:
        return f"call {ctx.symbol}"
    if kind == CallSrc.CALL:
        return f"call {ctx.target}" if ctx.target is not None else f"call pc{_rel(insn.imm, syn)}"
    if kind == CallSrc.KFUNC:
        return f"call kfunc {_num(insn.imm, syn)}"
    if syn.helper_names and insn.imm in HELPER_NAMES:
        return f"call {HELPER_NAMES[insn.imm]}"
    return f"call {_num(insn.imm, syn)}"


def _fmt_jmp(insn: Instruction, ctx: _Ctx) -> str:
    is32 = insn.opcode & CLASS_MASK == InsnClass.JMP32
    op = JmpOp(insn.opcode & CODE_MASK)
    src_x = insn.opcode & SOURCE_MASK == Source.X
    special = _JMP_SPECIAL.get((is32, op, src_x))
    if special is not None:
        return special(insn, ctx)
    _check(op in JMP_OPS)
    r = "w" if is32 else "r"
    if src_x:
        _check(insn.imm == 0)
        operand = f"{r}{insn.src}"
    else:
        _check(insn.src == 0)
        operand = _num(insn.imm, ctx.syn)
    return f"if {r}{insn.dst} {JMP_OPS[op]} {operand} goto {_jump_target(insn, ctx)}"


def _fmt_ja(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.dst == 0 and insn.src == 0 and insn.imm == 0)
    return f"goto {_jump_target(insn, ctx)}"


def _fmt_gotox(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.src == 0 and insn.off == 0 and insn.imm == 0)
    return f"gotox r{insn.dst}"


def _fmt_gotol(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.dst == 0 and insn.src == 0 and insn.off == 0)
    return f"gotol {_jump_target(insn, ctx)}"


def _fmt_may_goto(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.dst == 0 and insn.src == 0 and insn.imm == 0)
    return f"may_goto {_jump_target(insn, ctx)}"


def _fmt_callx(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.src == 0 and insn.off == 0 and insn.imm == 0)
    return f"callx r{insn.dst}"


def _fmt_exit(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.dst == 0 and insn.src == 0 and insn.off == 0 and insn.imm == 0)
    return "exit"


_JMP_SPECIAL: dict[tuple[bool, JmpOp, bool], Callable[[Instruction, _Ctx], str]] = {
    (False, JmpOp.JA, False): _fmt_ja,
    (False, JmpOp.JA, True): _fmt_gotox,  # indirect jump (LLVM 22)
    (True, JmpOp.JA, False): _fmt_gotol,
    (False, JmpOp.JCOND, False): _fmt_may_goto,
    (False, JmpOp.CALL, False): _fmt_call,
    (False, JmpOp.CALL, True): _fmt_callx,
    (False, JmpOp.EXIT, False): _fmt_exit,
}


def _fmt_invalid(insn: Instruction, ctx: _Ctx) -> str:
    raise _Unknown


# every other combination of these operations has no mnemonic (JMP32 call/exit, X forms, ...)
for _is32 in (False, True):
    for _op in (JmpOp.JA, JmpOp.JCOND, JmpOp.CALL, JmpOp.EXIT):
        for _x in (False, True):
            _JMP_SPECIAL.setdefault((_is32, _op, _x), _fmt_invalid)


# --------------------------------------------------------------------------- loads / stores
def _fmt_ld(insn: Instruction, ctx: _Ctx) -> str:
    mode = insn.opcode & MODE_MASK
    size = Size(insn.opcode & SIZE_MASK)
    syn = ctx.syn
    if insn.is_ld_imm64:
        _check(insn.off == 0 and insn.src in PseudoSrc._value2member_map_)
        if insn.src == PseudoSrc.IMM:
            value = ctx.symbol if ctx.symbol is not None else _num(insn.imm, syn)
            return f"r{insn.dst} = {value} ll"
        lo = insn.imm - ((insn.imm >> 32) << 32)
        lo = lo - (1 << 32) if lo >= 1 << 31 else lo
        if syn.objdump:
            return f"ld_pseudo\tr{insn.dst}, {_num(insn.src, syn)}, {_num(lo, syn)}"
        text = f"ld_pseudo r{insn.dst}, {_num(insn.src, syn)}, {_num(lo, syn)}"
        if insn.hi32:
            hi = insn.hi32 - (1 << 32) if insn.hi32 >= 1 << 31 else insn.hi32
            text += f", {_num(hi, syn)}"
        return text
    _check(size != Size.DW and insn.off == 0 and insn.dst == 0)
    if mode == Mode.ABS:
        _check(insn.src == 0)
        return f"r0 = *(u{SIZE_NAMES[size]} *)skb[{_num(insn.imm, syn)}]"
    if mode == Mode.IND:
        _check(insn.imm == 0)
        return f"r0 = *(u{SIZE_NAMES[size]} *)skb[r{insn.src}]"
    raise _Unknown


def _fmt_ldx(insn: Instruction, ctx: _Ctx) -> str:
    mode = insn.opcode & MODE_MASK
    size = Size(insn.opcode & SIZE_MASK)
    _check(insn.imm == 0 and (mode == Mode.MEM or (mode == Mode.MEMSX and size != Size.DW)))
    sign = "s" if mode == Mode.MEMSX else "u"
    return f"r{insn.dst} = *({sign}{SIZE_NAMES[size]} *)({_mem(insn.src, insn.off, ctx.syn)})"


def _fmt_st(insn: Instruction, ctx: _Ctx) -> str:
    _check(insn.opcode & MODE_MASK == Mode.MEM and insn.src == 0)
    size = Size(insn.opcode & SIZE_MASK)
    return f"*(u{SIZE_NAMES[size]} *)({_mem(insn.dst, insn.off, ctx.syn)}) = {_num(insn.imm, ctx.syn)}"


def _fmt_stx(insn: Instruction, ctx: _Ctx) -> str:
    mode = insn.opcode & MODE_MASK
    size = Size(insn.opcode & SIZE_MASK)
    mem = _mem(insn.dst, insn.off, ctx.syn)
    bits = SIZE_NAMES[size]
    if mode == Mode.MEM:
        _check(insn.imm == 0)
        return f"*(u{bits} *)({mem}) = r{insn.src}"
    _check(mode == Mode.ATOMIC and insn.imm in AtomicOp._value2member_map_)
    aop = AtomicOp(insn.imm)
    return _ATOMIC_FORMATS[aop](insn, size, mem, ctx.syn)


def _atomic_rmw(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    _check(size in (Size.W, Size.DW))
    # llvm-objdump-19 (no alu32 decoder) shows the 32-bit add on an r register
    r = "r" if size == Size.DW or (syn.objdump and insn.imm == AtomicOp.ADD) else "w"
    return f"lock *(u{SIZE_NAMES[size]} *)({mem}) {ATOMIC_OPS[AtomicOp(insn.imm)]} {r}{insn.src}"


def _atomic_fetch(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    _check(size in (Size.W, Size.DW))
    r = "r" if size == Size.DW else "w"
    name = FETCH_OPS[AtomicOp(insn.imm)]
    return f"{r}{insn.src} = atomic_fetch_{name}((u{SIZE_NAMES[size]} *)({mem}), {r}{insn.src})"


def _atomic_xchg(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    _check(size in (Size.W, Size.DW))
    r, name = ("r", "xchg_64") if size == Size.DW else ("w", "xchg32_32")
    return f"{r}{insn.src} = {name}({mem}, {r}{insn.src})"


def _atomic_cmpxchg(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    _check(size in (Size.W, Size.DW))
    r, name = ("r", "cmpxchg_64") if size == Size.DW else ("w", "cmpxchg32_32")
    return f"{r}0 = {name}({mem}, {r}0, {r}{insn.src})"


def _atomic_load_acquire(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    # dst = load_acquire(src + off): the address register is src here
    r = "r" if size == Size.DW else "w"
    return f"{r}{insn.dst} = load_acquire((u{SIZE_NAMES[size]} *)({_mem(insn.src, insn.off, syn)}))"


def _atomic_store_release(insn: Instruction, size: Size, mem: str, syn: Syntax) -> str:
    r = "r" if size == Size.DW else "w"
    return f"store_release((u{SIZE_NAMES[size]} *)({mem}), {r}{insn.src})"


_ATOMIC_FORMATS: dict[AtomicOp, Callable[[Instruction, Size, str, Syntax], str]] = {
    **{op: _atomic_rmw for op in ATOMIC_OPS},
    **{op: _atomic_fetch for op in FETCH_OPS},
    AtomicOp.XCHG: _atomic_xchg,
    AtomicOp.CMPXCHG: _atomic_cmpxchg,
    AtomicOp.LOAD_ACQUIRE: _atomic_load_acquire,
    AtomicOp.STORE_RELEASE: _atomic_store_release,
}

_CLASS_FORMATS: dict[InsnClass, Callable[[Instruction, _Ctx], str]] = {
    InsnClass.LD: _fmt_ld,
    InsnClass.LDX: _fmt_ldx,
    InsnClass.ST: _fmt_st,
    InsnClass.STX: _fmt_stx,
    InsnClass.ALU: _fmt_alu,
    InsnClass.ALU64: _fmt_alu,
    InsnClass.JMP: _fmt_jmp,
    InsnClass.JMP32: _fmt_jmp,
}


def _raw(insn: Instruction) -> str:
    return f".insn {insn.opcode:#04x}, {insn.dst}, {insn.src}, {insn.off}, {insn.imm}"


def format_instruction(
    insn: Instruction,
    syntax: Syntax = DEFAULT_SYNTAX,
    *,
    target: str | None = None,
    symbol: str | None = None,
) -> str:
    """One instruction as text.

    ``target`` replaces the relative distance of a jump or BPF-to-BPF call (a label);
    ``symbol`` names what a relocation makes the instruction refer to (``r1 = my_map ll``,
    ``call my_func``). An encoding without a mnemonic is ``<unknown>`` in objdump syntax and
    ``.insn OPCODE, DST, SRC, OFF, IMM`` otherwise.

    >>> from pybpf.isa import Instruction
    >>> format_instruction(Instruction(0x61, dst=1, src=10, off=-4))
    'r1 = *(u32 *)(r10 - 4)'
    """
    ctx = _Ctx(syntax, target, symbol)
    if not syntax.objdump and (insn.dst > MAX_REGISTER or insn.src > MAX_REGISTER):
        return _raw(insn)
    try:
        return _CLASS_FORMATS[InsnClass(insn.opcode & CLASS_MASK)](insn, ctx)
    except (_Unknown, ValueError, KeyError):
        return UNKNOWN if syntax.objdump else _raw(insn)


def is_canonical(insn: Instruction) -> bool:
    """True if the instruction has a mnemonic (unused fields zero, operation defined)."""
    return not format_instruction(insn).startswith(".insn")


def disassemble(
    insns: Iterable[Instruction],
    *,
    helper_names: bool = True,
    symbolizer: Symbolizer | None = None,
    hex_imm: bool = False,
    labels: bool = True,
    label_prefix: str = "LBB0_",
) -> str:
    """A program as assembly text, one instruction a line.

    With ``labels`` (the default) every jump and BPF-to-BPF call target inside the program
    gets a label (``LBB0_1:``) and the jump names it (``goto LBB0_1``); without, jumps show
    their relative distance (``goto +3``). ``symbolizer(slot)`` may name the symbol a
    relocation at that slot refers to; ``label_prefix`` starts each label name. Without a
    symbolizer the text reads back with
    :func:`pybpf.isa.assemble` to the same instructions.

    >>> from pybpf.isa import assemble
    >>> print(disassemble(assemble("r0 = 0\\nif r1 == 0 goto +1\\nr0 = 1\\nexit")))
    r0 = 0
    if r1 == 0 goto LBB0_1
    r0 = 1
    LBB0_1:
    exit
    """
    program = list(insns)
    syn = Syntax(hex_imm=hex_imm, helper_names=helper_names)
    positions = slot_offsets(program)
    symbols = {pos: name for pos in positions if symbolizer is not None and (name := symbolizer(pos)) is not None}
    names = _label_names(program, positions, symbols, label_prefix) if labels else {}
    lines: list[str] = []
    for insn, pos in zip(program, positions):
        if pos in names:
            lines.append(f"{names[pos]}:")
        dest = _branch_target(insn, pos)
        target = names.get(dest) if dest is not None else None
        lines.append(format_instruction(insn, syn, target=target, symbol=symbols.get(pos)))
    end = positions[-1] + program[-1].slots if program else 0
    if end in names:
        lines.append(f"{names[end]}:")
    return "\n".join(lines)


def _branch_target(insn: Instruction, pos: int) -> int | None:
    """Slot a jump or BPF-to-BPF call goes to, or None."""
    if insn.is_jump and is_canonical(insn):
        return pos + 1 + insn.jump_offset
    if insn.is_call and insn.src == CallSrc.CALL:
        return pos + 1 + insn.imm
    return None


def _label_names(
    program: Sequence[Instruction], positions: Sequence[int], symbols: dict[int, str], prefix: str
) -> dict[int, str]:
    valid = set(positions)
    if program:
        valid.add(positions[-1] + program[-1].slots)
    targets = sorted(
        {
            t
            for insn, pos in zip(program, positions)
            if pos not in symbols and (t := _branch_target(insn, pos)) is not None and t in valid
        }
    )
    return {t: f"{prefix}{n}" for n, t in enumerate(targets, 1)}
