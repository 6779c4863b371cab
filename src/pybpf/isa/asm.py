"""Assembly text to instructions: the LLVM / verifier syntax that :mod:`.disasm` writes.

One instruction a line; ``#``, ``;`` and ``//`` start comments; ``name:`` defines a label
(alone or in front of an instruction). Numbers are decimal or ``0x`` hex. Jump targets are
labels, ``+N``/``-N`` or the verifier's ``pc+N``. Also accepted: ``w`` registers in 32-bit
loads and stores (as ``clang -S`` writes them), ``call pc+N`` (BPF-to-BPF), ``call kfunc N``,
helper names (``call bpf_map_lookup_elem``), ``ld_pseudo rD, SRC, IMM[, NEXT_IMM]`` and
``.insn OPCODE, DST, SRC, OFF, IMM`` for any raw encoding. Lines of a kernel verifier log or
of ``bpftool prog dump xlated`` (``  5: (db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)``)
are read too, for the instructions whose text is not elided there.

>>> from pybpf.isa import assemble
>>> [i.to_bytes().hex() for i in assemble("r1 = *(u32 *)(r10 - 4)\\nexit")]
['61a1fcff00000000', '9500000000000000']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from ..errors import AssemblerError, InstructionError
from .helpers import HELPER_IDS
from .instruction import Instruction
from .opcodes import (
    LD_IMM64_OPCODE,
    AluOp,
    AtomicOp,
    CallSrc,
    Endian,
    InsnClass,
    JmpOp,
    Mode,
    Size,
    Source,
)

__all__ = ["assemble"]

MAX_REGISTER = 10

_NUM = r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|\d+)"
_UNUM = r"(?:0[xX][0-9a-fA-F]+|\d+)"
_REG = r"([rw])(\d+)"
_IDENT = r"[A-Za-z_.$][\w.$]*"
_TARGET = rf"((?:pc)?[+-]\s*{_UNUM}|{_IDENT})"
_MEM = rf"\(\s*r(\d+)\s*([+-])\s*({_UNUM})\s*\)"
_SIZE = r"\*\s*\(\s*([us])(8|16|32|64)\s*\*\s*\)"
_OPERAND = rf"(?:{_REG}|({_NUM}))"

_SIZES = {"8": Size.B, "16": Size.H, "32": Size.W, "64": Size.DW}
_ALU_OPS: dict[str, tuple[AluOp, int]] = {
    "+=": (AluOp.ADD, 0),
    "-=": (AluOp.SUB, 0),
    "*=": (AluOp.MUL, 0),
    "/=": (AluOp.DIV, 0),
    "|=": (AluOp.OR, 0),
    "&=": (AluOp.AND, 0),
    "<<=": (AluOp.LSH, 0),
    ">>=": (AluOp.RSH, 0),
    "%=": (AluOp.MOD, 0),
    "^=": (AluOp.XOR, 0),
    "s>>=": (AluOp.ARSH, 0),
    "s/=": (AluOp.DIV, 1),
    "s%=": (AluOp.MOD, 1),
}
_JMP_OPS: dict[str, JmpOp] = {
    "==": JmpOp.JEQ,
    "!=": JmpOp.JNE,
    ">": JmpOp.JGT,
    ">=": JmpOp.JGE,
    "<": JmpOp.JLT,
    "<=": JmpOp.JLE,
    "s>": JmpOp.JSGT,
    "s>=": JmpOp.JSGE,
    "s<": JmpOp.JSLT,
    "s<=": JmpOp.JSLE,
    "&": JmpOp.JSET,
}
_LOCK_OPS = {"+=": AtomicOp.ADD, "|=": AtomicOp.OR, "&=": AtomicOp.AND, "^=": AtomicOp.XOR}
_FETCH_OPS = {"add": AtomicOp.FETCH_ADD, "or": AtomicOp.FETCH_OR, "and": AtomicOp.FETCH_AND, "xor": AtomicOp.FETCH_XOR}
_ENDIAN = {"le": (InsnClass.ALU, Endian.TO_LE), "be": (InsnClass.ALU, Endian.TO_BE), "bswap": (InsnClass.ALU64, Endian.TO_LE)}


def _alt(ops: Iterable[str]) -> str:
    return "|".join(re.escape(op) for op in sorted(ops, key=len, reverse=True))


class _LineError(Exception):
    """A problem with the current line (turned into AssemblerError with the line number)."""


def _int(text: str) -> int:
    text = text.replace(" ", "").replace("\t", "")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    value = int(body, 16) if body[:2].lower() == "0x" else int(body, 10)
    return sign * value


def _reg(kind: str, num: str, *, want: str | None = None) -> int:
    n = int(num)
    if n > MAX_REGISTER:
        raise _LineError(f"there is no register {kind}{n}; registers are r0..r{MAX_REGISTER}")
    if want is not None and kind != want:
        raise _LineError(f"expected a {'64-bit r' if want == 'r' else '32-bit w'} register, got {kind}{n}")
    return n


def _off(sign: str, num: str) -> int:
    value = _int(num)
    value = -value if sign == "-" else value
    if not -0x8000 <= value <= 0x7FFF:
        raise _LineError(f"offset {value} does not fit in 16 bits (-32768..32767)")
    return value


@dataclass
class _Pending:
    """A parsed line: how many slots it takes and how to build it once labels are known."""

    lineno: int
    text: str
    slots: int
    build: Callable[[int, dict[str, int]], Instruction]


#: what a line handler returns: the number of slots, and a builder called once labels are known
_Built = tuple[int, Callable[[int, dict[str, int]], Instruction]]


def _fixed(insn: Instruction) -> _Built:
    return insn.slots, lambda pos, labels: insn


def _resolve(target: str, pos: int, labels: dict[str, int]) -> int:
    """Relative distance (in slots, from the next instruction) of a jump target."""
    t = target.replace(" ", "")
    if t.startswith("pc"):
        t = t[2:]
    if t[0] in "+-":
        return _int(t)
    if t not in labels:
        raise _LineError(f"undefined label {t!r}")
    return labels[t] - (pos + 1)


# --------------------------------------------------------------------------- handlers
Handler = Callable[[re.Match[str]], _Built]


def _h_exit(m: re.Match[str]) -> _Built:
    return _fixed(Instruction(InsnClass.JMP | JmpOp.EXIT))


def _h_call(m: re.Match[str]) -> _Built:
    target = m.group(1).strip()
    op = InsnClass.JMP | JmpOp.CALL
    kfunc = re.fullmatch(rf"kfunc\s+({_NUM})", target)
    if kfunc:
        return _fixed(Instruction(op, src=CallSrc.KFUNC, imm=_int(kfunc.group(1))))
    if re.fullmatch(r"pc\s*[+-]\s*" + _UNUM, target):
        return _fixed(Instruction(op, src=CallSrc.CALL, imm=_resolve(target, 0, {})))
    if re.fullmatch(_NUM, target):
        return _fixed(Instruction(op, imm=_int(target)))
    if not re.fullmatch(_IDENT, target):
        raise _LineError(f"bad call target {target!r}: use a helper id or name, pc+N, kfunc N or a label")

    def build(pos: int, labels: dict[str, int]) -> Instruction:
        if target in labels:
            return Instruction(op, src=CallSrc.CALL, imm=labels[target] - (pos + 1))
        if target in HELPER_IDS:
            return Instruction(op, imm=HELPER_IDS[target])
        raise _LineError(f"{target!r} is neither a label nor a known helper (bpf_...)")

    return 1, build


def _h_callx(m: re.Match[str]) -> _Built:
    return _fixed(Instruction(InsnClass.JMP | JmpOp.CALL | Source.X, dst=_reg("r", m.group(1), want="r")))


def _h_gotox(m: re.Match[str]) -> _Built:
    return _fixed(Instruction(InsnClass.JMP | JmpOp.JA | Source.X, dst=_reg("r", m.group(1))))


_GOTO_OPCODES = {
    "goto": InsnClass.JMP | JmpOp.JA,
    "gotol": InsnClass.JMP32 | JmpOp.JA,
    "may_goto": InsnClass.JMP | JmpOp.JCOND,
}


def _h_goto(m: re.Match[str]) -> _Built:
    opcode = _GOTO_OPCODES[m.group(1)]
    target = m.group(2)
    if m.group(1) == "gotol":
        return 1, lambda pos, labels: Instruction(opcode, imm=_resolve(target, pos, labels))
    return 1, lambda pos, labels: Instruction(opcode, off=_jump_off(target, pos, labels))


def _jump_off(target: str, pos: int, labels: dict[str, int]) -> int:
    off = _resolve(target, pos, labels)
    if not -0x8000 <= off <= 0x7FFF:
        raise _LineError(f"jump distance {off} does not fit in 16 bits; use 'gotol' for long jumps")
    return off


def _h_if(m: re.Match[str]) -> _Built:
    kind, dnum, opname, skind, snum, imm, target = m.groups()
    cls = InsnClass.JMP32 if kind == "w" else InsnClass.JMP
    dst = _reg(kind, dnum)
    op = _JMP_OPS[opname]
    if skind is not None:
        src = _reg(skind, snum, want=kind)
        return 1, lambda pos, labels: Instruction(
            cls | op | Source.X, dst=dst, src=src, off=_jump_off(target, pos, labels)
        )
    value = _int(imm)
    return 1, lambda pos, labels: Instruction(cls | op, dst=dst, imm=value, off=_jump_off(target, pos, labels))


def _atomic_size(bits: str, kind: str) -> Size:
    size = _SIZES[bits]
    if size not in (Size.W, Size.DW):
        raise _LineError(f"atomic operations work on u32 or u64, not u{bits}")
    if size == Size.DW and kind != "r":
        raise _LineError("a 64-bit atomic operation takes r registers")
    return size


def _stx_atomic(size: Size) -> int:
    return InsnClass.STX | Mode.ATOMIC | size


def _h_lock(m: re.Match[str]) -> _Built:
    sign_u, bits, areg, sign, off, opname, kind, snum = m.groups()
    if sign_u != "u":
        raise _LineError("atomic operations take an unsigned size (u32 or u64)")
    size = _atomic_size(bits, kind)
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(kind, snum), off=_off(sign, off), imm=_LOCK_OPS[opname])
    )


def _h_fetch(m: re.Match[str]) -> _Built:
    k1, n1, name, bits, areg, sign, off, k2, n2 = m.groups()
    size = _atomic_size(bits, k1)
    if (k1, n1) != (k2, n2):
        raise _LineError(f"atomic_fetch_{name} returns into its operand register: write {k2}{n2} = ...")
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(k1, n1), off=_off(sign, off), imm=_FETCH_OPS[name])
    )


def _h_xchg(m: re.Match[str]) -> _Built:
    k1, n1, name, areg, sign, off, k2, n2 = m.groups()
    size = Size.DW if name == "xchg_64" else Size.W
    want = "r" if size == Size.DW else "w"
    if (k1, n1) != (k2, n2):
        raise _LineError(f"{name} returns into its operand register: write {k2}{n2} = {name}(...)")
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(k1, n1, want=want), off=_off(sign, off), imm=AtomicOp.XCHG)
    )


def _h_cmpxchg(m: re.Match[str]) -> _Built:
    k1, n1, name, areg, sign, off, k2, n2, k3, n3 = m.groups()
    size = Size.DW if name == "cmpxchg_64" else Size.W
    want = "r" if size == Size.DW else "w"
    if int(n1) != 0 or int(n2) != 0 or k1 != want or k2 != want:
        raise _LineError(f"{name} compares with and returns into {want}0: write {want}0 = {name}(rX + off, {want}0, {want}N)")
    return _fixed(
        Instruction(
            _stx_atomic(size), dst=_reg("r", areg), src=_reg(k3, n3, want=want), off=_off(sign, off), imm=AtomicOp.CMPXCHG
        )
    )


def _verifier_size(wide: str | None, bits: str) -> Size:
    size = Size.DW if wide else Size.W
    if size != _SIZES[bits]:
        raise _LineError(f"atomic{wide or ''} operations work on u{'64' if wide else '32'}, not u{bits}")
    return size


def _h_v_fetch(m: re.Match[str]) -> _Built:
    """The kernel verifier's ``r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)``."""
    k1, n1, wide, name, bits, areg, sign, off, k2, n2 = m.groups()
    size = _verifier_size(wide, bits)
    if (k1, n1) != (k2, n2):
        raise _LineError(f"atomic fetch operations return into their operand register: write {k2}{n2} = ...")
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(k1, n1), off=_off(sign, off), imm=_FETCH_OPS[name])
    )


