"""USDT notes and argument specs: pure parsing, no kernel.

A binary built with ``<sys/sdt.h>`` (``DTRACE_PROBE3(prov, name, a, b, c)``) carries one
``.note.stapsdt`` ELF note (owner ``"stapsdt"``, type 3) per probe site. Its descriptor is::

    pc, base, semaphore      three addresses (8 bytes each in ELFCLASS64, 4 in ELFCLASS32)
    provider\\0 name\\0 args\\0

``args`` is a space-separated list of ``[-]SIZE@OPERAND`` (a negative size means signed),
the operand written in the assembler syntax of the architecture:

=========  ========================  ==========================================
kind       x86_64                    arm64
=========  ========================  ==========================================
register   ``8@%rax``, ``-4@%edi``   ``8@x0``, ``-4@w1``, ``8@sp``
memory     ``-4@-20(%rbp)``, ``8@(%rsp)``  ``-4@[sp, 12]``, ``8@[x1]``
constant   ``4@$5``, ``-4@$-9``      ``4@5``
=========  ========================  ==========================================

Each becomes a :class:`UsdtArg` (a constant; a register named by its offset in the kernel's
``struct pt_regs``; or memory at register + offset) that :func:`encode_spec` packs into the
``struct __pybpf_usdt_spec`` of ``<bpf/usdt.bpf.h>``, which ``bpf_usdt_arg()`` reads.

Prelink: when the file has a ``.stapsdt.base`` section, the note's ``base`` is where that
section was at link time, so ``pc`` and ``semaphore`` move by ``sh_addr(.stapsdt.base) - base``.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ELFError

NOTE_OWNER = b"stapsdt"
NOTE_TYPE = 3
MAX_ARGS = 12  # PYBPF_USDT_MAX_ARGS in usdt.bpf.h

_ARG = struct.Struct("<QIHBB")  # struct __pybpf_usdt_arg
_SPEC_TAIL = struct.Struct("<QH6x")  # usdt_cookie, arg_cnt, __pad[3]
SPEC_SIZE = MAX_ARGS * _ARG.size + _SPEC_TAIL.size


class ArgKind(enum.IntEnum):
    """``enum __pybpf_usdt_arg_kind``."""

    CONST = 0
    REG = 1
    REG_DEREF = 2


@dataclass(frozen=True)
class UsdtArg:
    """How to fetch one USDT argument (see the module docstring)."""

    kind: ArgKind
    size: int  # 1, 2, 4 or 8
    signed: bool
    reg_off: int = 0  # offset of the register in struct pt_regs (REG, REG_DEREF)
    value: int = 0  # the constant (CONST) or the memory offset (REG_DEREF)
    text: str = ""  # the spec it came from

    def encode(self) -> bytes:
        return _ARG.pack(self.value & (2**64 - 1), int(self.kind), self.reg_off, self.size, int(self.signed))


@dataclass(frozen=True)
class UsdtNote:
    """One probe site from ``.note.stapsdt`` (addresses already adjusted for prelink)."""

    provider: str
    name: str
    pc: int  # virtual address of the probe's nop
    semaphore: int  # virtual address of the semaphore (0: none)
    args: str  # the raw argument spec string
    base: int = 0


def encode_spec(args: list[UsdtArg], cookie: int = 0) -> bytes:
    """``struct __pybpf_usdt_spec`` bytes for one probe site."""
    if len(args) > MAX_ARGS:
        raise ELFError(f"USDT probe with {len(args)} arguments: at most {MAX_ARGS} are supported")
    body = b"".join(a.encode() for a in args) + bytes(_ARG.size * (MAX_ARGS - len(args)))
    return body + _SPEC_TAIL.pack(cookie & (2**64 - 1), len(args))


# -- registers ---------------------------------------------------------------------------

def _x86_registers() -> dict[str, int]:
    # struct pt_regs (x86_64): r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss
    order = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
             "orig_rax", "rip", "cs", "eflags", "rsp", "ss"]
    offsets = {name: 8 * i for i, name in enumerate(order)}
    names: dict[str, int] = {}
    legacy = {"rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
              "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
              "rbp": ("ebp", "bp", "bpl"), "rsp": ("esp", "sp", "spl")}
    for full, views in legacy.items():
        for n in (full, *views):
            names[n] = offsets[full]
    for i in range(8, 16):
        for suffix in ("", "d", "w", "b"):
            names[f"r{i}{suffix}"] = offsets[f"r{i}"]
    names["rip"] = offsets["rip"]
    return names


def _arm64_registers() -> dict[str, int]:
    # struct user_pt_regs: regs[31], sp, pc, pstate
    names = {f"x{i}": 8 * i for i in range(31)}
    names.update({f"w{i}": 8 * i for i in range(31)})
    names.update(sp=248, wsp=248)
    return names


X86_64_REGISTERS = _x86_registers()
ARM64_REGISTERS = _arm64_registers()

_SIZE = re.compile(r"^(-?)(1|2|4|8)@(.+)$")
_NUM = r"[-+]?(?:0[xX][0-9a-fA-F]+|\d+)"
_X86_REG = re.compile(r"^%([a-z0-9]+)$")
_X86_CONST = re.compile(rf"^\$({_NUM})$")
_X86_MEM = re.compile(rf"^({_NUM})?\(%([a-z0-9]+)\)$")
_ARM_REG = re.compile(r"^([xw]\d+|w?sp)$")
_ARM_CONST = re.compile(rf"^({_NUM})$")
_ARM_MEM = re.compile(rf"^\[([xw]\d+|sp)(?:\s*,\s*#?({_NUM}))?\]$")


def _reg(table: dict[str, int], name: str, spec: str, arch: str) -> int:
    try:
        return table[name]
    except KeyError:
        raise ELFError(f"USDT argument {spec!r}: unknown {arch} register {name!r}") from None


def _x86_operand(op: str, size: int, signed: bool, spec: str) -> UsdtArg:
    if m := _X86_REG.match(op):
        return UsdtArg(ArgKind.REG, size, signed, reg_off=_reg(X86_64_REGISTERS, m[1], spec, "x86_64"), text=spec)
    if m := _X86_CONST.match(op):
        return UsdtArg(ArgKind.CONST, size, signed, value=int(m[1], 0), text=spec)
    if m := _X86_MEM.match(op):
        if m[2] == "rip":
            raise ELFError(f"USDT argument {spec!r}: %rip-relative operands (globals) are not supported; "
                           "pass the value through a local variable in the probe")
        return UsdtArg(ArgKind.REG_DEREF, size, signed, reg_off=_reg(X86_64_REGISTERS, m[2], spec, "x86_64"),
                       value=int(m[1] or "0", 0), text=spec)
    raise ELFError(f"USDT argument {spec!r}: not a register, constant or base+offset operand "
                   "(indexed and symbolic operands are not supported)")


def _arm64_operand(op: str, size: int, signed: bool, spec: str) -> UsdtArg:
    if m := _ARM_REG.match(op):
        return UsdtArg(ArgKind.REG, size, signed, reg_off=_reg(ARM64_REGISTERS, m[1], spec, "arm64"), text=spec)
    if m := _ARM_CONST.match(op):
        return UsdtArg(ArgKind.CONST, size, signed, value=int(m[1], 0), text=spec)
    if m := _ARM_MEM.match(op):
        return UsdtArg(ArgKind.REG_DEREF, size, signed, reg_off=_reg(ARM64_REGISTERS, m[1], spec, "arm64"),
                       value=int(m[2] or "0", 0), text=spec)
    raise ELFError(f"USDT argument {spec!r}: not a register, constant or [reg, offset] operand")


#: Architecture (ELF e_machine name) -> operand parser.
OPERAND_PARSERS: dict[str, Callable[[str, int, bool, str], UsdtArg]] = {
    "EM_X86_64": _x86_operand,
    "x86_64": _x86_operand,
    "EM_AARCH64": _arm64_operand,
    "arm64": _arm64_operand,
    "aarch64": _arm64_operand,
}


def parse_arg(spec: str, arch: str = "x86_64") -> UsdtArg:
    """One ``[-]SIZE@OPERAND`` spec -> :class:`UsdtArg` (:class:`~pybpf.errors.ELFError` if malformed).

    >>> parse_arg("-4@-20(%rbp)")
    UsdtArg(kind=<ArgKind.REG_DEREF: 2>, size=4, signed=True, reg_off=32, value=-20, text='-4@-20(%rbp)')
    """
    parser = OPERAND_PARSERS.get(arch)
    if parser is None:
        raise ELFError(f"USDT arguments of architecture {arch} are not supported (x86_64 and arm64 are)")
    m = _SIZE.match(spec.strip())
    if m is None:
        raise ELFError(f"USDT argument {spec!r}: expected [-]SIZE@OPERAND with SIZE 1, 2, 4 or 8")
    return parser(m[3].strip(), int(m[2]), m[1] == "-", spec)


def split_args(text: str) -> list[str]:
    """Split an argument string on the spaces between specs (arm64 ``[sp, 12]`` keeps its space)."""
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in text.strip():
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == " " and depth == 0:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def parse_args(text: str, arch: str = "x86_64") -> list[UsdtArg]:
    """Every argument of a probe's spec string."""
    args = [parse_arg(s, arch) for s in split_args(text)]
    if len(args) > MAX_ARGS:
        raise ELFError(f"USDT probe with {len(args)} arguments: at most {MAX_ARGS} are supported")
    return args


