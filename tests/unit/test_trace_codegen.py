"""Code generation of bpftrace programs: typed AST -> LLVM IR -> BPF ELF -> ObjectSpec.

No kernel needed: tracepoint formats come from a stand-in ``Env``; the object is checked as
data (program types, sections, maps and their layout, event records, the instructions LLVM
produced, the ELF ``pybpf.elf`` reads back).
"""

from __future__ import annotations

import pytest

from pybpf.enums import MapType, ProgramType
from pybpf.isa import HELPER_IDS
from pybpf.trace.codegen import CodegenError, CompiledScript, compile_script
from pybpf.trace.semantic import Env
from pybpf.trace.semantic.model import EventKind
from pybpf.trace.types import AggKind, StringType
from pybpf.tracefs import FormatField, TracepointFormat

OPENAT = TracepointFormat("sys_enter_openat", 1, (
    FormatField("unsigned short common_type", "common_type", 0, 2, False),
    FormatField("unsigned char common_flags", "common_flags", 2, 1, False),
    FormatField("unsigned char common_preempt_count", "common_preempt_count", 3, 1, False),
    FormatField("int common_pid", "common_pid", 4, 4, True),
    FormatField("int __syscall_nr", "__syscall_nr", 8, 4, True),
    FormatField("int dfd", "dfd", 16, 8, False),
    FormatField("const char * filename", "filename", 24, 8, False),
    FormatField("int flags", "flags", 32, 8, False),
    FormatField("umode_t mode", "mode", 40, 8, False),
), "")
EXIT_READ = TracepointFormat("sys_exit_read", 2, OPENAT.fields[:5] + (
    FormatField("long ret", "ret", 16, 8, True),), "")
FORMATS = {("syscalls", "sys_enter_openat"): OPENAT, ("syscalls", "sys_exit_read"): EXIT_READ}


def env(**kw: object) -> Env:
    return Env(btf=None, tracepoint_format=lambda c, n: FORMATS[(c, n)],
               tracepoints=lambda: list(FORMATS), **kw)  # type: ignore[arg-type]


def compile_(text: str, **kw: object) -> CompiledScript:
    return compile_script(text, env=env(**kw))


def helpers_called(cs: CompiledScript, program: str) -> list[str]:
    names = {v: k for k, v in HELPER_IDS.items()}
    return [names.get(i.imm, str(i.imm)) for i in cs.object_spec.programs[program].instructions
            if i.opcode == 0x85]


def test_the_vertical_slice_compiles_to_one_tracepoint_program() -> None:
    cs = compile_('tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args->filename)); '
                  '@[comm] = count(); }')
    (probe,) = cs.probes
    assert probe.name == "tracepoint:syscalls:sys_enter_openat"
    assert (probe.target, probe.func) == ("syscalls", "sys_enter_openat")
    prog = cs.object_spec.programs[probe.program_name]
    assert prog.type is ProgramType.TRACEPOINT
    assert prog.section == "tracepoint/syscalls/sys_enter_openat"
    called = helpers_called(cs, probe.program_name)
    assert "bpf_ringbuf_reserve" in called and "bpf_ringbuf_submit" in called
    assert "bpf_get_current_comm" in called and "bpf_probe_read_user_str" in called
    # the count map: per-CPU hash keyed by the 16-byte comm, one i64 per CPU
    b = cs.maps["@"]
    spec = cs.object_spec.maps[b.bpf_name]
    assert (spec.type, spec.key_size, spec.value_size) == (MapType.PERCPU_HASH, 16, 8)
    assert b.percpu and not b.bucket_key
    assert cs.object_spec.maps[cs.ringbuf_map].type is MapType.RINGBUF
    (ev,) = cs.events
    assert ev.kind is EventKind.PRINTF and ev.fmt == "%s %s\n"
    assert [(f.type, f.offset) for f in ev.fields] == [(StringType(16), 8), (StringType(64), 24)]


def test_the_elf_reads_back_as_the_same_spec() -> None:
    from pybpf.elf import load_object_bytes

    cs = compile_('BEGIN { @x = 1; printf("%d\\n", @x); }')
    again = load_object_bytes(cs.elf)
    assert set(again.programs) == set(cs.object_spec.programs)
    assert {n: (m.type, m.key_size, m.value_size) for n, m in again.maps.items()} == \
        {n: (m.type, m.key_size, m.value_size) for n, m in cs.object_spec.maps.items()}
    assert cs.elf[:4] == b"\x7fELF"