def _h_v_xchg(m: re.Match[str]) -> _Built:
    """The kernel verifier's ``r2 = atomic64_xchg((u64 *)(r1 +0), r2)``."""
    k1, n1, wide, bits, areg, sign, off, k2, n2 = m.groups()
    size = _verifier_size(wide, bits)
    if (k1, n1) != (k2, n2):
        raise _LineError(f"xchg returns into its operand register: write {k2}{n2} = ...")
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(k1, n1), off=_off(sign, off), imm=AtomicOp.XCHG)
    )


def _h_v_cmpxchg(m: re.Match[str]) -> _Built:
    """The kernel verifier's ``r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)``."""
    k1, n1, wide, bits, areg, sign, off, k2, n2, k3, n3 = m.groups()
    size = _verifier_size(wide, bits)
    if int(n1) != 0 or int(n2) != 0:
        raise _LineError("cmpxchg compares with and returns into r0")
    return _fixed(
        Instruction(_stx_atomic(size), dst=_reg("r", areg), src=_reg(k3, n3), off=_off(sign, off), imm=AtomicOp.CMPXCHG)
    )


def _h_load_acquire(m: re.Match[str]) -> _Built:
    kind, dnum, bits, areg, sign, off = m.groups()
    size = _SIZES[bits]
    return _fixed(
        Instruction(
            _stx_atomic(size), dst=_reg(kind, dnum), src=_reg("r", areg), off=_off(sign, off), imm=AtomicOp.LOAD_ACQUIRE
        )
    )


