"""Opcode fields of the eBPF instruction set (RFC 9669 plus the Linux extensions).

An 8-bit opcode is split in three ways depending on its class (the low 3 bits):

* arithmetic and jumps: ``code (4 bits) | source (1 bit) | class (3 bits)``;
* loads and stores: ``mode (3 bits) | size (2 bits) | class (3 bits)``.

The values here are facts of the instruction set (``include/uapi/linux/bpf_common.h``,
``include/uapi/linux/bpf.h``, RFC 9669).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "InsnClass",
    "AluOp",
    "JmpOp",
    "Size",
    "Mode",
    "Source",
    "Endian",
    "PseudoSrc",
    "CallSrc",
    "AtomicOp",
    "CLASS_MASK",
    "SOURCE_MASK",
    "CODE_MASK",
    "SIZE_MASK",
    "MODE_MASK",
    "ATOMIC_FETCH",
    "SIZE_BYTES",
    "LD_IMM64_OPCODE",
]

CLASS_MASK = 0x07
SOURCE_MASK = 0x08
CODE_MASK = 0xF0
SIZE_MASK = 0x18
MODE_MASK = 0xE0

#: the "fetch" modifier bit of an atomic operation's imm field
ATOMIC_FETCH = 0x01


class InsnClass(IntEnum):
    """Instruction class (opcode bits 0-2)."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07

    @property
    def is_alu(self) -> bool:
        return self in (InsnClass.ALU, InsnClass.ALU64)

    @property
    def is_jmp(self) -> bool:
        return self in (InsnClass.JMP, InsnClass.JMP32)

    @property
    def is_load_store(self) -> bool:
        return self.value <= InsnClass.STX.value


class AluOp(IntEnum):
    """Arithmetic operation code (opcode bits 4-7) of ALU and ALU64 instructions."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    """Jump operation code (opcode bits 4-7) of JMP and JMP32 instructions."""

    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # may_goto (Linux extension)


class Source(IntEnum):
    """Operand source (opcode bit 3): the immediate (K) or the src register (X)."""

    K = 0x00
    X = 0x08


class Endian(IntEnum):
    """Byte-swap direction of ``AluOp.END`` in the ALU class (same bit as :class:`Source`)."""

    TO_LE = 0x00
    TO_BE = 0x08


class Size(IntEnum):
    """Access size of loads and stores (opcode bits 3-4)."""

    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        return SIZE_BYTES[self]


SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}


class Mode(IntEnum):
    """Addressing mode of loads and stores (opcode bits 5-7)."""

    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class PseudoSrc(IntEnum):
    """``src_reg`` of a 64-bit immediate load (``BPF_PSEUDO_*``): what the immediate means."""

    IMM = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallSrc(IntEnum):
    """``src_reg`` of a call instruction: what the immediate names."""

    HELPER = 0
    CALL = 1  # BPF-to-BPF call; imm is the pc-relative offset of the callee
    KFUNC = 2  # kernel function; imm is its BTF id


class AtomicOp(IntEnum):
    """The imm field of an atomic instruction (``STX | ATOMIC``)."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH_ADD = 0x01
    FETCH_OR = 0x41
    FETCH_AND = 0x51
    FETCH_XOR = 0xA1
    XCHG = 0xE1
    CMPXCHG = 0xF1
    LOAD_ACQUIRE = 0x100
    STORE_RELEASE = 0x110

    @property
    def fetch(self) -> bool:
        """True if the old value is returned in the src register (or r0 for cmpxchg)."""
        return bool(self.value & ATOMIC_FETCH)


#: opcode of the two-slot 64-bit immediate load (``LD | IMM | DW``)
LD_IMM64_OPCODE = InsnClass.LD | Mode.IMM | Size.DW
