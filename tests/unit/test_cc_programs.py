"""Programs written for libbpf's headers compile unchanged against pybpf's own headers.

Each sample under progs_cc/ is compiled (with the vmlinux.h generated from the running
kernel's BTF) and the object is checked: its sections, the helper ids it calls, its map
relocations, the context offsets it reads, and its CO-RE relocations (kind numbers of
enum bpf_core_relo_kind), which are also resolved against the kernel BTF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

import pybpf.cc
from pybpf.btf import BTF
from pybpf.btf.ext import BTFExt
from pybpf.btf.types import CoreRelocKind

PROGS = Path(__file__).parent / "progs_cc"
ARM64 = ["-U__TARGET_ARCH_x86", "-D__TARGET_ARCH_arm64"]

# helper ids, from enum bpf_func_id in include/uapi/linux/bpf.h
MAP_LOOKUP, MAP_UPDATE, TRACE_PRINTK, TAIL_CALL = 1, 2, 6, 12
GET_PID_TGID, GET_COMM, GET_TASK = 14, 16, 35
PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR = 113, 115
RINGBUF_RESERVE, RINGBUF_SUBMIT, TRACE_VPRINTK = 131, 132, 177

CALL, LD_IMM64, LDX_DW, MOV64_REG = 0x85, 0x18, 0x79, 0xBF
WRITES_DST = {0x00, 0x01, 0x04, 0x07}  # instruction classes LD, LDX, ALU, ALU64


@dataclass
class Insn:
    opcode: int
    dst: int
    src: int
    off: int
    imm: int


@dataclass
class Obj:
    path: Path
    sections: dict[str, bytes]
    relocs: dict[str, list[str]]  # section -> symbol names relocated in it
    core: dict[str, list[tuple[str, str, CoreRelocKind]]] = field(default_factory=dict)
    btf: BTF | None = None

    def insns(self, section: str) -> list[Insn]:
        code = self.sections[section]
        out, i = [], 0
        while i < len(code):
            op, regs, off, imm = struct.unpack_from("<BBhi", code, i)
            out.append(Insn(op, regs & 0xF, regs >> 4, off, imm))
            i += 16 if op == LD_IMM64 else 8
        return out

    def helper_calls(self, section: str) -> list[int]:
        return [i.imm for i in self.insns(section) if i.opcode == CALL and i.src == 0]

    def ctx_loads(self, section: str) -> list[int]:
        """Offsets of 64-bit loads through the context pointer (r1 on entry, and its copies).

        A straight-line scan: a register stops holding ctx when written, and calls clobber
        r0-r5. Good enough for the small programs here.
        """
        out: list[int] = []
        ctx = {1}
        for i in self.insns(section):
            cls = i.opcode & 0x07
            if i.opcode == LDX_DW and i.src in ctx:
                out.append(i.off)
            if i.opcode == MOV64_REG:
                (ctx.add if i.src in ctx else ctx.discard)(i.dst)
            elif i.opcode == CALL:
                ctx -= {0, 1, 2, 3, 4, 5}
            elif cls in WRITES_DST:
                ctx.discard(i.dst)
        return out


def load(path: Path) -> Obj:
    with path.open("rb") as f:
        elf = ELFFile(f)
        sections = {s.name: s.data() for s in elf.iter_sections() if s.name}
        symtab = elf.get_section_by_name(".symtab")
        relocs: dict[str, list[str]] = {}
        for sec in elf.iter_sections():
            if isinstance(sec, RelocationSection):
                target = elf.get_section(sec["sh_info"]).name
                names = []
                for r in sec.iter_relocations():
                    sym = symtab.get_symbol(r["r_info_sym"])
                    names.append(sym.name or elf.get_section(sym["st_shndx"]).name)
                relocs[target] = names
    obj = Obj(path, sections, relocs)
    if ".BTF" in sections:
        obj.btf = BTF.from_bytes(sections[".BTF"])
        if ".BTF.ext" in sections:
            ext = BTFExt.from_bytes(sections[".BTF.ext"], obj.btf)
            obj.core = {
                sec: [(obj.btf.name_of(r.type_id), r.access, r.relo_kind) for r in rs]
                for sec, rs in ext.core_relocations.items()
            }
    return obj


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pybpf-cache")


@pytest.fixture(autouse=True)
def _cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(cache_root))


def build(name: str, *cflags: str) -> Obj:
    return load(pybpf.cc.compile(PROGS / name, cflags=["-Wall", "-Werror", *cflags]))


def field_names(obj: Obj, section: str, kind: CoreRelocKind) -> set[str]:
    """`type:access` of each CO-RE relocation of `kind` in `section`."""
    return {f"{t}:{a}" for t, a, k in obj.core.get(section, []) if k is kind}


def core_field(obj: Obj, type_name: str, member: str) -> str:
    """The access string clang writes for `type_name.member` (0:<member index>)."""
    assert obj.btf is not None
    struct_t = obj.btf[obj.btf.find_one(type_name)]
    index = [m.name for m in struct_t.members].index(member)
    return f"{type_name}:0:{index}"


def test_tracepoint_counter_with_hash_map_and_ringbuf() -> None:
    obj = build("tp_counter.bpf.c")
    sec = "tracepoint/syscalls/sys_enter_execve"
    assert {sec, ".maps", "license", ".rodata", ".BTF", ".BTF.ext"} <= set(obj.sections)
    assert obj.sections["license"] == b"GPL\0"
    assert set(obj.helper_calls(sec)) == {GET_PID_TGID, MAP_LOOKUP, MAP_UPDATE, RINGBUF_RESERVE, GET_COMM, RINGBUF_SUBMIT}
    assert {"counts", "rb"} <= set(obj.relocs[sec])
    assert "filter_pid" in obj.relocs[sec] or ".rodata" in obj.relocs[sec]


def test_kprobe_with_core_read_of_real_parent_tgid() -> None:
    obj = build("kprobe_core.bpf.c")
    entry, ret = "kprobe/do_unlinkat", "kretprobe/do_unlinkat"
    assert {entry, ret} <= set(obj.sections)
    calls = obj.helper_calls(entry)
    assert {GET_TASK, GET_PID_TGID, RINGBUF_RESERVE, PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR, RINGBUF_SUBMIT} <= set(calls)
    assert TRACE_PRINTK in calls  # 3 arguments: bpf_trace_printk
    assert "events" in obj.relocs[entry]
    offsets = field_names(obj, entry, CoreRelocKind.FIELD_BYTE_OFFSET)
    for member in ("real_parent", "tgid", "comm"):
        assert core_field(obj, "task_struct", member) in offsets
    assert core_field(obj, "filename", "name") in offsets
    # BPF_KPROBE(do_unlinkat, int dfd, struct filename *name): di (0x70) and si (0x68) of pt_regs
    assert sorted(obj.ctx_loads(entry)) == [0x68, 0x70]
    # BPF_KRETPROBE(..., long ret): ax (0x50)
    assert obj.ctx_loads(ret) == [0x50]
    assert obj.helper_calls(ret) == [GET_PID_TGID, TRACE_PRINTK]


def test_xdp_with_endian_helpers_and_bounds_checks() -> None:
    obj = build("xdp_parse.bpf.c")
    insns = obj.insns("xdp")
    assert obj.helper_calls("xdp") == [MAP_LOOKUP]
    assert obj.relocs["xdp"] == ["proto_count"]
    # bpf_htons(ETH_P_IP) folded to the constant 0x0008 in the comparison
    assert any(i.opcode & 0x07 in (0x05, 0x06) and i.imm == 0x0008 for i in insns)
    # bpf_ntohs(ip->tot_len) is a byte swap (BPF_END to big endian, or cpu v4 bswap)
    assert any(i.opcode in (0xDC, 0xD7) and i.imm == 16 for i in insns)
    # bpf_ntohl(ip->daddr) == 0x7f000001 folded to a compare with the swapped constant
    assert any(i.imm == 0x0100007F for i in insns)
    assert insns[-1].opcode == 0x95  # exit


def test_uprobe_arguments_come_from_the_calling_convention() -> None:
    obj = build("uprobe.bpf.c")
    assert {"uprobe", "uretprobe", "uprobe//proc/self/exe:uprobed_sub"} <= set(obj.sections)
    assert sorted(obj.ctx_loads("uprobe")) == [0x68, 0x70]  # di, si
    assert obj.ctx_loads("uretprobe") == [0x50]  # ax
    # six arguments: di si dx cx r8 r9; 6 values -> bpf_trace_vprintk
    assert sorted(obj.ctx_loads("uprobe//proc/self/exe:uprobed_sub")) == [0x40, 0x48, 0x58, 0x60, 0x68, 0x70]
    assert obj.helper_calls("uprobe//proc/self/exe:uprobed_sub") == [TRACE_VPRINTK]


def test_uprobe_arguments_on_arm64() -> None:
    obj = build("uprobe.bpf.c", *ARM64)
    assert sorted(obj.ctx_loads("uprobe//proc/self/exe:uprobed_sub")) == [0, 8, 16, 24, 32, 40]  # x0..x5
    assert obj.ctx_loads("uretprobe") == [0]  # x0


def test_ksyscall_reads_the_wrapped_pt_regs_with_core() -> None:
    obj = build("ksyscall.bpf.c")
    assert {"ksyscall/tgkill", "ksyscall/kill", "kretsyscall/kill"} <= set(obj.sections)
    # the wrapper's only argument (di) is the user's pt_regs ...
    assert obj.ctx_loads("ksyscall/tgkill") == [0x70]
    # ... whose di, si, dx are read with CO-RE relocations against struct pt_regs
    relos = obj.core["ksyscall/tgkill"]
    assert {(t.split("___")[0], k) for t, _, k in relos} == {("pt_regs", CoreRelocKind.FIELD_BYTE_OFFSET)}
    assert len(relos) == 3
    assert PROBE_READ_KERNEL in obj.helper_calls("ksyscall/tgkill")
    assert TRACE_VPRINTK in obj.helper_calls("ksyscall/tgkill")  # 5 arguments


def test_ksyscall_register_relocations_resolve_against_the_kernel() -> None:
    from pybpf.btf import kernel_btf
    from pybpf.btf.core import resolve_relocation

    path = pybpf.cc.compile(PROGS / "ksyscall.bpf.c")
    sections = load(path).sections
    local = BTF.from_bytes(sections[".BTF"])
    ext = BTFExt.from_bytes(sections[".BTF.ext"], local)
    target = kernel_btf()
    pt_regs = target[target.find_one("pt_regs")]
    kernel_offsets = {m.name: m.byte_offset for m in pt_regs.members}
    got = [resolve_relocation(local, target, r).value for r in ext.core_relocations["ksyscall/tgkill"]]
    # syscall arguments 1..3: di, si, dx
    assert got == [kernel_offsets["di"], kernel_offsets["si"], kernel_offsets["dx"]]


def test_ksyscall_on_arm64_reads_orig_x0_for_the_first_argument() -> None:
    obj = build("ksyscall.bpf.c", *ARM64)
    accesses = [(t, a) for t, a, _ in obj.core["ksyscall/kill"]]
    assert accesses[0][0] == "pt_regs___pb_arm64"  # orig_x0
    assert [t for t, _ in accesses[1:]] == ["user_pt_regs___pb_arm64"]  # regs[1]
    assert accesses[1][1] == "0:0:1"


def test_bitfield_and_core_queries_emit_the_right_relocation_kinds() -> None:
    obj = build("bitfield.bpf.c")
    kinds = {(t, k) for t, _, k in obj.core["kprobe/schedule"]}
    for kind in (
        CoreRelocKind.FIELD_BYTE_OFFSET,
        CoreRelocKind.FIELD_BYTE_SIZE,
        CoreRelocKind.FIELD_LSHIFT_U64,
        CoreRelocKind.FIELD_RSHIFT_U64,
        CoreRelocKind.FIELD_SIGNED,
    ):
        assert ("task_struct", kind) in kinds
    assert ("task_struct___old", CoreRelocKind.FIELD_EXISTS) in kinds
    assert ("bpf_map_type", CoreRelocKind.ENUMVAL_EXISTS) in kinds
    assert ("bpf_map_type", CoreRelocKind.ENUMVAL_VALUE) in kinds
    assert ("task_struct", CoreRelocKind.TYPE_EXISTS) in kinds
    assert ("task_struct", CoreRelocKind.TYPE_SIZE) in kinds
    iowait = core_field(obj, "task_struct", "in_iowait")
    assert iowait in field_names(obj, "kprobe/schedule", CoreRelocKind.FIELD_LSHIFT_U64)
    # BPF_CORE_READ_BITFIELD_PROBED reads with bpf_probe_read_kernel
    assert PROBE_READ_KERNEL in obj.helper_calls("kprobe/schedule")
    # BPF_PROG on tp_btf: direct loads, no helper; type_matches relocation
    tp = obj.core["tp_btf/sched_switch"]
    assert ("task_struct", CoreRelocKind.TYPE_MATCHES) in {(t, k) for t, _, k in tp}
    assert obj.helper_calls("tp_btf/sched_switch") == []


@pytest.mark.parametrize("name", sorted(p.name for p in PROGS.glob("*.bpf.c")))
def test_every_sample_compiles_for_arm64_too(name: str) -> None:
    obj = build(name, *ARM64)
    assert any(s not in (".text",) and obj.insns(s) for s in obj.sections if "/" in s or s == "xdp")


def test_kprobe_with_eight_arguments() -> None:
    x86 = build("many_args.bpf.c")
    # six register arguments, then two read from the stack above the return address
    assert sorted(x86.ctx_loads("kprobe/eight"))[:6] == [0x40, 0x48, 0x58, 0x60, 0x68, 0x70]
    assert x86.helper_calls("kprobe/eight").count(PROBE_READ_KERNEL) == 2
    arm = build("many_args.bpf.c", *ARM64)
    assert sorted(arm.ctx_loads("kprobe/eight")) == [0, 8, 16, 24, 32, 40, 48, 56]  # x0..x7
    assert arm.helper_calls("kprobe/eight") == []


def test_probe_read_chain_has_no_core_relocations() -> None:
    obj = build("many_args.bpf.c")
    assert obj.helper_calls("uprobe") == [PROBE_READ_KERNEL] * 3
    assert "uprobe" not in obj.core


def test_core_cast_calls_the_rdonly_cast_kfunc_with_the_kernel_type_id() -> None:
    obj = build("many_args.bpf.c")
    sec = "fentry/do_nanosleep"
    # an extern function: a pseudo call (src 1, imm -1) relocated against the kfunc's name
    extern_calls = [i for i in obj.insns(sec) if i.opcode == CALL and i.src == 1 and i.imm == -1]
    assert len(extern_calls) == 1
    assert "bpf_rdonly_cast" in obj.relocs[sec]
    kinds = {(t, k) for t, _, k in obj.core[sec]}
    assert ("task_struct", CoreRelocKind.TYPE_ID_TARGET) in kinds


def test_bpf_prog_arguments_are_ctx_slots() -> None:
    obj = build("bitfield.bpf.c")
    # BPF_PROG(on_switch, bool preempt, struct task_struct *prev, ...): prev is ctx[1]
    assert obj.ctx_loads("tp_btf/sched_switch") == [8]
