"""The parameters of a user-space function, from the DWARF of its binary, for ``args`` in
uprobes (``uprobe:/bin/x:func { args.name }``, as bpftrace >= 0.18 has it).

A parameter of integer or pointer type is read from the register the System V x86-64 calling
convention passes it in (the first six such parameters: rdi, rsi, rdx, rcx, r8, r9), at function
entry. Floating-point parameters travel in SSE registers and are left out without taking an
integer register; a struct passed by value is left out, taking one integer register per eightbyte
when it is at most 16 bytes of integers and pointers, none when larger (it goes on the stack); a
struct with floating-point members makes the registers of the ones after it unknown, so those are
left out too. What is left out is listed in :attr:`FunctionArgs.skipped`
so an error can say why ``args.x`` is missing.

Pure: reads the file, no syscalls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ELFError
from .types import AddrSpace, IntType, PointerType, Type, VoidType

#: integer argument registers in order (System V x86-64)
ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")

_QUALIFIERS = frozenset({"DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type",
                         "DW_TAG_atomic_type"})
_SIGNED = frozenset({"DW_ATE_signed", "DW_ATE_signed_char"})
_INTEGRAL = _SIGNED | {"DW_ATE_unsigned", "DW_ATE_unsigned_char", "DW_ATE_boolean", "DW_ATE_UTF"}


@dataclass(frozen=True)
class Param:
    """One parameter: its name, C spelling of its type, and (when readable) type and register."""

    name: str
    c_type: str
    type: Type | None = None
    register: str = ""


@dataclass(frozen=True)
class FunctionArgs:
    """The parameters of ``function`` in ``binary`` (source order)."""

    binary: str
    function: str
    params: tuple[Param, ...]

    @property
    def readable(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.register)

    @property
    def skipped(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.register)


def _name(die: Any) -> str:
    attr = die.attributes.get("DW_AT_name")
    return attr.value.decode(errors="replace") if attr is not None else ""


def _target(die: Any) -> Any | None:
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _strip(die: Any | None) -> Any | None:
    while die is not None and die.tag in _QUALIFIERS:
        die = _target(die)
    return die


def c_spelling(die: Any | None) -> str:
    """``const char *``, ``unsigned long``, ``struct point``... for listings."""
    if die is None:
        return "void"
    tag = die.tag
    if tag == "DW_TAG_pointer_type":
        return f"{c_spelling(_target(die))} *".replace("* *", "**")
    if tag == "DW_TAG_const_type":
        return f"const {c_spelling(_target(die))}"
    if tag == "DW_TAG_volatile_type":
        return f"volatile {c_spelling(_target(die))}"
    if tag in ("DW_TAG_restrict_type", "DW_TAG_atomic_type"):
        return c_spelling(_target(die))
    prefix = {"DW_TAG_structure_type": "struct ", "DW_TAG_union_type": "union ",
              "DW_TAG_enumeration_type": "enum "}.get(tag, "")
    return prefix + (_name(die) or "(anon)")


def _byte_size(die: Any) -> int:
    attr = die.attributes.get("DW_AT_byte_size")
    return int(attr.value) if attr is not None else 0


def _int_type(die: Any) -> IntType | None:
    size = _byte_size(die)
    if size not in (1, 2, 4, 8):
        return None
    if die.tag == "DW_TAG_enumeration_type":
        return IntType(size * 8, True)
    enc = die.attributes.get("DW_AT_encoding")
    if enc is None:
        return None
    from elftools.dwarf.enums import ENUM_DW_ATE

    names = {v: k for k, v in ENUM_DW_ATE.items()}
    name = names.get(enc.value, "")
    if name not in _INTEGRAL:
        return None
    return IntType(size * 8, name in _SIGNED)


def trace_type(die: Any | None) -> Type | None:
    """The script type of a parameter's DWARF type; None when it is not passed in an integer
    register (floats, structs by value)."""
    die = _strip(die)
    if die is None:
        return None
    if die.tag == "DW_TAG_pointer_type":
        pointee = _strip(_target(die))
        target: Type = VoidType()
        if pointee is not None and pointee.tag in ("DW_TAG_base_type", "DW_TAG_enumeration_type"):
            target = _int_type(pointee) or VoidType()
        return PointerType(target, AddrSpace.USER)
    if die.tag in ("DW_TAG_base_type", "DW_TAG_enumeration_type"):
        return _int_type(die)
    return None


def _is_float(die: Any | None) -> bool:
    die = _strip(die)
    if die is None or die.tag != "DW_TAG_base_type":
        return False
    from elftools.dwarf.enums import ENUM_DW_ATE

    enc = die.attributes.get("DW_AT_encoding")
    return enc is not None and enc.value in (ENUM_DW_ATE["DW_ATE_float"], ENUM_DW_ATE["DW_ATE_complex_float"])


def _params(sub: Any) -> tuple[Param, ...]:
    params = [c for c in sub.iter_children() if c.tag == "DW_TAG_formal_parameter"]
    origin = _origin(sub)
    if not params and origin is not sub:
        params = [c for c in origin.iter_children() if c.tag == "DW_TAG_formal_parameter"]
    out: list[Param] = []
    used = 0  # integer argument registers taken so far
    known = True
    for child in (_origin(p) for p in params):
        tdie = _target(child)
        name, spelled = _name(child) or f"arg{len(out)}", c_spelling(tdie)
        t = trace_type(tdie)
        if t is not None and known:
            reg = ARG_REGS[used] if used < len(ARG_REGS) else ""
            used += 1
            out.append(Param(name, spelled, t if reg else None, reg))
            continue
        if not _is_float(tdie):
            n = _aggregate_registers(tdie)
            if n is None:
                known = False  # where the next ones travel depends on a layout not classified here
            elif n and used + n <= len(ARG_REGS):
                used += n  # a small all-integer struct takes whole registers; else it goes on the stack
        out.append(Param(name, spelled))
    return tuple(out)


_AGGREGATES = frozenset({"DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type"})


def _has_float(die: Any | None, depth: int = 0) -> bool:
    die = _strip(die)
    if die is None or depth > 8:
        return False
    if die.tag == "DW_TAG_base_type":
        return _is_float(die)
    if die.tag == "DW_TAG_array_type":
        return _has_float(_target(die), depth + 1)
    if die.tag in _AGGREGATES:
        return any(_has_float(_target(m), depth + 1) for m in die.iter_children() if m.tag == "DW_TAG_member")
    return False


def _aggregate_registers(die: Any | None) -> int | None:
    """Integer registers a struct or union passed by value takes (System V classification):
    0 above 16 bytes (passed in memory), one per eightbyte when every member is an integer or a
    pointer, None when it has floating-point members (SSE classes) or is not an aggregate."""
    die = _strip(die)
    if die is None or die.tag not in _AGGREGATES:
        return None
    size = _byte_size(die)
    if size > 16:
        return 0
    if _has_float(die):
        return None
    return (size + 7) // 8


def _has_debug_info(elf: Any) -> bool:
    return bool(elf.has_dwarf_info()) and elf.get_section_by_name(".debug_info") is not None


#: where distributions install separate debug info (``-dbg``/``-dbgsym`` packages)
DEBUG_ROOT = "/usr/lib/debug"


def _build_id(elf: Any) -> str | None:
    note_sec = elf.get_section_by_name(".note.gnu.build-id")
    if note_sec is None:
        return None
    for note in note_sec.iter_notes():
        if note["n_type"] == "NT_GNU_BUILD_ID":
            return str(note["n_desc"])
    return None


def debug_file(binary: str, elf: Any, *, debug_root: str = DEBUG_ROOT) -> str | None:
    """The file holding ``binary``'s DWARF: itself, or its separate debug file found by build id
    (``/usr/lib/debug/.build-id/xx/yyyy.debug``) or by ``.gnu_debuglink``; None when none exists."""
    import os

    if _has_debug_info(elf):
        return binary
    candidates: list[str] = []
    bid = _build_id(elf)
    if bid:
        candidates.append(os.path.join(debug_root, ".build-id", bid[:2], f"{bid[2:]}.debug"))
    link = elf.get_section_by_name(".gnu_debuglink")
    if link is not None:
        name = link.data().split(b"\0", 1)[0].decode(errors="replace")
        here = os.path.dirname(os.path.realpath(binary))
        candidates += [os.path.join(here, name), os.path.join(here, ".debug", name),
                       os.path.join(debug_root, here.lstrip("/"), name)]
    return next((c for c in candidates if os.path.isfile(c)), None)


def _symbol_address(elf: Any, function: str) -> int | None:
    from elftools.elf.sections import SymbolTableSection

    for sec in elf.iter_sections():
        if isinstance(sec, SymbolTableSection):
            for sym in sec.get_symbol_by_name(function) or ():
                if sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and sym["st_value"]:
                    return int(sym["st_value"])
    return None


def _subprogram(dwarf: Any, function: str, address: int | None) -> Any | None:
    """The DIE defining ``function``: found by its entry address (aliases like malloc, whose
    DWARF name is __libc_malloc, too) in the one compile unit ``.debug_aranges`` points at, else
    by name over every unit."""
    units: Any = None
    if address is not None and dwarf.has_debug_info:
        aranges = dwarf.get_aranges()
        offset = aranges.cu_offset_at_addr(address) if aranges is not None else None
        if offset is not None:
            units = [dwarf.get_CU_at(offset)]
    by_name = None
    for cu in units if units is not None else dwarf.iter_CUs():
        for die in cu.iter_DIEs():
            if die.tag != "DW_TAG_subprogram" or "DW_AT_declaration" in die.attributes:
                continue
            low = die.attributes.get("DW_AT_low_pc")
            if address is not None and low is not None and low.value == address:
                return die
            if by_name is None and _name(_origin(die)) == function:
                by_name = die
    return by_name


def _origin(die: Any) -> Any:
    """The DIE that has the names and types (an out-of-line instance points at its abstract origin)."""
    for attr in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if attr in die.attributes:
            return _origin(die.get_DIE_from_attribute(attr))
    return die


def function_args(binary: str, function: str) -> FunctionArgs:
    """The parameters of ``function`` from the DWARF of ``binary`` or of its separate debug file.

    Raises :class:`~pybpf.errors.ELFError` when there is no DWARF (build it with ``-g``, or
    install its debug symbols) or DWARF does not describe ``function``.
    """
    from elftools.common.exceptions import ELFError as PyElfError
    from elftools.elf.elffile import ELFFile

    try:
        with open(binary, "rb") as f:
            elf = ELFFile(f)
            address = _symbol_address(elf, function)
            source = debug_file(binary, elf)
        if source is None:
            raise ELFError(f"{binary} has no DWARF debug information, so the arguments of {function} are "
                           "unknown: rebuild it with -g (or install its debug symbols), or use arg0, arg1...")
        with open(source, "rb") as f:
            die = _subprogram(ELFFile(f).get_dwarf_info(), function, address)
            if die is not None:
                return FunctionArgs(binary, function, _params(die))
    except PyElfError as e:
        raise ELFError(f"cannot read the DWARF of {binary}: {e}") from None
    raise ELFError(f"the DWARF of {binary} does not describe a function {function}: use arg0, arg1...")


def list_functions(binary: str) -> dict[str, FunctionArgs]:
    """Every function the DWARF of ``binary`` defines, with its parameters (for ``-lv``);
    empty when the binary has no DWARF of its own (a separate debug file, as system libraries
    have, is not read whole for a listing: it takes minutes in pure Python)."""
    from elftools.elf.elffile import ELFFile

    out: dict[str, FunctionArgs] = {}
    with open(binary, "rb") as f:
        elf = ELFFile(f)
        if not _has_debug_info(elf):
            return out
        for cu in elf.get_dwarf_info().iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag == "DW_TAG_subprogram" and "DW_AT_declaration" not in die.attributes:
                    name = _name(die)
                    if name and name not in out:
                        out[name] = FunctionArgs(binary, name, _params(die))
    return out
