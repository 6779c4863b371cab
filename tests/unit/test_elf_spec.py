"""ObjectSpec read from C fixtures compiled in the test session (tests/unit/progs_elf/*.c)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pybpf.cc
from pybpf import ObjectSpec
from pybpf.btf import Kind
from pybpf.enums import AttachType, MapFlags, MapType, PinType, ProgramFlags, ProgramType
from pybpf.isa.opcodes import CallSrc, PseudoSrc
from pybpf.spec import ExternKind, ProgramSpec, RelocationKind

PROGS = Path(__file__).parent / "progs_elf"


@pytest.fixture(scope="session")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fixture compiled once; the output is named after the source (map names use it)."""
    out_dir = tmp_path_factory.mktemp("progs_elf")
    return {
        src.stem: pybpf.cc.compile(src, output=out_dir / f"{src.stem}.o", include_dirs=[PROGS])
        for src in sorted(PROGS.glob("*.c"))
    }


@pytest.fixture(scope="session")
def specs(objects: dict[str, Path]) -> dict[str, ObjectSpec]:
    return {name: ObjectSpec.from_file(path) for name, path in objects.items()}


# --- programs and section names -----------------------------------------------------------

SECTION_CASES = [
    # program, type, expected attach type, attach target, sleepable
    ("p_tracepoint", ProgramType.TRACEPOINT, None, "syscalls/sys_enter_execve", False),
    ("p_tp", ProgramType.TRACEPOINT, None, "sched/sched_switch", False),
    ("p_raw_tp", ProgramType.RAW_TRACEPOINT, None, "sched_wakeup", False),
    ("p_raw_tracepoint", ProgramType.RAW_TRACEPOINT, None, "sched_process_exec", False),
    ("p_tp_btf", ProgramType.TRACING, AttachType.TRACE_RAW_TP, "sched_switch", False),
    ("p_fentry", ProgramType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat", False),
    ("p_fentry_s", ProgramType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat", True),
    ("p_fexit", ProgramType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat", False),
    ("p_fmod_ret", ProgramType.TRACING, AttachType.MODIFY_RETURN, "security_file_open", False),
    ("p_lsm", ProgramType.LSM, AttachType.LSM_MAC, "file_open", False),
    ("p_lsm_s", ProgramType.LSM, AttachType.LSM_MAC, "bprm_committed_creds", True),
    ("p_lsm_cgroup", ProgramType.LSM, AttachType.LSM_CGROUP, "socket_bind", False),
    ("p_kprobe", ProgramType.KPROBE, None, "do_sys_openat2", False),
    ("p_kretprobe", ProgramType.KPROBE, None, "do_sys_openat2", False),
    ("p_kprobe_multi", ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, "vfs_*", False),
    ("p_ksyscall", ProgramType.KPROBE, None, "openat", False),
    ("p_uprobe", ProgramType.KPROBE, None, "/bin/bash:readline", False),
    ("p_uprobe_s", ProgramType.KPROBE, None, "/usr/lib/libc.so.6:malloc+16", True),
    ("p_uprobe_multi", ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, "/usr/bin/python3:Py*", False),
    ("p_usdt", ProgramType.KPROBE, None, "/usr/lib/libc.so.6:libc:setjmp", False),
    ("p_perf_event", ProgramType.PERF_EVENT, None, "", False),
    ("p_xdp", ProgramType.XDP, AttachType.XDP, "", False),
    ("p_xdp_devmap", ProgramType.XDP, AttachType.XDP_DEVMAP, "", False),
    ("p_tc", ProgramType.SCHED_CLS, None, "", False),
    ("p_tc_ingress", ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, "", False),
    ("p_tcx_egress", ProgramType.SCHED_CLS, AttachType.TCX_EGRESS, "", False),
    ("p_classifier", ProgramType.SCHED_CLS, None, "", False),
    ("p_action", ProgramType.SCHED_ACT, None, "", False),
    ("p_cgroup_skb_egress", ProgramType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, "", False),
    ("p_cgroup_skb", ProgramType.CGROUP_SKB, None, "", False),
    ("p_sock_create", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, "", False),
    ("p_connect4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, "", False),
    ("p_sendmsg4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_SENDMSG, "", False),
    ("p_sysctl", ProgramType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL, "", False),
    ("p_getsockopt", ProgramType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT, "", False),
    ("p_cgroup_dev", ProgramType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE, "", False),
    ("p_sockops", ProgramType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, "", False),
    ("p_sk_skb_parser", ProgramType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER, "", False),
    ("p_sk_msg", ProgramType.SK_MSG, AttachType.SK_MSG_VERDICT, "", False),
    ("p_socket", ProgramType.SOCKET_FILTER, None, "", False),
    ("p_sk_lookup", ProgramType.SK_LOOKUP, AttachType.SK_LOOKUP, "", False),
    ("p_iter", ProgramType.TRACING, AttachType.TRACE_ITER, "task", False),
    ("p_iter_s", ProgramType.TRACING, AttachType.TRACE_ITER, "task_file", True),
    ("p_struct_ops", ProgramType.STRUCT_OPS, None, "tcp_init", False),
    ("p_syscall", ProgramType.SYSCALL, None, "", True),
    ("p_netfilter", ProgramType.NETFILTER, AttachType.NETFILTER, "", False),
    ("p_flow_dissector", ProgramType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR, "", False),
    ("p_lirc_mode2", ProgramType.LIRC_MODE2, AttachType.LIRC_MODE2, "", False),
    ("p_sk_reuseport", ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT, "", False),
    ("p_lwt_xmit", ProgramType.LWT_XMIT, None, "", False),
    ("p_freplace", ProgramType.EXT, None, "handler", False),
    ("p_unknown", ProgramType.UNSPEC, None, "", False),
]


@pytest.mark.parametrize("name,ptype,attach,target,sleepable", SECTION_CASES)
def test_program_type_and_target_from_section_name(
    specs: dict[str, ObjectSpec], name: str, ptype: ProgramType, attach: AttachType | None,
    target: str, sleepable: bool,
) -> None:
    prog = specs["sections"].programs[name]
    assert (prog.type, prog.expected_attach_type, prog.attach_to, prog.sleepable) == (
        ptype, attach, target, sleepable)


def test_xdp_frags_sets_program_flag(specs: dict[str, ObjectSpec]) -> None:
    progs = specs["sections"].programs
    assert progs["p_xdp_frags"].flags == ProgramFlags.XDP_HAS_FRAGS
    assert progs["p_xdp"].flags == 0


def test_two_programs_in_one_section_keep_their_own_code(specs: dict[str, ObjectSpec]) -> None:
    progs = specs["sections"].programs
    a, b = progs["p_read_a"], progs["p_read_b"]
    assert a.section == b.section == "kprobe/vfs_read"
    assert (a.section_offset, b.section_offset) == (0, 16)
    # "return 1" / "return 2": the immediate of the mov to r0
    assert [i.imm for i in a.instructions] == [1, 0] and [i.imm for i in b.instructions] == [2, 0]


def test_license_and_kernel_version(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["sections"]
    assert spec.license == "GPL"
    assert spec.kernel_version == 0x060C00
    assert spec.programs["p_xdp"].license == "GPL"
    assert spec.programs["p_xdp"].kernel_version == 0x060C00
    assert specs["maps"].license == "Dual MIT/GPL"


# --- subprograms ----------------------------------------------------------------------------


def _callees(spec: ObjectSpec, prog: ProgramSpec) -> list[str]:
    """Names of the functions each call / function address in ``prog`` lands on, in order."""
    assert spec.btf is not None
    starts = {fi.insn_off: spec.btf[fi.type_id].name for fi in prog.func_info}
    out = []
    slot = 0
    for insn in prog.instructions:
        if (insn.is_call and insn.src == CallSrc.CALL) or (insn.is_ld_imm64 and insn.src == PseudoSrc.FUNC):
            target = slot + insn.imm + 1
            assert target in starts, f"call at {slot} lands on {target}, not a function start"
            out.append(starts[target])
        slot += insn.slots
    return out


def test_calls_resolve_to_the_right_functions(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["subprogs"]
    progs = spec.programs
    assert _callees(spec, progs["uses_middle"]) == ["middle", "other", "leaf", "leaf"]
    assert _callees(spec, progs["uses_leaf"]) == ["leaf"]
    assert _callees(spec, progs["uses_global"]) == ["global_sub", "middle", "other", "leaf", "leaf"]
    assert _callees(spec, progs["no_calls"]) == []


def test_shared_subprograms_are_appended_once_per_program(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["subprogs"]
    assert spec.btf is not None
    for name, funcs in {
        "uses_middle": ["uses_middle", "middle", "other", "leaf"],
        "uses_leaf": ["uses_leaf", "leaf"],
        "uses_global": ["uses_global", "global_sub", "middle", "other", "leaf"],
        "no_calls": ["no_calls"],
    }.items():
        prog = spec.programs[name]
        assert [spec.btf[fi.type_id].name for fi in prog.func_info] == funcs
        assert prog.func_info[0].insn_off == 0
    # .text functions are never programs of their own
    assert set(spec.programs) == {"uses_middle", "uses_leaf", "uses_global", "uses_loop", "no_calls"}


def test_appended_subprogram_code_is_the_functions_code(specs: dict[str, ObjectSpec], objects: dict[str, Path]) -> None:
    """leaf() appended to uses_leaf is leaf()'s own instructions from .text."""
    from pybpf.elf.reader import ElfObject
    from pybpf.isa import decode

    spec = specs["subprogs"]
    obj = ElfObject(objects["subprogs"].read_bytes(), "subprogs.o")
    leaf = next(s for s in obj.symbols if s.name == "leaf")
    text = obj.sections[".text"].data
    leaf_code = decode(text[leaf.value:leaf.value + leaf.size])
    prog = spec.programs["uses_leaf"]
    start = prog.func_info[1].insn_off
    assert prog.instructions[start:] == leaf_code  # index == slot: no ld_imm64 in this program


def test_bpf_loop_callback_becomes_pseudo_func(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["subprogs"]
    prog = spec.programs["uses_loop"]
    assert _callees(spec, prog) == ["loop_cb"]
    ld = [i for i in prog.instructions if i.is_ld_imm64 and i.src == PseudoSrc.FUNC]
    assert len(ld) == 1
    # the callback's own global-data access is relocated at its new place
    (reloc,) = prog.relocations
    assert reloc.kind == RelocationKind.MAP_VALUE and reloc.symbol == "subprogs.bss"
    assert reloc.insn_index >= prog.func_info[1].insn_off


def test_line_info_follows_appended_functions(specs: dict[str, ObjectSpec]) -> None:
    prog = specs["subprogs"].programs["uses_leaf"]
    leaf_start = prog.func_info[1].insn_off
    leaf_lines = [li for li in prog.line_info if li.insn_off >= leaf_start]
    assert leaf_lines and all("leaf" in li.line_text or "return" in li.line_text for li in leaf_lines)
    assert leaf_lines[0].insn_off == leaf_start


# --- maps -------------------------------------------------------------------------------------


def test_btf_map_fields(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["maps"]
    assert spec.btf is not None
    flows = spec.maps["flows"]
    assert (flows.type, flows.key_size, flows.value_size, flows.max_entries, flows.flags) == (
        MapType.HASH, 4, 24, 1024, MapFlags.NO_PREALLOC)
    assert spec.btf.name_of(flows.value_type_id) == "value"
    assert spec.btf.name_of(flows.key_type_id) == "u32"
    sized = spec.maps["sized"]
    assert (sized.type, sized.key_size, sized.value_size, sized.max_entries) == (MapType.ARRAY, 4, 24, 16)
    assert (sized.pinning, sized.numa_node, sized.flags) == (PinType.BY_NAME, 1, MapFlags.NUMA_NODE)
    assert sized.key_type_id == sized.value_type_id == 0
    events = spec.maps["events"]
    assert (events.type, events.key_size, events.value_size, events.max_entries) == (MapType.RINGBUF, 0, 0, 1 << 16)
    bloom = spec.maps["bloom"]
    assert (bloom.type, bloom.value_size, bloom.map_extra) == (MapType.BLOOM_FILTER, 8, 5)


def test_map_in_map_inner_spec_and_initial_slots(specs: dict[str, ObjectSpec]) -> None:
    maps = specs["maps"].maps
    outer = maps["outer"]
    assert (outer.type, outer.key_size, outer.value_size, outer.max_entries) == (MapType.ARRAY_OF_MAPS, 4, 4, 8)
    assert outer.inner_map is not None
    inner = outer.inner_map
    assert (inner.type, inner.key_size, inner.value_size, inner.max_entries) == (MapType.ARRAY, 4, 8, 4)
    assert outer.contents == {2: "inner_a", 5: "inner_b"}
    anon = maps["outer_hash"].inner_map
    assert anon is not None
    assert (anon.type, anon.key_size, anon.value_size, anon.max_entries) == (MapType.HASH, 8, 4, 32)
    assert maps["outer_hash"].contents == {}


def test_prog_array_initial_programs(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["maps"]
    jumps = spec.maps["jumps"]
    assert (jumps.type, jumps.key_size, jumps.value_size, jumps.max_entries) == (MapType.PROG_ARRAY, 4, 4, 4)
    assert jumps.contents == {0: "tail_one", 3: "tail_two"}
    assert jumps.inner_map is None


def test_map_references_are_map_fd_relocations(specs: dict[str, ObjectSpec]) -> None:
    prog = specs["maps"].programs["entry"]
    relocs = [(r.kind, r.symbol) for r in prog.relocations]
    assert relocs == [(RelocationKind.MAP_FD, "flows"), (RelocationKind.MAP_FD, "outer"),
                      (RelocationKind.MAP_FD, "sized"), (RelocationKind.MAP_FD, "jumps")]
    slots = _slot_map(prog)
    for r in prog.relocations:
        insn = slots[r.insn_index]
        assert insn.is_ld_imm64 and insn.src == PseudoSrc.MAP_FD and insn.imm == 0


def test_legacy_maps_section(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["legacy_maps"]
    counts, table = spec.maps["counts"], spec.maps["table"]
    assert (counts.type, counts.key_size, counts.value_size, counts.max_entries, counts.flags) == (
        MapType.HASH, 4, 8, 256, MapFlags.NO_PREALLOC)
    assert (table.type, table.key_size, table.value_size, table.max_entries) == (MapType.ARRAY, 4, 64, 10)
    assert counts.section == "maps"
    assert [(r.kind, r.symbol) for r in spec.programs["legacy"].relocations] == [
        (RelocationKind.MAP_FD, "table"), (RelocationKind.MAP_FD, "counts")]


# --- global data and externs ------------------------------------------------------------------


def _slot_map(prog: ProgramSpec) -> dict:  # type: ignore[type-arg]
    out = {}
    slot = 0
    for insn in prog.instructions:
        out[slot] = insn
        slot += insn.slots
    return out


def test_global_data_maps(specs: dict[str, ObjectSpec]) -> None:
    maps = specs["globals"].maps
    ro = maps["globals.rodata"]
    assert (ro.type, ro.key_size, ro.max_entries, ro.section, ro.freeze) == (MapType.ARRAY, 4, 1, ".rodata", True)
    assert ro.value_size == len(ro.data or b"") == 32
    assert ro.data is not None
    assert struct.unpack_from("<I", ro.data, 0)[0] == 1000
    assert struct.unpack_from("<Q", ro.data, 8)[0] == 0x1122334455667788
    assert bytes(ro.data[16:21]) == b"bash\0"
    data = maps["globals.data"]
    assert data.freeze is False and data.data is not None
    assert struct.unpack_from("<I4Q", data.data, 0)[0] == 42
    assert list(struct.unpack_from("<4Q", data.data, 8)) == [1, 2, 3, 4]
    bss = maps["globals.bss"]
    assert bss.data == bytearray(40)
    assert maps[".data.custom"].data == bytearray(struct.pack("<I", 0xDEADBEEF))
    assert maps[".rodata.custom"].freeze is True


def test_variables_and_rodata_access(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["globals"].copy()
    v = spec.variables
    assert (v["min_us"].map_name, v["min_us"].offset, v["min_us"].size) == ("globals.rodata", 0, 4)
    assert (v["target_pid"].offset, v["comm"].offset) == (8, 16)
    assert (v["hits"].map_name, v["hits"].offset, v["hits"].size) == ("globals.data", 8, 32)
    assert (v["more_zero"].map_name, v["more_zero"].offset) == ("globals.bss", 8)
    assert spec.rodata["min_us"] == 1000
    spec.rodata["min_us"] = 250
    ro = spec.maps["globals.rodata"].data
    assert ro is not None and struct.unpack_from("<I", ro, 0)[0] == 250
    assert specs["globals"].rodata["min_us"] == 1000  # the copy is independent
    assert spec.data["counter"] == 42
    assert spec.data["hits"] == [1, 2, 3, 4]


def test_global_data_references_are_map_value_relocations(specs: dict[str, ObjectSpec]) -> None:
    prog = specs["globals"].programs["use_globals"]
    spec = specs["globals"]
    slots = _slot_map(prog)
    found = set()
    for r in prog.relocations:
        insn = slots[r.insn_index]
        if r.kind == RelocationKind.MAP_VALUE:
            assert insn.src == PseudoSrc.MAP_VALUE and insn.imm >> 32 == r.offset
            found.add((r.symbol, r.offset))
    assert {m for m, _ in found} == {"globals.rodata", "globals.data", "globals.bss", ".data.custom",
                                     ".rodata.custom"}
    for map_name, offset in found:
        assert 0 <= offset < spec.maps[map_name].value_size
    # min_us is the first .rodata variable: the program loads it through offset 0
    assert ("globals.rodata", spec.variables["min_us"].offset) in found


def test_externs(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["globals"]
    assert spec.btf is not None
    ext = spec.externs
    assert {n: e.kind for n, e in ext.items()} == {
        "LINUX_KERNEL_VERSION": ExternKind.KCONFIG, "CONFIG_HZ": ExternKind.KCONFIG,
        "CONFIG_BPF_SYSCALL": ExternKind.KCONFIG, "bpf_prog_active": ExternKind.KSYM,
        "bpf_rcu_read_lock": ExternKind.KFUNC, "bpf_rcu_read_unlock": ExternKind.KFUNC,
    }
    assert ext["CONFIG_HZ"].weak and not ext["LINUX_KERNEL_VERSION"].weak
    assert spec.btf[ext["bpf_rcu_read_lock"].type_id].kind == Kind.FUNC
    # kconfig layout: 4-byte values first, then the 1-byte bool; no overlap
    sizes = {n: (ext[n].offset, ext[n].size) for n in ("LINUX_KERNEL_VERSION", "CONFIG_HZ", "CONFIG_BPF_SYSCALL")}
    assert sizes["CONFIG_BPF_SYSCALL"] == (8, 1)
    assert sorted(o for o, _ in sizes.values()) == [0, 4, 8]
    kmap = spec.maps["globals.kconfig"]
    assert (kmap.value_size, kmap.freeze, kmap.section) == (9, True, ".kconfig")


def test_extern_references_are_relocated(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["globals"]
    prog = spec.programs["use_globals"]
    slots = _slot_map(prog)
    by_kind: dict[RelocationKind, list[str]] = {}
    for r in prog.relocations:
        by_kind.setdefault(r.kind, []).append(r.symbol)
        insn = slots[r.insn_index]
        if r.kind == RelocationKind.KFUNC:
            assert insn.is_call and insn.src == CallSrc.KFUNC
        if r.kind == RelocationKind.KCONFIG:
            assert r.offset == spec.externs[r.symbol].offset and insn.imm >> 32 == r.offset
    assert by_kind[RelocationKind.KFUNC] == ["bpf_rcu_read_lock", "bpf_rcu_read_unlock"]
    assert by_kind[RelocationKind.KSYM] == ["bpf_prog_active"]
    assert sorted(by_kind[RelocationKind.KCONFIG]) == ["CONFIG_BPF_SYSCALL", "CONFIG_HZ", "LINUX_KERNEL_VERSION"]


def test_btf_datasecs_are_fixed_up(specs: dict[str, ObjectSpec]) -> None:
    """clang leaves DATASEC sizes and offsets 0; the spec's BTF has the real ones."""
    from pybpf.btf import Datasec

    btf = specs["globals"].btf
    assert btf is not None
    rodata = btf[btf.find_one(".rodata", Kind.DATASEC)]
    assert isinstance(rodata, Datasec)
    assert rodata.size == 32
    assert [v.offset for v in rodata.vars] == [0, 8, 16]


def test_map_names_follow_libbpf_convention() -> None:
    from pybpf.elf.data import internal_map_name, object_name

    assert object_name("/x/my_prog.bpf.o") == "my_prog"
    assert internal_map_name("globals", ".rodata") == "globals.rodata"
    assert internal_map_name("a_very_long_object", ".rodata") == "a_very_l.rodata"
    assert internal_map_name("a_very_long_object", ".kconfig") == "a_very_.kconfig"
    assert internal_map_name("obj", ".data.custom") == ".data.custom"
    assert internal_map_name("obj", ".rodata.str1.1") == ".rodata.str1.1"
    assert internal_map_name("obj", ".data.a_very_long_name") == ".data.a_very_lo"
    assert internal_map_name("my-obj", ".bss") == "my_obj.bss"


# --- CO-RE --------------------------------------------------------------------------------------


def test_core_relocations_follow_their_instructions(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["core"]
    assert spec.btf is not None
    prog = spec.programs["on_fork"]
    task = spec.btf.find_one("task_struct", Kind.STRUCT)
    assert {r.type_id for r in prog.core_relocations} == {task}
    slots = _slot_map(prog)
    members = {"0:0": 0, "0:1": 4, "0:2": 8}  # pid, tgid, real_parent as clang compiled them
    for r in prog.core_relocations:
        insn = slots[r.insn_off]
        assert insn.off == members[r.access], (r, insn)
    sub = prog.func_info[1].insn_off
    # parent_tgid's two field reads were carried to where it is appended
    assert sorted(r.access for r in prog.core_relocations if r.insn_off >= sub) == ["0:1", "0:2"]
    assert sorted(r.access for r in prog.core_relocations if r.insn_off < sub) == ["0:0", "0:1"]


def test_static_local_in_rodata(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["core"]
    (var,) = spec.variables.values()
    data = spec.maps[var.map_name].data
    assert data is not None
    assert bytes(data[var.offset:var.offset + var.size]) == b"pid %d\n\0"


# --- static maps, string literals, cpu versions, BTF fix-up --------------------------------------


def test_static_maps_through_section_symbol(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["misc"]
    assert {n: (m.type, m.key_size, m.max_entries) for n, m in spec.maps.items() if m.section == ".maps"} == {
        "first": (MapType.ARRAY, 4, 2), "second": (MapType.HASH, 8, 8)}
    fd_relocs = {p.name: [r.symbol for r in p.relocations if r.kind == RelocationKind.MAP_FD]
                 for p in spec.programs.values()}
    assert fd_relocs == {"uses_second": ["second"], "uses_first": ["first"]}


def test_string_literals_become_a_rodata_map(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["misc"]
    strings = spec.maps[".rodata.str1.1"]
    assert strings.freeze and strings.data is not None
    for prog, text in (("uses_second", b"hello %d\n\0"), ("uses_first", b"world\n\0")):
        (r,) = [r for r in spec.programs[prog].relocations if r.kind == RelocationKind.MAP_VALUE]
        assert r.symbol == ".rodata.str1.1"
        assert bytes(strings.data[r.offset:r.offset + len(text)]) == text


@pytest.mark.parametrize("cpu", ["v1", "v2", "v3", "v4"])
def test_cpu_versions_give_the_same_structure(specs: dict[str, ObjectSpec], tmp_path: Path, cpu: str) -> None:
    """Instructions differ between -mcpu versions; programs, calls and relocations do not."""
    for name in ("subprogs", "maps", "globals"):
        path = pybpf.cc.compile(PROGS / f"{name}.c", output=tmp_path / f"{name}.o", include_dirs=[PROGS],
                                cflags=[f"-mcpu={cpu}"])
        spec = ObjectSpec.from_file(path)
        base = specs[name]
        assert set(spec.programs) == set(base.programs)
        for pname, prog in spec.programs.items():
            assert sorted((r.kind.value, r.symbol) for r in prog.relocations) == \
                   sorted((r.kind.value, r.symbol) for r in base.programs[pname].relocations)
            assert _callees(spec, prog) == _callees(base, base.programs[pname])
        assert {n: (m.type, m.key_size, m.value_size, m.max_entries) for n, m in spec.maps.items()} == \
               {n: (m.type, m.key_size, m.value_size, m.max_entries) for n, m in base.maps.items()}


def test_btf_fixup_changes_only_datasecs(objects: dict[str, Path], specs: dict[str, ObjectSpec]) -> None:
    from pybpf.btf import BTF
    from pybpf.elf.reader import ElfObject

    for name in ("globals", "maps", "core"):
        raw = BTF.from_bytes(ElfObject(objects[name].read_bytes(), name).sections[".BTF"].data)
        fixed = specs[name].btf
        assert fixed is not None and len(fixed) == len(raw)
        for tid, t in raw.types():
            if t.kind != Kind.DATASEC:
                assert fixed[tid] == t, tid
            else:
                assert fixed[tid].name == t.name  # type: ignore[union-attr]


# --- struct_ops ---------------------------------------------------------------------------------


def test_struct_ops_maps(specs: dict[str, ObjectSpec]) -> None:
    spec = specs["struct_ops"]
    assert spec.btf is not None
    cc, link = spec.maps["my_cc"], spec.maps["my_cc_link"]
    for m in (cc, link):
        assert (m.type, m.key_size, m.value_size, m.max_entries) == (MapType.STRUCT_OPS, 4, 48, 1)
        assert spec.btf.name_of(m.value_type_id) == "tcp_congestion_ops"
        assert m.data is not None
    assert (cc.flags, link.flags) == (MapFlags.NONE, MapFlags.LINK)
    assert cc.struct_ops_programs == {"init": "my_init", "ssthresh": "my_ssthresh"}
    assert link.struct_ops_programs == {"init": "my_init"}
    assert cc.data is not None and link.data is not None
    assert struct.unpack_from("<I", cc.data, 24)[0] == 3  # .flags
    assert bytes(cc.data[28:33]) == b"mycc\0" and bytes(link.data[28:34]) == b"mycc2\0"
    assert spec.programs["my_init"].type == ProgramType.STRUCT_OPS
    assert spec.programs["my_init"].attach_to == "my_init"
    assert spec.programs["my_ssthresh"].attach_to == ""
