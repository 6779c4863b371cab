"""The :class:`Instruction` value and the raw byte encoding (little-endian, 8 bytes a slot).

A 64-bit immediate load (``LD | IMM | DW``) is one :class:`Instruction` holding the whole
64-bit ``imm``; it occupies two slots in the encoded program.

>>> from pybpf.isa import decode, encode
>>> insns = decode(bytes.fromhex("b700000000000000" "9500000000000000"))
>>> [str(i) for i in insns]
['r0 = 0', 'exit']
>>> encode(insns).hex()
'b7000000000000009500000000000000'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..errors import InstructionError
from .opcodes import (
    CLASS_MASK,
    CODE_MASK,
    LD_IMM64_OPCODE,
    MODE_MASK,
    SIZE_MASK,
    SOURCE_MASK,
    AluOp,
    AtomicOp,
    CallSrc,
    InsnClass,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
    Source,
)

__all__ = ["Instruction", "decode", "iter_decode", "encode", "SLOT_SIZE"]

SLOT_SIZE = 8
_SLOT = struct.Struct("<BBhi")
_U32 = 1 << 32
_U64 = 1 << 64


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


@dataclass(frozen=True, slots=True)
class Instruction:
    """One eBPF instruction.

    ``opcode`` is the raw 8-bit opcode; ``dst`` and ``src`` are register numbers (0-15),
    ``off`` a signed 16-bit offset and ``imm`` a signed 32-bit immediate (signed 64-bit for
    a 64-bit immediate load). Unsigned values in range are accepted and normalised to
    signed, so equal encodings give equal instructions. The decoded fields are properties
    returning enums: :attr:`cls`, :attr:`alu_op`, :attr:`jmp_op`, :attr:`source`,
    :attr:`size`, :attr:`mode`, :attr:`atomic_op`.
    """

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def __post_init__(self) -> None:
        for name in ("opcode", "dst", "src", "off", "imm"):
            object.__setattr__(self, name, int(getattr(self, name)))  # plain ints, not enum members
        if not 0 <= self.opcode <= 0xFF:
            raise InstructionError(f"opcode {self.opcode:#x} does not fit in 8 bits")
        for name in ("dst", "src"):
            reg = getattr(self, name)
            if not 0 <= reg <= 15:
                raise InstructionError(f"{name} register {reg} is out of range 0..15")
        if not -0x8000 <= self.off <= 0xFFFF:
            raise InstructionError(f"offset {self.off} does not fit in 16 bits")
        object.__setattr__(self, "off", _signed(self.off, 16))
        bits = 64 if self.opcode == LD_IMM64_OPCODE else 32
        if not -(1 << (bits - 1)) <= self.imm < (1 << bits):
            raise InstructionError(f"immediate {self.imm:#x} does not fit in {bits} bits")
        object.__setattr__(self, "imm", _signed(self.imm, bits))

    @classmethod
    def _trusted(cls, opcode: int, dst: int, src: int, off: int, imm: int) -> Instruction:
        """Build from fields already known to be in range and normalised (the decoder)."""
        insn = object.__new__(cls)
        _set = object.__setattr__
        _set(insn, "opcode", opcode)
        _set(insn, "dst", dst)
        _set(insn, "src", src)
        _set(insn, "off", off)
        _set(insn, "imm", imm)
        return insn

    # ----------------------------------------------------------------- decoded fields
    @property
    def cls(self) -> InsnClass:
        """The instruction class."""
        return InsnClass(self.opcode & CLASS_MASK)

    @property
    def alu_op(self) -> AluOp:
        """The arithmetic operation (ALU / ALU64 classes)."""
        return AluOp(self.opcode & CODE_MASK)

    @property
    def jmp_op(self) -> JmpOp:
        """The jump operation (JMP / JMP32 classes)."""
        return JmpOp(self.opcode & CODE_MASK)

    @property
    def op(self) -> AluOp | JmpOp:
        """The operation code of an arithmetic or jump instruction."""
        return self.alu_op if self.cls.is_alu else self.jmp_op

    @property
    def source(self) -> Source:
        """Whether the second operand is the immediate (K) or the src register (X)."""
        return Source(self.opcode & SOURCE_MASK)

    @property
    def size(self) -> Size:
        """Access size of a load or store."""
        return Size(self.opcode & SIZE_MASK)

    @property
    def mode(self) -> Mode:
        """Addressing mode of a load or store."""
        return Mode(self.opcode & MODE_MASK)

    @property
    def atomic_op(self) -> AtomicOp:
        """The atomic operation encoded in ``imm`` (``STX | ATOMIC`` only)."""
        return AtomicOp(self.imm)

    @property
    def is_ld_imm64(self) -> bool:
        """True for the two-slot 64-bit immediate load."""
        return self.opcode == LD_IMM64_OPCODE

    @property
    def slots(self) -> int:
        """Number of 8-byte slots the instruction occupies (2 for a 64-bit immediate load)."""
        return 2 if self.opcode == LD_IMM64_OPCODE else 1

    @property
    def pseudo(self) -> PseudoSrc:
        """What the immediate of a 64-bit immediate load means (its ``src`` field)."""
        return PseudoSrc(self.src)

    @property
    def is_call(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.CALL | Source.K

    @property
    def call_src(self) -> CallSrc:
        """Helper, BPF-to-BPF or kfunc call (``src`` field of a call)."""
        return CallSrc(self.src)

    @property
    def is_exit(self) -> bool:
        return self.opcode == InsnClass.JMP | JmpOp.EXIT

    @property
    def is_jump(self) -> bool:
        """True for an instruction with a pc-relative jump target (not calls or exit)."""
        cls = self.opcode & CLASS_MASK
        if cls not in (InsnClass.JMP, InsnClass.JMP32):
            return False
        return (self.opcode & CODE_MASK) not in (JmpOp.CALL, JmpOp.EXIT)

    @property
    def jump_offset(self) -> int:
        """Relative jump distance in slots (``imm`` for ``gotol``, else ``off``)."""
        if self.opcode == InsnClass.JMP32 | JmpOp.JA:
            return self.imm
        return self.off

    @property
    def lo32(self) -> int:
        """Low 32 bits of the immediate, unsigned (first slot of a 64-bit load)."""
        return self.imm & 0xFFFFFFFF

    @property
    def hi32(self) -> int:
        """High 32 bits of the immediate, unsigned (second slot of a 64-bit load)."""
        return (self.imm >> 32) & 0xFFFFFFFF

    # ----------------------------------------------------------------- conversions
    def to_bytes(self) -> bytes:
        """The 8 (or 16) bytes of this instruction."""
        regs = (self.src << 4) | self.dst
        if self.opcode == LD_IMM64_OPCODE:
            return _SLOT.pack(self.opcode, regs, self.off, _signed(self.lo32, 32)) + _SLOT.pack(
                0, 0, 0, _signed(self.hi32, 32)
            )
        return _SLOT.pack(self.opcode, regs, self.off, self.imm)

    def replace(self, **changes: int) -> Instruction:
        """A copy with some fields changed (``insn.replace(imm=5)``)."""
        fields = {"opcode": self.opcode, "dst": self.dst, "src": self.src, "off": self.off, "imm": self.imm}
        fields.update(changes)
        return Instruction(**fields)

    def __str__(self) -> str:
        from .disasm import format_instruction

        return format_instruction(self)


def iter_decode(data: bytes | bytearray | memoryview) -> Iterator[Instruction]:
    """Decode raw instruction bytes lazily, one :class:`Instruction` at a time."""
    view = memoryview(data).cast("B")
    if len(view) % SLOT_SIZE:
        raise InstructionError(
            f"instruction bytes are truncated: {len(view)} bytes is not a multiple of {SLOT_SIZE}"
        )
    count = len(view) // SLOT_SIZE
    trusted = Instruction._trusted
    i = 0
    while i < count:
        opcode, regs, off, imm = _SLOT.unpack_from(view, i * SLOT_SIZE)
        if opcode == LD_IMM64_OPCODE:
            if i + 1 >= count:
                raise InstructionError(
                    f"64-bit immediate load at slot {i} is missing its second half (input ends)"
                )
            op2, regs2, off2, imm2 = _SLOT.unpack_from(view, (i + 1) * SLOT_SIZE)
            if op2 or regs2 or off2:
                raise InstructionError(
                    f"64-bit immediate load at slot {i} has a malformed second half "
                    f"(opcode {op2:#x}, regs {regs2:#x}, off {off2}; all must be 0)"
                )
            imm64 = (imm & 0xFFFFFFFF) | (imm2 << 32)  # imm2 is signed: the result is too
            yield trusted(opcode, regs & 0xF, regs >> 4, off, imm64)
            i += 2
        else:
            yield trusted(opcode, regs & 0xF, regs >> 4, off, imm)
            i += 1


def decode(data: bytes | bytearray | memoryview) -> list[Instruction]:
    """Decode raw instruction bytes into instructions.

    Raises :class:`~pybpf.errors.InstructionError` when the length is not a multiple of 8
    or a 64-bit immediate load lacks (or has a malformed) second slot.
    """
    return list(iter_decode(data))


def encode(insns: Iterable[Instruction]) -> bytes:
    """Encode instructions into raw bytes (the inverse of :func:`decode`)."""
    return b"".join(insn.to_bytes() for insn in insns)


def slot_offsets(insns: Iterable[Instruction]) -> list[int]:
    """The slot index at which each instruction starts."""
    out = []
    pos = 0
    for insn in insns:
        out.append(pos)
        pos += insn.slots
    return out
