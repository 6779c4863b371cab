"""CO-RE against the running kernel's BTF, with the local side compiled from C.

The programs in ``progs_core/`` use ``preserve_access_index`` structs and the
``__builtin_preserve_*`` builtins directly (no vmlinux.h); their relocations are read from
``.BTF.ext``. Every expected value is read straight from the kernel BTF by the test itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import pybpf.cc
from pybpf.btf import BTF, Enum, Enum64, Kind, Struct, Union_, kernel_btf
from pybpf.btf.core import POISON_IMM, CoreResult, apply_core, poisoned_instructions, resolve_program
from pybpf.btf.types import CoreRelocKind as K
from pybpf.errors import CORError
from pybpf.isa import InsnClass
from pybpf.spec import ObjectSpec, ProgramSpec

PROGS = Path(__file__).parent / "progs_core"
VMLINUX = Path("/sys/kernel/btf/vmlinux")

pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="the kernel exposes no BTF (CONFIG_DEBUG_INFO_BTF)")


@dataclass
class Compiled:
    btf: BTF
    prog: ProgramSpec


def compile_core(name: str, **defines: str) -> Compiled:
    """Compile progs_core/<name>.c and read its one program through ObjectSpec."""
    obj = pybpf.cc.compile(PROGS / f"{name}.c", include_dirs=[PROGS], defines=defines)
    spec = ObjectSpec.from_file(obj)
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    return Compiled(spec.btf, prog)


def results_by(compiled: Compiled, *, strict: bool = True) -> dict[tuple[str, str, K], CoreResult]:
    """Results keyed by (local type name, access string, kind)."""
    results = resolve_program(compiled.prog.core_relocations, compiled.btf, kernel_btf(), strict=strict)
    out = {}
    for r in results:
        rel = r.relocation
        out[(compiled.btf.name_of(rel.type_id), rel.access, rel.relo_kind)] = r
    return out


# --- reading the kernel BTF directly ---------------------------------------------------------


def kstruct(name: str) -> tuple[int, Struct]:
    k = kernel_btf()
    tid = k.find_one(name, Kind.STRUCT)
    t = k[tid]
    assert isinstance(t, Struct)
    return tid, t


def kmember(struct: str, field: str) -> tuple[int, int, int]:
    """(bit offset, bitfield size, type id) of a member, looking inside anonymous members."""
    k = kernel_btf()

    def walk(t: Struct | Union_, base: int) -> tuple[int, int, int] | None:
        for m in t.members:
            if m.name == field:
                return base + m.bit_offset, m.bitfield_size, m.type_id
            inner = k[k.resolve(m.type_id)]
            if not m.name and isinstance(inner, (Struct, Union_)):
                found = walk(inner, base + m.bit_offset)
                if found:
                    return found
        return None

    found = walk(kstruct(struct)[1], 0)
    assert found is not None, f"the kernel's struct {struct} has no {field}"
    return found


def kenum(name: str, enumerator: str) -> int:
    k = kernel_btf()
    for tid in k.find(name):
        t = k[tid]
        if isinstance(t, (Enum, Enum64)):
            return next(v.value for v in t.values if v.name == enumerator)
    raise AssertionError(f"no enum {name}")


def find_task_bitfield() -> tuple[str, int, int]:
    """A multi-bit bitfield of the kernel's task_struct (name, bit offset, bits)."""
    _, task = kstruct("task_struct")
    for m in task.members:
        if m.bitfield_size > 1:
            return m.name, m.bit_offset, m.bitfield_size
    m = next(m for m in task.members if m.bitfield_size)
    return m.name, m.bit_offset, m.bitfield_size


def extract(mem: bytes, r: dict[K, int]) -> int:
    """Read a field the way CO-RE code does: load BYTE_SIZE bytes at BYTE_OFFSET, shift."""
    off, size = r[K.FIELD_BYTE_OFFSET], r[K.FIELD_BYTE_SIZE]
    value = int.from_bytes(mem[off:off + size], "little")
    value = (value << r[K.FIELD_LSHIFT_U64]) & ((1 << 64) - 1)
    return value >> r[K.FIELD_RSHIFT_U64]


# --- tests -------------------------------------------------------------------------------------