def _h_store_release(m: re.Match[str]) -> _Built:
    bits, areg, sign, off, kind, snum = m.groups()
    size = _SIZES[bits]
    return _fixed(
        Instruction(
            _stx_atomic(size), dst=_reg("r", areg), src=_reg(kind, snum), off=_off(sign, off), imm=AtomicOp.STORE_RELEASE
        )
    )


def _h_store(m: re.Match[str]) -> _Built:
    sign_u, bits, areg, sign, off, kind, snum, imm = m.groups()
    if sign_u != "u":
        raise _LineError("stores take an unsigned size (u8, u16, u32, u64)")
    size = _SIZES[bits]
    dst = _reg("r", areg)
    if kind is not None:
        if size == Size.DW and kind != "r":
            raise _LineError("a 64-bit store takes an r register")
        return _fixed(Instruction(InsnClass.STX | Mode.MEM | size, dst=dst, src=_reg(kind, snum), off=_off(sign, off)))
    return _fixed(Instruction(InsnClass.ST | Mode.MEM | size, dst=dst, off=_off(sign, off), imm=_int(imm)))


def _h_load(m: re.Match[str]) -> _Built:
    kind, dnum, sign_u, bits, areg, sign, off = m.groups()
    size = _SIZES[bits]
    mode = Mode.MEMSX if sign_u == "s" else Mode.MEM
    if mode == Mode.MEMSX and size == Size.DW:
        raise _LineError("there is no sign-extending 64-bit load; use u64")
    if kind == "w" and (size == Size.DW or mode == Mode.MEMSX):
        raise _LineError("64-bit and sign-extending loads take an r destination register")
    return _fixed(Instruction(InsnClass.LDX | mode | size, dst=_reg(kind, dnum), src=_reg("r", areg), off=_off(sign, off)))