@pytest.mark.parametrize(("source", "kind", "section", "ptype"), [
    ("BEGIN { printf(\"x\\n\"); }", "BEGIN", "raw_tracepoint/bpftrace_begin", ProgramType.RAW_TRACEPOINT),
    ("END { printf(\"x\\n\"); }", "END", "raw_tracepoint/bpftrace_end", ProgramType.RAW_TRACEPOINT),
    ("rawtracepoint:sched_switch { @ = count(); }", "rawtracepoint", "raw_tracepoint/sched_switch",
     ProgramType.RAW_TRACEPOINT),
    ("uprobe:/bin/sh:main { @ = count(); }", "uprobe", "uprobe", ProgramType.KPROBE),
    ("uretprobe:/bin/sh:main { @ = count(); }", "uretprobe", "uretprobe", ProgramType.KPROBE),
    ("profile:hz:99 { @ = count(); }", "profile", "perf_event", ProgramType.PERF_EVENT),
    ("interval:ms:100 { @ = count(); }", "interval", "perf_event", ProgramType.PERF_EVENT),
    ("software:page-faults:1 { @ = count(); }", "software", "perf_event", ProgramType.PERF_EVENT),
])
def test_each_probe_type_gets_its_program_type(source: str, kind: str, section: str, ptype: ProgramType) -> None:
    cs = compile_(source)
    (probe,) = cs.probes
    assert str(probe.kind) == kind
    prog = cs.object_spec.programs[probe.program_name]
    assert (prog.section, prog.type) == (section, ptype)


def test_several_attach_points_share_a_block_as_separate_programs() -> None:
    cs = compile_("tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_exit_read { @[probe] = count(); }")
    assert [p.name for p in cs.probes] == ["tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_read"]
    assert [p.index for p in cs.probes] == [0, 1]
    assert len({p.program_name for p in cs.probes}) == 2
    assert {p.probe_index for p in cs.probes} == {0}


def test_begin_and_end_are_listed_for_the_runtime() -> None:
    cs = compile_('BEGIN { printf("a\\n"); } END { printf("b\\n"); } BEGIN { printf("c\\n"); }')
    assert [p.probe_index for p in cs.begin] == [0, 2]
    assert [p.probe_index for p in cs.end] == [1]


@pytest.mark.parametrize(("agg", "value_size", "bucket"), [
    ("count()", 8, False), ("sum(arg0)", 8, False), ("avg(arg0)", 16, False), ("stats(arg0)", 16, False),
    ("min(arg0)", 16, False), ("max(arg0)", 16, False), ("hist(arg0)", 8, True),
    ("lhist(arg0, 0, 100, 10)", 8, True),
])
def test_aggregation_map_layouts(agg: str, value_size: int, bucket: bool) -> None:
    cs = compile_(f"uprobe:/bin/sh:main {{ @a[pid, comm] = {agg}; @s = {agg}; }}")
    keyed, scalar = cs.maps["@a"], cs.maps["@s"]
    for b in (keyed, scalar):
        assert b.percpu and b.value_size == value_size and b.bucket_key is bucket
        spec = cs.object_spec.maps[b.bpf_name]
        assert spec.type is MapType.PERCPU_HASH
        assert (spec.key_size, spec.value_size) == (b.key_size, b.value_size)
    # (int64 pid, string[16] comm) is 24 bytes; hist/lhist add a u64 bucket after it
    assert keyed.key_size == (32 if bucket else 24)
    assert scalar.key_size == 8


def test_plain_maps_are_shared_hashes_holding_the_value_type() -> None:
    cs = compile_('uprobe:/bin/sh:main { @name[tid] = comm; @t = (1, "ab"); }')
    b = cs.maps["@name"]
    assert not b.percpu and (b.key_size, b.value_size) == (8, 16)
    assert cs.object_spec.maps[b.bpf_name].type is MapType.HASH
    assert cs.maps["@t"].value_size == cs.maps["@t"].info.value.size


def test_map_names_are_valid_kernel_names_and_unique() -> None:
    cs = compile_("uprobe:/bin/sh:main { @a_very_long_map_name_1 = count(); @a_very_long_map_name_2 = count(); "
                  "@ = count(); }")
    names = [b.bpf_name for b in cs.maps.values()]
    assert len(set(names)) == 3
    assert all(len(n) <= 15 and n.replace("_", "").isalnum() for n in names)


def test_stack_keys_use_a_stack_trace_map() -> None:
    cs = compile_("profile:hz:99 { @[kstack] = count(); @u[ustack(5)] = count(); }")
    assert cs.maps["@"].key_size == 8 and cs.maps["@"].stack_map == "stack_k127"
    assert cs.maps["@u"].stack_map == "stack_u5"
    assert cs.stack_maps == {"stack_k127": True, "stack_u5": False}
    spec = cs.object_spec.maps["stack_u5"]
    assert (spec.type, spec.key_size, spec.value_size) == (MapType.STACK_TRACE, 4, 40)
    assert "bpf_get_stackid" in helpers_called(cs, cs.probes[0].program_name)