def test_task_struct_field_offsets_match_the_kernel_btf() -> None:
    c = compile_core("fields")
    res = results_by(c)
    pid_bits, _, pid_type = kmember("task_struct", "pid")
    parent_bits, _, _ = kmember("task_struct", "real_parent")
    comm_bits, _, _ = kmember("task_struct", "comm")
    task_id, task = kstruct("task_struct")
    k = kernel_btf()

    assert res[("task_struct", "0:0", K.FIELD_BYTE_OFFSET)].value == pid_bits // 8
    assert res[("task_struct", "0:1", K.FIELD_BYTE_OFFSET)].value == parent_bits // 8
    assert res[("task_struct", "0:2:2", K.FIELD_BYTE_OFFSET)].value == comm_bits // 8 + 2
    assert res[("task_struct", "0:0", K.FIELD_BYTE_SIZE)].value == k.size_of(pid_type) == 4
    assert res[("task_struct", "0:0", K.FIELD_SIGNED)].value == 1  # pid_t is an int
    assert res[("task_struct", "0:0", K.FIELD_EXISTS)].value == 1
    assert res[("task_struct", "0", K.TYPE_EXISTS)].value == 1
    assert res[("task_struct", "0", K.TYPE_SIZE)].value == task.size
    assert res[("task_struct", "0", K.TYPE_ID_TARGET)].value == task_id
    local_id = c.btf.find_one("task_struct", Kind.STRUCT)
    assert res[("task_struct", "0", K.TYPE_ID_LOCAL)].value == local_id
    # the local values are what the compiler computed for our 3-field struct
    assert res[("task_struct", "0:1", K.FIELD_BYTE_OFFSET)].local_value == 8
    assert res[("task_struct", "0", K.TYPE_SIZE)].local_value == 32


def test_apply_core_patches_loads_immediates_and_ld_imm64() -> None:
    c = compile_core("fields")
    pid_off = kmember("task_struct", "pid")[0] // 8
    parent_off = kmember("task_struct", "real_parent")[0] // 8
    task_id, task = kstruct("task_struct")
    patched = apply_core(c.prog, c.btf, kernel_btf())
    assert len(patched) == len(c.prog.instructions)
    by_slot = {}
    slot = 0
    for insn in patched:
        by_slot[slot] = insn
        slot += insn.slots
    relocs = {(r.access, r.relo_kind): r.insn_off for r in c.prog.core_relocations}
    loads = [r.insn_off for r in c.prog.core_relocations if r.access == "0:0"
             and r.relo_kind == K.FIELD_BYTE_OFFSET and by_slot[r.insn_off].cls == InsnClass.LDX]
    assert loads and all(by_slot[s].off == pid_off for s in loads)
    alu = [r.insn_off for r in c.prog.core_relocations if r.access == "0:1"
           and r.relo_kind == K.FIELD_BYTE_OFFSET and by_slot[r.insn_off].cls == InsnClass.ALU64]
    assert alu and all(by_slot[s].imm == parent_off for s in alu)
    assert by_slot[relocs[("0", K.TYPE_SIZE)]].imm == task.size
    assert by_slot[relocs[("0", K.TYPE_ID_TARGET)]].imm == task_id
    # instructions without a relocation are untouched
    untouched = set(by_slot) - {r.insn_off for r in c.prog.core_relocations}
    orig = {}
    slot = 0
    for insn in c.prog.instructions:
        orig[slot] = insn
        slot += insn.slots
    assert all(by_slot[s] == orig[s] for s in untouched)


def test_flavored_local_type_resolves_to_the_kernel_type() -> None:
    c = compile_core("flavor")
    res = results_by(c)
    pid_off = kmember("task_struct", "pid")[0] // 8
    r = res[("task_struct___old", "0:0", K.FIELD_BYTE_OFFSET)]
    assert r.value == pid_off
    assert r.target_type_id == kstruct("task_struct")[0]
    assert r.description.startswith("struct task_struct___old: field 'pid'")
    patched = apply_core(c.prog, c.btf, kernel_btf())
    ldx = [i for i in patched if i.cls == InsnClass.LDX]
    assert [i.off for i in ldx] == [pid_off]


@pytest.mark.parametrize("struct, field", [("sk_buff", "pkt_type"), ("sk_buff", "fclone"), ("task_struct", None)])
def test_bitfield_offset_size_and_shifts_extract_the_field(struct: str, field: str | None) -> None:
    task_field = find_task_bitfield()[0]
    field = field or task_field
    c = compile_core("bitfields", TASK_BITFIELD=task_field)
    res = results_by(c)
    bit_off, bits, _ = kmember(struct, field)
    assert bits, f"{struct}.{field} is not a bitfield in this kernel"
    local = [r for (name, _, _), r in res.items() if name == struct and f"'{field}'" in r.description]
    values = {r.relocation.relo_kind: r.value for r in local}
    assert set(values) == {K.FIELD_BYTE_OFFSET, K.FIELD_BYTE_SIZE, K.FIELD_EXISTS, K.FIELD_SIGNED,
                           K.FIELD_LSHIFT_U64, K.FIELD_RSHIFT_U64}
    assert values[K.FIELD_EXISTS] == 1
    assert values[K.FIELD_SIGNED] == 0
    assert values[K.FIELD_RSHIFT_U64] == 64 - bits
    assert values[K.FIELD_BYTE_SIZE] in (1, 2, 4, 8)
    size = kstruct(struct)[1].size
    assert values[K.FIELD_BYTE_OFFSET] + values[K.FIELD_BYTE_SIZE] <= size
    # simulate memory: every bit set except the field, which holds a pattern
    for pattern in (0, 1, (1 << bits) - 1, 0b10 & ((1 << bits) - 1)):
        whole = (1 << (size * 8)) - 1
        whole &= ~(((1 << bits) - 1) << bit_off)
        whole |= pattern << bit_off
        mem = whole.to_bytes(size, "little")
        assert extract(mem, values) == pattern