def _h_ld_abs(m: re.Match[str]) -> _Built:
    bits, ireg, imm = m.groups()
    size = _SIZES[bits]
    if ireg is not None:
        return _fixed(Instruction(InsnClass.LD | Mode.IND | size, src=_reg("r", ireg)))
    return _fixed(Instruction(InsnClass.LD | Mode.ABS | size, imm=_int(imm)))


def _h_ld_imm64(m: re.Match[str]) -> _Built:
    dnum, value = m.groups()
    return _fixed(Instruction(LD_IMM64_OPCODE, dst=_reg("r", dnum), imm=_int(value)))


def _h_ld_pseudo(m: re.Match[str]) -> _Built:
    dnum, src, lo, hi = m.groups()
    lo_v = _int(lo) & 0xFFFFFFFF
    hi_v = (_int(hi) & 0xFFFFFFFF) if hi is not None else 0
    src_v = _int(src)
    if not 0 <= src_v <= 15:
        raise _LineError(f"ld_pseudo source {src_v} is out of range 0..15")
    return _fixed(Instruction(LD_IMM64_OPCODE, dst=_reg("r", dnum), src=src_v, imm=lo_v | (hi_v << 32)))


def _alu_cls(kind: str) -> InsnClass:
    return InsnClass.ALU64 if kind == "r" else InsnClass.ALU


