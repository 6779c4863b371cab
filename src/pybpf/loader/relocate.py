"""Patching a program's instructions for the running kernel.

CO-RE first (:func:`pybpf.btf.core.apply_core` against the kernel's BTF or the ``btf=`` given),
then the loader relocations the ELF reader recorded (:class:`pybpf.spec.Relocation`), each
by the table :data:`PATCHERS`:

* ``MAP_FD``: ``ld_imm64 src=BPF_PSEUDO_MAP_FD imm=<map fd>``;
* ``MAP_VALUE`` / ``KCONFIG``: ``ld_imm64 src=BPF_PSEUDO_MAP_VALUE imm=<fd> | <offset> << 32``
  (a kconfig extern is an address in the ``.kconfig`` map);
* ``KSYM``: ``src=BPF_PSEUDO_BTF_ID`` with the kernel BTF id (and module BTF fd), or the
  kallsyms address of an untyped symbol;
* ``KFUNC``: ``call src=BPF_PSEUDO_KFUNC_CALL imm=<btf id> off=<fd_array index of the module>``,
  or, for a missing ``__weak`` kfunc, a call to a helper id no kernel has (the verifier never
  reaches it once the program has checked the function for NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import BPFError
from ..isa import Instruction
from ..isa.opcodes import CallSrc, PseudoSrc
from ..spec import ProgramSpec, Relocation, RelocationKind

if TYPE_CHECKING:  # only objects with .ksyms externs import the resolver (pipeline.load_spec)
    from ..btf import BTF
    from .ksyms import ResolvedKsym

#: imm of the call that replaces a weak kfunc the kernel lacks (an impossible helper id).
POISON_KFUNC_CALL = 0x7EAD0000


class RelocationError(BPFError):
    """A program refers to a map or extern the loader does not have."""


@dataclass
class RelocationContext:
    """What one object's relocations resolve against."""

    map_fds: Mapping[str, int]  # map name -> fd number
    kconfig_map: str = ""
    ksyms: Mapping[str, ResolvedKsym] = field(default_factory=dict)
    module_fd: Callable[[str], int] = lambda module: 0
    fd_array: list[int] = field(default_factory=lambda: [0])  # index 0: vmlinux (unused)

    def map_fd(self, name: str, prog: str) -> int:
        try:
            return self.map_fds[name]
        except KeyError:
            raise RelocationError(f"program {prog!r} refers to map {name!r}, which was not created") from None

    def fd_index(self, module: str) -> int:
        fd = self.module_fd(module)
        if fd not in self.fd_array:
            self.fd_array.append(fd)
        return self.fd_array.index(fd)


def _map_fd(insn: Instruction, rel: Relocation, ctx: RelocationContext, prog: str) -> Instruction:
    return insn.replace(src=PseudoSrc.MAP_FD, imm=ctx.map_fd(rel.symbol, prog))


def _map_value(insn: Instruction, rel: Relocation, ctx: RelocationContext, prog: str) -> Instruction:
    return insn.replace(src=PseudoSrc.MAP_VALUE, imm=ctx.map_fd(rel.symbol, prog) | (rel.offset << 32))


def _kconfig(insn: Instruction, rel: Relocation, ctx: RelocationContext, prog: str) -> Instruction:
    if not ctx.kconfig_map:
        raise RelocationError(f"program {prog!r} reads kconfig extern {rel.symbol!r} but the object has no .kconfig map")
    return insn.replace(src=PseudoSrc.MAP_VALUE, imm=ctx.map_fd(ctx.kconfig_map, prog) | (rel.offset << 32))


def _ksym(insn: Instruction, rel: Relocation, ctx: RelocationContext, prog: str) -> Instruction:
    k = _resolved(rel, ctx, prog)
    if not k.found:
        return insn.replace(src=0, imm=0)
    if k.btf_id:
        module_fd = ctx.module_fd(k.module) if k.module else 0
        return insn.replace(src=PseudoSrc.BTF_ID, imm=k.btf_id | (module_fd << 32))
    return insn.replace(src=0, imm=k.address)


def _kfunc(insn: Instruction, rel: Relocation, ctx: RelocationContext, prog: str) -> Instruction:
    k = _resolved(rel, ctx, prog)
    if not k.found:
        return insn.replace(src=CallSrc.HELPER, imm=POISON_KFUNC_CALL, off=0)
    off = ctx.fd_index(k.module) if k.module else 0
    return insn.replace(src=CallSrc.KFUNC, imm=k.btf_id, off=off)


def _resolved(rel: Relocation, ctx: RelocationContext, prog: str) -> ResolvedKsym:
    try:
        return ctx.ksyms[rel.symbol]
    except KeyError:
        raise RelocationError(f"program {prog!r} refers to extern {rel.symbol!r}, which was not resolved") from None


PATCHERS: dict[RelocationKind, Callable[[Instruction, Relocation, RelocationContext, str], Instruction]] = {
    RelocationKind.MAP_FD: _map_fd,
    RelocationKind.MAP_VALUE: _map_value,
    RelocationKind.KCONFIG: _kconfig,
    RelocationKind.KSYM: _ksym,
    RelocationKind.KFUNC: _kfunc,
}


def slot_index(insns: list[Instruction]) -> dict[int, int]:
    """Slot number (LD_IMM64 counts two) -> index in ``insns``."""
    out, slot = {}, 0
    for i, insn in enumerate(insns):
        out[slot] = i
        slot += insn.slots
    return out


def relocate(prog: ProgramSpec, ctx: RelocationContext, *, local: BTF | None = None,
             target: BTF | Callable[[], BTF] | None = None) -> list[Instruction]:
    """``prog``'s instructions, CO-RE relocated against ``target`` and with every relocation patched."""
    if prog.core_relocations:
        if local is None:
            raise RelocationError(f"program {prog.name!r} has CO-RE relocations but the object has no BTF")
        tgt = target() if callable(target) else target
        if tgt is None:
            raise RelocationError(f"program {prog.name!r} has CO-RE relocations; pass btf= to relocate against")
        from ..btf.core import apply_core  # the CO-RE engine only for programs that need it

        insns = apply_core(prog, local, tgt)
    else:
        insns = list(prog.instructions)
    if prog.relocations:
        where = slot_index(insns)
        for rel in prog.relocations:
            i = where.get(rel.insn_index)
            if i is None:
                raise RelocationError(f"program {prog.name!r}: relocation of {rel.symbol!r} at instruction "
                                      f"{rel.insn_index} does not start an instruction")
            insns[i] = PATCHERS[rel.kind](insns[i], rel, ctx, prog.name)
    return insns
