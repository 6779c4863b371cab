"""CO-RE: resolve "compile once, run everywhere" relocations against a target BTF.

A program compiled with ``preserve_access_index`` types or the ``__builtin_preserve_*``
builtins carries CO-RE relocations (``.BTF.ext``): for one instruction each, which local type
it is about, an access string and what the instruction's immediate or offset holds (a field
offset, a size, whether something exists, an enum value...). Before loading, the values
computed against the compiler's local types are replaced by the values the target (the
running kernel's BTF, or any BTF file) gives.

Everything here is pure: no syscall, no global state besides a per-target name index.

Example (``prog.bpf.o`` built with ``pybpf.cc.compile``)::

    from pybpf import ObjectSpec
    from pybpf.btf import kernel_btf
    from pybpf.btf.core import apply_core

    spec = ObjectSpec.from_file("prog.bpf.o")
    for prog in spec.programs.values():
        prog.instructions = apply_core(prog, spec.btf, kernel_btf())
        prog.core_relocations = []  # applied (applying twice fails the local-value check)

Failures
    A relocation whose target cannot be found *fails*. For the existence kinds (field,
    type, enumerator exists and type matches) that is an answer: the value is 0. For every
    other kind ``strict=True`` (the default) raises :class:`~pybpf.errors.CORError` naming the
    local type and the field path -- unless a failed existence probe of the same program
    guards it (``if (bpf_core_field_exists(t->f)) ... t->f``; see :func:`guarded_failures`).
    A guarded failure, and with ``strict=False`` every failure, is handled as libbpf does: a
    failed field or enumerator-value relocation *poisons* its instruction (it becomes
    ``call 0xbad2310``, an invalid helper call the verifier rejects only if the instruction is
    reachable; a poisoned LD_IMM64 becomes two such calls so slot numbering is kept), and a
    failed type-size or target-type-id relocation becomes 0. Candidates that disagree on the
    value are always an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import CORError
from .core_spec import (
    FieldLayout, FieldSpec, field_layout, local_enumerator, local_field_spec, match_enumerator,
    match_field_spec,
)
from .core_types import describe_type, find_candidates, types_are_compat, types_match
from .types import CoreRelocation, CoreRelocKind, Kind

if TYPE_CHECKING:
    from ..isa import Instruction
    from ..spec import ProgramSpec
    from .container import BTF

__all__ = [
    "CoreResult", "resolve_relocation", "resolve_program", "guarded_failures", "apply_core",
    "poisoned_instructions", "POISON_IMM",
    "OPTIONAL_KINDS", "FIELD_KINDS", "TYPE_KINDS", "ENUMVAL_KINDS",
]

log = logging.getLogger("pybpf.btf.core")

#: imm of the ``call`` a poisoned instruction becomes (the verifier reports it as an unknown
#: helper ``195896080``; map that number back to the failed relocation with the results).
POISON_IMM = 0xBAD2310

FIELD_KINDS = frozenset({
    CoreRelocKind.FIELD_BYTE_OFFSET, CoreRelocKind.FIELD_BYTE_SIZE, CoreRelocKind.FIELD_EXISTS,
    CoreRelocKind.FIELD_SIGNED, CoreRelocKind.FIELD_LSHIFT_U64, CoreRelocKind.FIELD_RSHIFT_U64,
})
TYPE_KINDS = frozenset({
    CoreRelocKind.TYPE_ID_LOCAL, CoreRelocKind.TYPE_ID_TARGET, CoreRelocKind.TYPE_EXISTS,
    CoreRelocKind.TYPE_SIZE, CoreRelocKind.TYPE_MATCHES,
})
ENUMVAL_KINDS = frozenset({CoreRelocKind.ENUMVAL_EXISTS, CoreRelocKind.ENUMVAL_VALUE})
#: kinds whose failure is an answer (0), not an error
OPTIONAL_KINDS = frozenset({
    CoreRelocKind.FIELD_EXISTS, CoreRelocKind.TYPE_EXISTS, CoreRelocKind.TYPE_MATCHES,
    CoreRelocKind.ENUMVAL_EXISTS,
})
# failed required kinds that libbpf patches with 0 instead of poisoning (non-strict mode)
_ZERO_ON_FAILURE = frozenset({CoreRelocKind.TYPE_ID_TARGET, CoreRelocKind.TYPE_SIZE})


@dataclass(frozen=True)
class CoreResult:
    """The outcome of one relocation.

    ``value`` is what the instruction gets (0 for a failed one); ``local_value`` what the
    compiler put there (checked before patching). ``failed`` says the target lacks what the
    relocation names; ``poison`` that the instruction must be made unreachable-or-rejected
    (only in non-strict mode). For field offsets ``local_size``/``target_size`` are the
    field's byte sizes, used to widen or narrow a direct load or store.
    """

    relocation: CoreRelocation
    local_value: int
    value: int
    description: str  # "struct task_struct: field 'pid' (access 0:18)"
    failed: bool = False
    poison: bool = False
    target_type_id: int = 0  # the matching target candidate (0: none, or TYPE_ID_LOCAL)
    target_access: str = ""  # the access string in the target's terms (fields)
    local_size: int = 0
    target_size: int = 0
    target_signed: bool = False
    target_scalar: bool = True  # an int, enum or pointer (a load of it may change width)
    reason: str = ""  # why it failed
    #: whether the instruction must hold ``local_value``: not for a bitfield's offset, size and
    #: left shift, which the compiler computes from its own storage unit (any consistent
    #: choice of load works; the target values always come as a consistent set)
    validate: bool = True

    @property
    def message(self) -> str:
        """One line for an error or a log: what, and why it failed."""
        if not self.failed:
            return f"{self.description}: {self.local_value} -> {self.value}"
        return f"{self.description} not found in target: {self.reason}"


# --- resolving ---------------------------------------------------------------------------


def resolve_relocation(
    local: BTF, target: BTF, relo: CoreRelocation, *, strict: bool = True
) -> CoreResult:
    """Resolve one CO-RE relocation of ``local`` against ``target`` (pure).

    Raises :class:`~pybpf.errors.CORError` for a malformed relocation, for candidates that
    disagree, and (when ``strict``) for a required relocation the target cannot satisfy.
    """
    handler = _HANDLERS.get(relo.relo_kind)
    if handler is None:  # pragma: no cover - CoreRelocKind is closed
        raise CORError(f"unknown CO-RE relocation kind {relo.relo_kind!r}")
    result = handler(local, target, relo)
    if result.failed:
        result = _on_failure(result, strict)
    log.debug("CO-RE insn %d: %s", relo.insn_off, result.message)
    return result


def _on_failure(result: CoreResult, strict: bool) -> CoreResult:
    kind = result.relocation.relo_kind
    if kind in OPTIONAL_KINDS:
        return replace(result, value=0)
    if strict:
        raise CORError(
            f"{result.message}. Fix the local type or field name, or add a ___flavor of the type "
            "that exists in this kernel"
        )
    return replace(result, value=0, poison=kind not in _ZERO_ON_FAILURE)


def _no_candidates(local: BTF, relo: CoreRelocation) -> str:
    name = local.name_of(relo.type_id)
    if not name:
        return "the local type is anonymous, so it cannot be matched by name (give it a name)"
    return f"the target has no {describe_type(local, relo.type_id)} (nor a ___flavor of it)"


def _check_agreement(
    description: str, target: BTF, outcomes: Sequence[tuple[int, tuple[int, ...]]]
) -> None:
    """All matching candidates must give the same values; else the choice is ambiguous."""
    if len({values for _, values in outcomes}) > 1:
        shown = "; ".join(f"{describe_type(target, c)} (id {c}) gives {v[0]}" for c, v in outcomes)
        raise CORError(
            f"{description}: ambiguous: several target candidates match with different results "
            f"({shown}); use a ___flavor name that matches only one of them"
        )


_FIELD_VALUES: dict[CoreRelocKind, Callable[[FieldLayout], int]] = {
    CoreRelocKind.FIELD_BYTE_OFFSET: lambda lay: lay.byte_offset,
    CoreRelocKind.FIELD_BYTE_SIZE: lambda lay: lay.byte_size,
    CoreRelocKind.FIELD_EXISTS: lambda lay: 1,
    CoreRelocKind.FIELD_SIGNED: lambda lay: int(lay.signed),
    CoreRelocKind.FIELD_LSHIFT_U64: lambda lay: _shift(lay, lay.lshift_u64),
    CoreRelocKind.FIELD_RSHIFT_U64: lambda lay: _shift(lay, lay.rshift_u64),
}


_BITFIELD_UNCHECKED = frozenset({
    CoreRelocKind.FIELD_BYTE_OFFSET, CoreRelocKind.FIELD_BYTE_SIZE, CoreRelocKind.FIELD_LSHIFT_U64,
})


def _shift(lay: FieldLayout, value: int) -> int:
    if not 0 <= value < 64:
        raise CORError(f"a field of {lay.byte_size} bytes cannot be extracted with 64-bit shifts")
    return value


def _is_scalar(btf: BTF, spec: FieldSpec) -> bool:
    return btf.kind_of(btf.resolve(spec.field_type_id)) in (Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.PTR)


def _field_outcome(btf: BTF, spec: FieldSpec, kind: CoreRelocKind) -> tuple[int, FieldLayout | None]:
    """The value of ``kind`` for a field, and its layout (not needed to know that it exists)."""
    if kind == CoreRelocKind.FIELD_EXISTS:
        return 1, None
    layout = field_layout(btf, spec)
    return _FIELD_VALUES[kind](layout), layout


def _resolve_field(local: BTF, target: BTF, relo: CoreRelocation) -> CoreResult:
    kind = relo.relo_kind
    lspec = local_field_spec(local, relo.type_id, relo.access)
    description = f"{describe_type(local, relo.type_id)}: field '{lspec.path}' (access {relo.access})"
    local_value, llay = _field_outcome(local, lspec, kind)
    base = CoreResult(
        relo, local_value, local_value, description,
        local_size=llay.byte_size if llay else 0,
        validate=not (llay is not None and llay.is_bitfield and kind in _BITFIELD_UNCHECKED),
    )
    cands = find_candidates(local, relo.type_id, target)
    if not cands:
        return replace(base, failed=True, reason=_no_candidates(local, relo))
    matches: list[tuple[int, FieldSpec, FieldLayout | None, int]] = []
    reasons = []
    for cand in cands:
        tspec = match_field_spec(local, lspec, target, cand)
        if isinstance(tspec, str):
            reasons.append(tspec if len(cands) == 1 else f"{tspec} (candidate id {cand})")
            continue
        value, tlay = _field_outcome(target, tspec, kind)
        matches.append((cand, tspec, tlay, value))
    if not matches:
        return replace(base, failed=True, reason="; ".join(reasons))
    _check_agreement(
        description, target, [(c, (v, lay.byte_size if lay else 0)) for c, _, lay, v in matches]
    )
    cand, tspec, tlay, value = matches[0]
    result = replace(base, value=value, target_type_id=cand, target_access=tspec.access)
    if tlay is not None:
        result = replace(
            result, target_size=tlay.byte_size, target_signed=tlay.signed,
            target_scalar=_is_scalar(target, tspec),
        )
    return result


def _resolve_type(local: BTF, target: BTF, relo: CoreRelocation) -> CoreResult:
    kind = relo.relo_kind
    description = f"{describe_type(local, relo.type_id)}: {_TYPE_WORDS[kind]}"
    local_value = _type_value(kind, local, relo.type_id)
    base = CoreResult(relo, local_value, local_value, description)
    if kind == CoreRelocKind.TYPE_ID_LOCAL:
        return base
    cands = find_candidates(local, relo.type_id, target)
    if not cands:
        return replace(base, failed=True, reason=_no_candidates(local, relo))
    relation = types_match if kind == CoreRelocKind.TYPE_MATCHES else types_are_compat
    matched = [c for c in cands if relation(local, relo.type_id, target, c)]
    if not matched:
        ids = ", ".join(str(c) for c in cands)
        verb = "matches" if kind == CoreRelocKind.TYPE_MATCHES else "is compatible with"
        return replace(base, failed=True, reason=f"no target type of that name (ids {ids}) {verb} it")
    outcomes = [(c, (_type_value(kind, target, c),)) for c in matched]
    _check_agreement(description, target, outcomes)
    return replace(base, value=outcomes[0][1][0], target_type_id=matched[0])


_TYPE_WORDS = {
    CoreRelocKind.TYPE_ID_LOCAL: "local type id",
    CoreRelocKind.TYPE_ID_TARGET: "target type id",
    CoreRelocKind.TYPE_EXISTS: "type exists",
    CoreRelocKind.TYPE_SIZE: "type size",
    CoreRelocKind.TYPE_MATCHES: "type matches",
}


def _type_value(kind: CoreRelocKind, btf: BTF, type_id: int) -> int:
    getter = _TYPE_VALUES[kind]
    return getter(btf, type_id)


_TYPE_VALUES: dict[CoreRelocKind, Callable[[BTF, int], int]] = {
    CoreRelocKind.TYPE_ID_LOCAL: lambda btf, tid: tid,
    CoreRelocKind.TYPE_ID_TARGET: lambda btf, tid: tid,
    CoreRelocKind.TYPE_EXISTS: lambda btf, tid: 1,
    CoreRelocKind.TYPE_MATCHES: lambda btf, tid: 1,
    CoreRelocKind.TYPE_SIZE: lambda btf, tid: btf.size_of(tid),
}


def _resolve_enumval(local: BTF, target: BTF, relo: CoreRelocation) -> CoreResult:
    kind = relo.relo_kind
    enumerator = local_enumerator(local, relo.type_id, relo.access)
    description = (
        f"{describe_type(local, relo.type_id)}: enumerator '{enumerator.name}' (access {relo.access})"
    )
    local_value = 1 if kind == CoreRelocKind.ENUMVAL_EXISTS else enumerator.value
    base = CoreResult(relo, local_value, local_value, description)
    cands = find_candidates(local, relo.type_id, target)
    if not cands:
        return replace(base, failed=True, reason=_no_candidates(local, relo))
    outcomes = []
    for cand in cands:
        found = match_enumerator(target, cand, enumerator)
        if found is not None:
            outcomes.append((cand, (1 if kind == CoreRelocKind.ENUMVAL_EXISTS else found.value,)))
    if not outcomes:
        shown = describe_type(target, cands[0])
        return replace(base, failed=True, reason=f"{shown} has no enumerator {enumerator.name!r}")
    _check_agreement(description, target, outcomes)
    return replace(base, value=outcomes[0][1][0], target_type_id=outcomes[0][0])


_HANDLERS: dict[CoreRelocKind, Callable[[BTF, BTF, CoreRelocation], CoreResult]] = {
    **{k: _resolve_field for k in FIELD_KINDS},
    **{k: _resolve_type for k in TYPE_KINDS},
    **{k: _resolve_enumval for k in ENUMVAL_KINDS},
}


def resolve_program(
    relocations: Sequence[CoreRelocation], local: BTF, target: BTF, *, strict: bool = True
) -> list[CoreResult]:
    """Resolve every relocation of one program.

    In strict mode every unsatisfiable required relocation is reported in one CORError,
    except those *guarded* by a failed existence probe in the same program (see
    :func:`guarded_failures`): those are poisoned, as libbpf does, because the probe's 0 keeps
    the program from reaching them.
    """
    results = [resolve_relocation(local, target, r, strict=False) for r in relocations]
    if not strict:
        return results
    guarded = guarded_failures(results)
    bad = [
        r for i, r in enumerate(results)
        if r.failed and r.relocation.relo_kind not in OPTIONAL_KINDS and i not in guarded
    ]
    for i in sorted(guarded):
        log.info("CO-RE insn %d: %s; guarded by an existence check, poisoned",
                 results[i].relocation.insn_off, results[i].message)
    if bad:
        lines = [f"insn {r.relocation.insn_off}: {r.message}" for r in bad]
        raise CORError(
            f"{len(bad)} CO-RE relocation(s) cannot be satisfied by the target BTF:\n  "
            + "\n  ".join(lines)
            + "\nFix the local type or field names, add a ___flavor of the type that exists in "
            "this kernel, or guard the accesses with bpf_core_field_exists()/"
            "bpf_core_type_exists() (or load with strict=False to poison them as libbpf does)"
        )
    return results


def guarded_failures(results: Sequence[CoreResult]) -> set[int]:
    """Indices of failed required relocations that a failed existence probe guards.

    A failed ``FIELD_EXISTS`` (or ``ENUMVAL_EXISTS``) on the same local type guards the
    relocations of the same access and of accesses below it (``0:1`` guards ``0:1:2``); a
    failed ``TYPE_EXISTS`` or ``TYPE_MATCHES`` guards every relocation on that local type.
    """
    field_probes: dict[int, list[str]] = {}
    type_probes: set[int] = set()
    for r in results:
        rel = r.relocation
        if not r.failed:
            continue
        if rel.relo_kind in (CoreRelocKind.FIELD_EXISTS, CoreRelocKind.ENUMVAL_EXISTS):
            field_probes.setdefault(rel.type_id, []).append(rel.access)
        elif rel.relo_kind in (CoreRelocKind.TYPE_EXISTS, CoreRelocKind.TYPE_MATCHES):
            type_probes.add(rel.type_id)
    guarded = set()
    for i, r in enumerate(results):
        rel = r.relocation
        if not r.failed or rel.relo_kind in OPTIONAL_KINDS:
            continue
        probes = field_probes.get(rel.type_id, ())
        if rel.type_id in type_probes or any(
            rel.access == p or rel.access.startswith(p + ":") for p in probes
        ):
            guarded.add(i)
    return guarded


# --- patching ----------------------------------------------------------------------------


def apply_core(
    prog: ProgramSpec, local: BTF, target: BTF, *, strict: bool = True
) -> list[Instruction]:
    """The program's instructions with every CO-RE relocation applied against ``target``.

    ``prog.core_relocations[i].insn_off`` is the *slot* index of the instruction (an LD_IMM64
    counts two, as in ``.BTF.ext`` and for the kernel). An ALU instruction gets a new ``imm``,
    a load or store a new ``off`` (and, for a field whose size differs in the target, a new
    access width), an LD_IMM64 a new 64-bit ``imm``. Each instruction must hold the value the
    local BTF gives before it is patched; otherwise the object and its BTF disagree and
    CORError is raised. See the module docstring for ``strict``.
    """
    from .core_patch import patch_instructions

    results = resolve_program(prog.core_relocations, local, target, strict=strict)
    return patch_instructions(prog.name, prog.instructions, results)



def poisoned_instructions(prog: ProgramSpec, local: BTF, target: BTF) -> dict[int, str]:
    """Slot -> reason, for every instruction CO-RE poisons in ``prog`` (guarded or non-strict).

    When the verifier rejects a program with an unknown helper ``195896080``
    (:data:`POISON_IMM`) at some instruction, this names the relocation that failed there.
    """
    out = {}
    for r in resolve_program(prog.core_relocations, local, target, strict=False):
        if r.poison:
            out[r.relocation.insn_off] = r.message
    return out