def _h_neg(m: re.Match[str]) -> _Built:
    k1, n1, k2, n2 = m.groups()
    if (k1, n1) != (k2, n2):
        raise _LineError(f"negation is in place: write {k1}{n1} = -{k1}{n1}")
    return _fixed(Instruction(_alu_cls(k1) | AluOp.NEG, dst=_reg(k1, n1)))


def _h_movsx(m: re.Match[str]) -> _Built:
    k1, n1, bits, k2, n2 = m.groups()
    if k1 == "w" and bits == "32":
        raise _LineError("a 32-bit sign-extending move takes (s8) or (s16)")
    return _fixed(Instruction(_alu_cls(k1) | AluOp.MOV | Source.X, dst=_reg(k1, n1), src=_reg(k2, n2, want=k1), off=int(bits)))


def _h_endian(m: re.Match[str]) -> _Built:
    dnum, kind, bits, snum = m.groups()
    if dnum != snum:
        raise _LineError(f"byte swaps are in place: write r{dnum} = {kind}{bits} r{dnum}")
    cls, direction = _ENDIAN[kind]
    return _fixed(Instruction(cls | AluOp.END | direction, dst=_reg("r", dnum), imm=int(bits)))


def _h_mov(m: re.Match[str]) -> _Built:
    kind, dnum, skind, snum, imm = m.groups()
    cls = _alu_cls(kind)
    if skind is not None:
        return _fixed(Instruction(cls | AluOp.MOV | Source.X, dst=_reg(kind, dnum), src=_reg(skind, snum, want=kind)))
    return _fixed(Instruction(cls | AluOp.MOV, dst=_reg(kind, dnum), imm=_int(imm)))


def _h_alu(m: re.Match[str]) -> _Built:
    kind, dnum, opname, skind, snum, imm = m.groups()
    cls = _alu_cls(kind)
    op, off = _ALU_OPS[opname]
    if skind is not None:
        return _fixed(Instruction(cls | op | Source.X, dst=_reg(kind, dnum), src=_reg(skind, snum, want=kind), off=off))
    return _fixed(Instruction(cls | op, dst=_reg(kind, dnum), off=off, imm=_int(imm)))


def _h_raw(m: re.Match[str]) -> _Built:
    opcode, dst, src, off, imm = (_int(g) for g in m.groups())
    return _fixed(Instruction(opcode, dst=dst, src=src, off=off, imm=imm))


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], Handler]]:
    """The statement patterns, in matching order (compiled on first use: ~10 ms that programs
    built without text assembly, e.g. ``pybpf trace``, do not pay)."""
    return [
        (re.compile(p), h)
        for p, h in [
            (r"exit", _h_exit),
            (r"callx\s+r(\d+)", _h_callx),
            (r"gotox\s+r(\d+)", _h_gotox),
            (r"call\s+(.+)", _h_call),
            (rf"(goto|gotol|may_goto)\s+{_TARGET}", _h_goto),
            (rf"if\s+{_REG}\s*({_alt(_JMP_OPS)})\s*{_OPERAND}\s+goto\s+{_TARGET}", _h_if),
            (rf"lock\s+{_SIZE}\s*{_MEM}\s*({_alt(_LOCK_OPS)})\s*{_REG}", _h_lock),
            (rf"{_REG}\s*=\s*atomic_fetch_(add|or|and|xor)\s*\(\s*\(\s*u(32|64)\s*\*\s*\)\s*{_MEM}\s*,\s*{_REG}\s*\)", _h_fetch),
            (rf"{_REG}\s*=\s*(xchg_64|xchg32_32)\s*\(\s*r(\d+)\s*([+-])\s*({_UNUM})\s*,\s*{_REG}\s*\)", _h_xchg),
            (rf"{_REG}\s*=\s*atomic(64)?_fetch_(add|or|and|xor)\s*\(\s*\(\s*u(32|64)\s*\*\s*\)\s*{_MEM}\s*,\s*{_REG}\s*\)", _h_v_fetch),
            (rf"{_REG}\s*=\s*atomic(64)?_xchg\s*\(\s*\(\s*u(32|64)\s*\*\s*\)\s*{_MEM}\s*,\s*{_REG}\s*\)", _h_v_xchg),
            (
                rf"{_REG}\s*=\s*atomic(64)?_cmpxchg\s*\(\s*\(\s*u(32|64)\s*\*\s*\)\s*{_MEM}\s*,\s*{_REG}\s*,\s*{_REG}\s*\)",
                _h_v_cmpxchg,
            ),
            (
                rf"{_REG}\s*=\s*(cmpxchg_64|cmpxchg32_32)\s*\(\s*r(\d+)\s*([+-])\s*({_UNUM})\s*,\s*{_REG}\s*,\s*{_REG}\s*\)",
                _h_cmpxchg,
            ),
            (rf"{_REG}\s*=\s*load_acquire\s*\(\s*\(\s*u(8|16|32|64)\s*\*\s*\)\s*{_MEM}\s*\)", _h_load_acquire),
            (rf"store_release\s*\(\s*\(\s*u(8|16|32|64)\s*\*\s*\)\s*{_MEM}\s*,\s*{_REG}\s*\)", _h_store_release),
            (rf"{_SIZE}\s*{_MEM}\s*=\s*{_OPERAND}", _h_store),
            (rf"r0\s*=\s*\*\s*\(\s*u(8|16|32)\s*\*\s*\)\s*skb\s*\[\s*(?:r(\d+)|({_NUM}))\s*\]", _h_ld_abs),
            (rf"{_REG}\s*=\s*{_SIZE}\s*{_MEM}", _h_load),
            (rf"r(\d+)\s*=\s*({_NUM})\s+ll", _h_ld_imm64),
            (rf"ld_pseudo\s+r(\d+)\s*,\s*({_NUM})\s*,\s*({_NUM})(?:\s*,\s*({_NUM}))?", _h_ld_pseudo),
            (rf"{_REG}\s*=\s*-\s*{_REG}", _h_neg),
            (rf"{_REG}\s*=\s*\(\s*s(8|16|32)\s*\)\s*{_REG}", _h_movsx),
            (rf"r(\d+)\s*=\s*(le|be|bswap)(16|32|64)\s+r(\d+)", _h_endian),
            (rf"{_REG}\s*=\s*{_OPERAND}", _h_mov),
            (rf"{_REG}\s*({_alt(_ALU_OPS)})\s*{_OPERAND}", _h_alu),
            (rf"\.insn\s+({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})", _h_raw),
        ]
    ]

