"""The eBPF instruction set: opcodes, :class:`Instruction`, encoding, assembler, disassembler.

>>> from pybpf.isa import assemble, disassemble, encode, decode
>>> prog = assemble('''
...     r1 = *(u32 *)(r10 - 4)
...     if r1 s> 5 goto +1
...     w0 += w1
...     exit
... ''')
>>> decode(encode(prog)) == prog
True
>>> print(disassemble(prog, labels=False))
r1 = *(u32 *)(r10 - 4)
if r1 s> 5 goto +1
w0 += w1
exit
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .helpers import HELPER_IDS, HELPER_NAMES
from .instruction import SLOT_SIZE, Instruction, decode, encode, iter_decode
from .opcodes import (
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

if TYPE_CHECKING:
    from .asm import assemble
    from .disasm import Symbolizer, Syntax, disassemble, format_instruction, is_canonical

#: the assembler and the disassembler, imported on first use (loading a program needs neither)
_LAZY = {"assemble": ".asm", **dict.fromkeys(
    ("Symbolizer", "Syntax", "disassemble", "format_instruction", "is_canonical"), ".disasm")}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "Instruction",
    "decode",
    "iter_decode",
    "encode",
    "assemble",
    "disassemble",
    "format_instruction",
    "is_canonical",
    "Syntax",
    "Symbolizer",
    "HELPER_NAMES",
    "HELPER_IDS",
    "SLOT_SIZE",
    "InsnClass",
    "AluOp",
    "JmpOp",
    "Source",
    "Endian",
    "Size",
    "Mode",
    "PseudoSrc",
    "CallSrc",
    "AtomicOp",
]
