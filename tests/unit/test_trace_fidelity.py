"""Output details checked against what bpftrace 0.17 prints (captured from Debian's bpftrace on
the same programs): lhist's overflow bucket, ksym names of addresses several symbols share."""

from __future__ import annotations

from pybpf.trace.runtime.hist import json_buckets, linear_bucket_index, linear_buckets, render


def _lhist(values: list[int], lo: int, hi: int, step: int) -> list[int]:
    counts = [0] * ((hi - lo) // step + 2)
    for v in values:
        counts[linear_bucket_index(v, lo, hi, step)] += 1
    return counts


def test_lhist_overflow_bucket_is_labelled_from_max() -> None:
    # bpftrace -e 'BEGIN { @x = lhist(50, 0, 40, 10); @x = lhist(12, 0, 40, 10); exit(); }'
    text = render(linear_buckets(_lhist([50, 12], 0, 40, 10), 0, 40, 10), linear=True)
    assert text == ("[10, 20)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
                    "[20, 30)               0 |                                                    |\n"
                    "[30, 40)               0 |                                                    |\n"
                    "[40, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n")


def test_lhist_overflow_label_when_step_does_not_divide_the_range() -> None:
    # bpftrace -e 'BEGIN { @l = lhist(7, 0, 8, 3); @l = lhist(1, 0, 8, 3); exit(); }': 7 is counted
    # with the values >= 8, under "[8, ...)"
    buckets = linear_buckets(_lhist([7, 1], 0, 8, 3), 0, 8, 3)
    assert render(buckets, linear=True).splitlines()[-1] == (
        "[8, ...)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")
    assert json_buckets(buckets) == [{"min": 0, "max": 2, "count": 1}, {"min": 3, "max": 5, "count": 0},
                                     {"min": 8, "count": 1}]


KALLSYMS = """\
ffffffff81000000 T srso_alias_untrain_ret
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000000 T __pi__text
ffffffff81000100 T only_one
ffffffff821f67c0 T memset
ffffffff821f67c0 T __memset
ffffffff821f67c0 T __pi_memset
ffffffff82204da0 T __pi___x86_indirect_thunk_r15
ffffffff82204da0 T __x86_indirect_thunk_r15
ffffffff82300000 T __pi_lonely
"""


def test_ksym_prefers_real_names_to_the_kernels_pi_aliases(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pybpf.stacks.ksyms import KernelSymbols

    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS)
    ks = KernelSymbols(path)
    # bpftrace 0.17: ksym(<_text>) is "_text" (pybpf used to answer the alias "__pi__text")
    assert ks.lookup(0xffffffff81000000).name == "_text"
    assert ks.lookup(0xffffffff81000010).format() == "_text+0x10"
    assert ks.lookup(0xffffffff821f67c0).name == "__memset"
    assert ks.lookup(0xffffffff82204da3).name == "__x86_indirect_thunk_r15"
    assert ks.lookup(0xffffffff82300000).name == "__pi_lonely"  # no other name there
    assert ks.lookup(0xffffffff81000100).name == "only_one"


def test_iterator_programs_return_at_the_end_of_iteration_call() -> None:
    from test_trace_codegen import compile_

    cs = compile_('iter:task { printf("one task\\n"); }')
    text = cs.disassembly()
    # the object pointer after meta is checked before anything is printed
    first_load = next(line for line in text.splitlines() if "+ 8)" in line and "*(u64 *)" in line)
    assert text.index(first_load) < text.index("bpf_ringbuf_reserve")


def test_watchpoint_on_a_function_argument_compiles_a_reporting_uprobe() -> None:
    from test_trace_codegen import compile_

    for provider, stops in (("watchpoint", True), ("asyncwatchpoint", False)):
        cs = compile_(f'{provider}:increment+arg1:4:w {{ printf("hit\\\\n"); }}')
        probe = cs.probes[0]
        assert probe.name == f"{provider}:increment+arg1:4:w" and probe.watch_setup_program == "ws0"
        setup = cs.object_spec.programs["ws0"]
        assert setup.section == "uprobe"
        text = cs.disassembly().split("ws0 (uprobe):")[1]
        assert "+ 104)" in text  # arg1: rsi in struct pt_regs
        assert ("call bpf_send_signal" in text) is stops


def test_a_pinned_iterator_is_refused_with_the_alternative() -> None:
    import pytest

    from pybpf.trace.errors import TraceSyntaxError
    from pybpf.trace.parser import parse

    with pytest.raises(TraceSyntaxError, match="pinning an iterator is not supported.*run iter:task without a pin"):
        parse('iter:task:list { printf("x\\n"); }')


def test_printing_the_probe_context_is_refused_as_bpftrace_does() -> None:
    import pytest
    from test_trace_codegen import compile_

    from pybpf.trace.errors import TraceSemanticError

    # bpftrace 0.17, byte for byte (pybpf used to print the record's bytes as if it were a value)
    with pytest.raises(TraceSemanticError) as e:
        compile_('tracepoint:syscalls:sys_enter_openat /comm == "cat"/ { print(args); exit(); }')
    assert str(e.value).splitlines()[0] == (
        "stdin:1:56-67: ERROR: (ctx) struct _tracepoint_syscalls_sys_enter_openat * type passed to print() "
        "is not printable")