_COMMENT = re.compile(r"(#|;|//).*$")
#: ``  12: (b7) `` in front of each line of a verifier log or ``bpftool prog dump xlated``
_VERIFIER_PREFIX = re.compile(r"\s*\d+:\s*\(([0-9a-f]{2})\)\s*")
_VERIFIER_IMM64 = re.compile(rf"r\d+\s*=\s*{_NUM}")
_LABEL = re.compile(rf"\s*({_IDENT})\s*:(?!=)")


def _parse_statement(text: str) -> _Built:
    for pattern, handler in _patterns():
        m = pattern.fullmatch(text)
        if m:
            return handler(m)
    raise _LineError("not an eBPF instruction")


def assemble(text: str) -> list[Instruction]:
    """Assemble LLVM/verifier-syntax text into instructions.

    Raises :class:`~pybpf.errors.AssemblerError` with the line number of the first bad line.

    >>> [str(i) for i in assemble("w0 += w1 # add\\nexit")]
    ['w0 += w1', 'exit']
    """
    pending: list[_Pending] = []
    labels: dict[str, int] = {}
    pos = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).strip()
        verifier = _VERIFIER_PREFIX.match(line)
        if verifier:
            line = line[verifier.end() :]
            if int(verifier.group(1), 16) == LD_IMM64_OPCODE and _VERIFIER_IMM64.fullmatch(line):
                line += " ll"  # the verifier prints a 64-bit immediate load without the suffix
        while True:
            m = _LABEL.match(line)
            if not m:
                break
            name = m.group(1)
            if name in labels:
                raise AssemblerError(f"label {name!r} is defined twice", line=lineno, text=raw)
            labels[name] = pos
            line = line[m.end() :].strip()
        if not line:
            continue
        try:
            slots, build = _parse_statement(line)
        except (_LineError, InstructionError) as exc:
            raise AssemblerError(str(exc), line=lineno, text=raw) from None
        pending.append(_Pending(lineno, raw, slots, build))
        pos += slots
    out: list[Instruction] = []
    pos = 0
    for item in pending:
        try:
            out.append(item.build(pos, labels))
        except (_LineError, InstructionError) as exc:
            raise AssemblerError(str(exc), line=item.lineno, text=item.text) from None
        pos += item.slots
    return out