def test_stack_values_in_events_are_read_inline() -> None:
    cs = compile_("profile:hz:99 { print(kstack(4)); }")
    assert "bpf_get_stack" in helpers_called(cs, cs.probes[0].program_name)
    (ev,) = cs.events
    assert ev.fields[0].type.size == 8 + 4 * 8


def test_exit_sends_an_event_and_leaves_the_probe() -> None:
    cs = compile_('BEGIN { exit(); printf("never\\n"); }')
    assert [e.kind for e in cs.events] == [EventKind.EXIT, EventKind.PRINTF]
    insns = cs.object_spec.programs[cs.probes[0].program_name].instructions
    # only one record is ever reserved: the printf after exit() is unreachable
    assert sum(1 for i in insns if i.opcode == 0x85 and i.imm == HELPER_IDS["bpf_ringbuf_reserve"]) == 1


def test_dry_run_output_has_ir_and_instructions() -> None:
    cs = compile_('BEGIN { printf("%d\\n", 42); }')
    assert 'target triple = "bpfel"' in cs.ir
    assert "section \"raw_tracepoint/bpftrace_begin\"" in cs.ir
    text = cs.disassembly()
    assert "bpf_ringbuf_reserve" in text and "exit" in text


def test_emit_obj_writes_the_elf(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pybpf.elf import load_object

    cs = compile_("interval:s:1 { @ = count(); }")
    path = tmp_path / "x.o"
    cs.write_object(path)
    spec = load_object(str(path))
    assert spec.programs[cs.probes[0].program_name].type is ProgramType.PERF_EVENT


def test_signed_division_without_sdiv() -> None:
    # cpu v3 has no signed division instruction; the compiler must not emit one (LLVM would fail)
    cs = compile_("uprobe:/bin/sh:main { $a = (int64)arg0; @q = $a / -3; @r = $a % 7; }")
    ops = {i.opcode for p in cs.object_spec.programs.values() for i in p.instructions}
    assert 0x3f in ops or 0x37 in ops  # an unsigned 64-bit division is there


def test_string_comparison_with_a_literal() -> None:
    cs = compile_('tracepoint:syscalls:sys_enter_openat /comm == "cat"/ { @ = count(); }')
    insns = cs.object_spec.programs[cs.probes[0].program_name].instructions
    imms = [i.imm for i in insns if i.opcode in (0x55, 0x15, 0x56, 0x16)]  # jne/jeq imm
    assert {ord("c"), ord("a"), ord("t")} <= set(imms)


def test_aggregations_record_their_kind() -> None:
    cs = compile_("tracepoint:syscalls:sys_exit_read { @h = hist(args->ret); @l = lhist(args->ret, 0, 100, 10); }")
    assert cs.maps["@h"].info.value.kind is AggKind.HIST
    assert cs.maps["@l"].info.value.buckets == 13


def test_unsupported_constructs_say_what_to_do() -> None:
    with pytest.raises(CodegenError, match=r"delete\(\) of one @h histogram entry is not supported; use clear"):
        compile_("BEGIN { @h[1] = hist(1); delete(@h[1]); }")


def test_map_length_counts_with_a_callback() -> None:
    cs = compile_("BEGIN { @m[1] = 2; printf(\"%d\\n\", len(@m)); }")
    prog = cs.object_spec.programs[cs.probes[0].program_name]
    assert "bpf_for_each_map_elem" in helpers_called(cs, prog.name)
    assert len(prog.func_info) == 2


def test_for_map_body_is_a_static_callback_with_btf() -> None:
    cs = compile_("BEGIN { @m[1] = 2; $n = 0; for ($kv : @m) { $n += $kv.1; if ($n > 5) { break; } } "
                  "printf(\"%d\\n\", $n); }")
    prog = cs.object_spec.programs[cs.probes[0].program_name]
    assert "bpf_for_each_map_elem" in helpers_called(cs, prog.name)
    assert len(prog.func_info) == 2  # the probe and its loop body (the kernel requires func info)
    btf = cs.object_spec.btf
    assert btf is not None


def test_objects_carry_btf_function_info() -> None:
    cs = compile_("interval:s:1 { @ = count(); }")
    prog = cs.object_spec.programs[cs.probes[0].program_name]
    assert len(prog.func_info) == 1


def test_positional_parameters_are_compile_time_constants() -> None:
    cs = compile_('BEGIN { printf("%d %s\\n", $1, $2); }', params=("41", "abc"))
    insns = cs.object_spec.programs[cs.probes[0].program_name].instructions
    assert any(i.imm == 41 for i in insns)