# -- notes ----------------------------------------------------------------------------------

_NOTE_HEADER = struct.Struct("<III")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def parse_notes(data: bytes, *, addr_size: int = 8, base_addr: int | None = None) -> list[UsdtNote]:
    """The ``stapsdt`` notes in the bytes of a ``.note.stapsdt`` section (other notes are skipped).

    ``base_addr`` is the address of ``.stapsdt.base`` (None if the file has none).
    Raises :class:`~pybpf.errors.ELFError` naming the offset of a malformed note.
    """
    addr = struct.Struct("<" + ("Q" if addr_size == 8 else "I") * 3)
    notes: list[UsdtNote] = []
    pos = 0
    while pos < len(data):
        if pos + _NOTE_HEADER.size > len(data):
            raise ELFError(f".note.stapsdt: truncated note header at offset {pos}")
        namesz, descsz, ntype = _NOTE_HEADER.unpack_from(data, pos)
        name_at = pos + _NOTE_HEADER.size
        desc_at = name_at + _align4(namesz)
        end = desc_at + _align4(descsz)
        if desc_at + descsz > len(data):
            raise ELFError(f".note.stapsdt: note at offset {pos} claims {namesz}+{descsz} bytes past the section end")
        owner = data[name_at:name_at + namesz].rstrip(b"\0")
        if owner == NOTE_OWNER and ntype == NOTE_TYPE:
            notes.append(_parse_desc(data[desc_at:desc_at + descsz], addr, base_addr, pos))
        pos = end
    return notes