def test_enum_value_is_the_kernels() -> None:
    c = compile_core("enums")
    res = results_by(c)
    ringbuf = kenum("bpf_map_type", "BPF_MAP_TYPE_RINGBUF")
    r = res[("bpf_map_type", "0", K.ENUMVAL_VALUE)]
    assert (r.local_value, r.value) == (1, ringbuf)
    assert res[("bpf_map_type", "0", K.ENUMVAL_EXISTS)].value == 1
    missing = res[("bpf_map_type", "1", K.ENUMVAL_EXISTS)]
    assert (missing.value, missing.failed) == (0, True)
    patched = apply_core(c.prog, c.btf, kernel_btf())
    imms = [i.imm for i in patched if i.slots == 2]
    assert imms == [ringbuf, 1, 0]


def test_missing_field_is_an_error_naming_type_and_field() -> None:
    c = compile_core("missing")
    with pytest.raises(CORError) as info:
        apply_core(c.prog, c.btf, kernel_btf())
    msg = str(info.value)
    assert msg.startswith("1 CO-RE relocation(s) cannot be satisfied")
    assert "struct task_struct___x: field 'tgid_x' (access 0:2) not found in target" in msg
    assert "struct task_struct has no field 'tgid_x'" in msg
    assert "pid_x" not in msg  # its read is guarded by bpf_core_field_exists


def test_missing_field_non_strict_poisons_failed_loads() -> None:
    c = compile_core("missing")
    pid_off = kmember("task_struct", "pid")[0] // 8
    patched = apply_core(c.prog, c.btf, kernel_btf(), strict=False)
    kinds = {(r.access, r.relo_kind): r.insn_off for r in c.prog.core_relocations}
    assert patched[kinds[("0:1", K.FIELD_EXISTS)]].imm == 0  # the guard now skips the load
    for access in ("0:1", "0:2"):
        poisoned = patched[kinds[(access, K.FIELD_BYTE_OFFSET)]]
        assert poisoned.is_call and (poisoned.cls, poisoned.imm) == (InsnClass.JMP, POISON_IMM)
    assert patched[kinds[("0:0", K.FIELD_BYTE_OFFSET)]].off == pid_off


def test_guarded_accesses_load_in_strict_mode_poisoned() -> None:
    c = compile_core("guarded")
    pid_off = kmember("task_struct", "pid")[0] // 8
    patched = apply_core(c.prog, c.btf, kernel_btf())
    at = {(c.btf.name_of(r.type_id), r.access, r.relo_kind): r.insn_off for r in c.prog.core_relocations}
    assert patched[at[("task_struct___x", "0:1", K.FIELD_EXISTS)]].imm == 0
    assert patched[at[("no_such_struct", "0", K.TYPE_EXISTS)]].imm == 0
    for key in (("task_struct___x", "0:1", K.FIELD_BYTE_OFFSET), ("no_such_struct", "0:0", K.FIELD_BYTE_OFFSET)):
        assert patched[at[key]].imm == POISON_IMM and patched[at[key]].is_call
    why = poisoned_instructions(c.prog, c.btf, kernel_btf())
    assert set(why) == {at[("task_struct___x", "0:1", K.FIELD_BYTE_OFFSET)],
                        at[("no_such_struct", "0:0", K.FIELD_BYTE_OFFSET)]}
    assert "struct no_such_struct: field 'a' (access 0:0) not found in target" in why[
        at[("no_such_struct", "0:0", K.FIELD_BYTE_OFFSET)]]
    assert patched[at[("task_struct___x", "0:0", K.FIELD_BYTE_OFFSET)]].off == pid_off


def test_relocations_in_a_linked_subprogram_after_a_wide_load() -> None:
    c = compile_core("subprog")
    pid_off = kmember("task_struct", "pid")[0] // 8
    tgid_off = kmember("task_struct", "tgid")[0] // 8
    assert any(i.slots == 2 for i in c.prog.instructions)  # slots and list positions differ
    patched = apply_core(c.prog, c.btf, kernel_btf())
    slot_of = {}
    slot = 0
    for insn in patched:
        slot_of[slot] = insn
        slot += insn.slots
    got = {r.access: slot_of[r.insn_off] for r in c.prog.core_relocations}
    assert got["0:0"].cls == got["0:1"].cls == InsnClass.LDX
    assert (got["0:0"].off, got["0:1"].off) == (pid_off, tgid_off)
