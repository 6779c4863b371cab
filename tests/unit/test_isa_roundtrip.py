"""Property tests: text and bytes round-trip for random valid instructions and programs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import (
    AluOp,
    AtomicOp,
    CallSrc,
    Endian,
    InsnClass,
    Instruction,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
    assemble,
    decode,
    disassemble,
    encode,
    is_canonical,
)

regs = st.integers(0, 10)
imm32 = st.integers(-(2**31), 2**31 - 1)
off16 = st.integers(-(2**15), 2**15 - 1)
LOAD_SIZES = list(Size)
SIMPLE_ALU = [op for op in AluOp if op not in (AluOp.NEG, AluOp.END, AluOp.MOV, AluOp.DIV, AluOp.MOD)]
COND_JMPS = [op for op in JmpOp if op not in (JmpOp.JA, JmpOp.CALL, JmpOp.EXIT, JmpOp.JCOND)]
RMW = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR,
       AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR, AtomicOp.XCHG, AtomicOp.CMPXCHG]
alu_cls = st.sampled_from([InsnClass.ALU, InsnClass.ALU64])
jmp_cls = st.sampled_from([InsnClass.JMP, InsnClass.JMP32])


@st.composite
def alu(draw: st.DrawFn) -> Instruction:
    cls = draw(alu_cls)
    kind = draw(st.sampled_from(["simple", "divmod", "mov", "movsx", "neg", "end"]))
    d = draw(regs)
    if kind == "neg":
        return Instruction(cls | AluOp.NEG, dst=d)
    if kind == "end":
        direction = Endian.TO_LE if cls == InsnClass.ALU64 else draw(st.sampled_from(list(Endian)))
        return Instruction(cls | AluOp.END | direction, dst=d, imm=draw(st.sampled_from([16, 32, 64])))
    if kind == "movsx":
        widths = [8, 16, 32] if cls == InsnClass.ALU64 else [8, 16]
        return Instruction(cls | AluOp.MOV | Source.X, dst=d, src=draw(regs), off=draw(st.sampled_from(widths)))
    op = {"simple": draw(st.sampled_from(SIMPLE_ALU)), "divmod": draw(st.sampled_from([AluOp.DIV, AluOp.MOD])),
          "mov": AluOp.MOV}[kind]
    off = draw(st.sampled_from([0, 1])) if kind == "divmod" else 0
    if draw(st.booleans()):
        return Instruction(cls | op | Source.X, dst=d, src=draw(regs), off=off)
    return Instruction(cls | op, dst=d, off=off, imm=draw(imm32))


@st.composite
def jump(draw: st.DrawFn) -> Instruction:
    kind = draw(st.sampled_from(["cond", "ja", "gotol", "gotox", "may_goto", "call", "callx", "exit"]))
    if kind == "cond":
        cls, op = draw(jmp_cls), draw(st.sampled_from(COND_JMPS))
        if draw(st.booleans()):
            return Instruction(cls | op | Source.X, dst=draw(regs), src=draw(regs), off=draw(off16))
        return Instruction(cls | op, dst=draw(regs), off=draw(off16), imm=draw(imm32))
    if kind == "call":
        return Instruction(InsnClass.JMP | JmpOp.CALL, src=draw(st.sampled_from(list(CallSrc))), imm=draw(imm32))
    return {
        "ja": lambda: Instruction(InsnClass.JMP | JmpOp.JA, off=draw(off16)),
        "gotol": lambda: Instruction(InsnClass.JMP32 | JmpOp.JA, imm=draw(imm32)),
        "may_goto": lambda: Instruction(InsnClass.JMP | JmpOp.JCOND, off=draw(off16)),
        "callx": lambda: Instruction(InsnClass.JMP | JmpOp.CALL | Source.X, dst=draw(regs)),
        "gotox": lambda: Instruction(InsnClass.JMP | JmpOp.JA | Source.X, dst=draw(regs)),
        "exit": lambda: Instruction(InsnClass.JMP | JmpOp.EXIT),
    }[kind]()


@st.composite
def memory(draw: st.DrawFn) -> Instruction:
    kind = draw(st.sampled_from(["ldx", "ldsx", "st", "stx", "rmw", "acq", "rel", "abs", "ind", "imm64"]))
    d, s, off = draw(regs), draw(regs), draw(off16)
    size = draw(st.sampled_from(LOAD_SIZES))
    small = draw(st.sampled_from([Size.B, Size.H, Size.W]))
    word = draw(st.sampled_from([Size.W, Size.DW]))
    return {
        "ldx": lambda: Instruction(InsnClass.LDX | Mode.MEM | size, dst=d, src=s, off=off),
        "ldsx": lambda: Instruction(InsnClass.LDX | Mode.MEMSX | small, dst=d, src=s, off=off),
        "st": lambda: Instruction(InsnClass.ST | Mode.MEM | size, dst=d, off=off, imm=draw(imm32)),
        "stx": lambda: Instruction(InsnClass.STX | Mode.MEM | size, dst=d, src=s, off=off),
        "rmw": lambda: Instruction(InsnClass.STX | Mode.ATOMIC | word, dst=d, src=s, off=off,
                                   imm=draw(st.sampled_from(RMW))),
        "acq": lambda: Instruction(InsnClass.STX | Mode.ATOMIC | size, dst=d, src=s, off=off,
                                   imm=AtomicOp.LOAD_ACQUIRE),
        "rel": lambda: Instruction(InsnClass.STX | Mode.ATOMIC | size, dst=d, src=s, off=off,
                                   imm=AtomicOp.STORE_RELEASE),
        "abs": lambda: Instruction(InsnClass.LD | Mode.ABS | small, imm=draw(imm32)),
        "ind": lambda: Instruction(InsnClass.LD | Mode.IND | small, src=s),
        "imm64": lambda: Instruction(InsnClass.LD | Mode.IMM | Size.DW, dst=d,
                                     src=draw(st.sampled_from(list(PseudoSrc))),
                                     imm=draw(st.integers(-(2**63), 2**63 - 1))),
    }[kind]()


valid_insns = st.one_of(alu(), jump(), memory())


@settings(max_examples=3000)
@given(valid_insns)
def test_every_valid_instruction_has_a_mnemonic_and_round_trips(insn: Instruction) -> None:
    assert is_canonical(insn), str(insn)
    text = disassemble([insn], labels=False)
    assert assemble(text) == [insn]
    assert decode(encode([insn])) == [insn]


@settings(max_examples=500)
@given(st.lists(valid_insns, min_size=1, max_size=40), st.booleans(), st.booleans())
def test_programs_round_trip_with_labels(prog: list[Instruction], labels: bool, hex_imm: bool) -> None:
    text = disassemble(prog, labels=labels, hex_imm=hex_imm)
    assert assemble(text) == prog


@settings(max_examples=3000)
@given(st.binary(min_size=8, max_size=8).filter(lambda b: b[0] != 0x18))
def test_any_single_slot_bytes_round_trip_through_text(raw: bytes) -> None:
    (insn,) = decode(raw)
    assert encode(assemble(disassemble([insn], labels=False))) == raw


@settings(max_examples=1000)
@given(st.binary(min_size=16, max_size=16))
def test_any_two_slot_bytes_decode_or_raise_instruction_error(raw: bytes) -> None:
    from pybpf.errors import InstructionError

    try:
        prog = decode(raw)
    except InstructionError:
        return
    assert encode(assemble(disassemble(prog))) == raw