def _parse_desc(desc: bytes, addr: struct.Struct, base_addr: int | None, where: int) -> UsdtNote:
    if len(desc) < addr.size + 3:
        raise ELFError(f".note.stapsdt: the note at offset {where} is too short ({len(desc)} bytes)")
    pc, base, semaphore = addr.unpack_from(desc)
    strings = desc[addr.size:].split(b"\0")
    if len(strings) < 4:  # provider, name, args, "" after the last NUL
        raise ELFError(f".note.stapsdt: the note at offset {where} lacks NUL-terminated provider, name and arguments")
    try:
        provider, name, args = (s.decode() for s in strings[:3])
    except UnicodeDecodeError:
        raise ELFError(f".note.stapsdt: the note at offset {where} has non-UTF-8 names") from None
    if not provider or not name:
        raise ELFError(f".note.stapsdt: the note at offset {where} has an empty provider or probe name")
    if base_addr is not None and base:
        pc += base_addr - base
        if semaphore:
            semaphore += base_addr - base
    return UsdtNote(provider, name, pc, semaphore, args, base)


__all__ = [
    "ARM64_REGISTERS", "ArgKind", "MAX_ARGS", "OPERAND_PARSERS", "SPEC_SIZE", "UsdtArg", "UsdtNote",
    "X86_64_REGISTERS", "encode_spec", "parse_arg", "parse_args", "parse_notes", "split_args",
]
