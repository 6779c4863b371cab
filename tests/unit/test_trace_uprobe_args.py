"""``args`` in uprobes: parameters from DWARF (stubbed here) become fields laid over
``struct pt_regs`` at their argument registers; unreadable ones are refused with the reason."""

from __future__ import annotations

import pytest
from test_trace_codegen import env

from pybpf.errors import ELFError
from pybpf.trace.codegen import compile_script
from pybpf.trace.dwarfargs import FunctionArgs, Param
from pybpf.trace.errors import TraceSemanticError
from pybpf.trace.types import AddrSpace, IntType, PointerType

SHOW = FunctionArgs("/bin/x", "show", (
    Param("n", "int", IntType(32, True), "rdi"),
    Param("ratio", "double"),
    Param("s", "const char *", PointerType(IntType(8, True), AddrSpace.USER), "rsi"),
))


def _args(binary: str, function: str) -> FunctionArgs:
    if function != "show":
        raise ELFError(f"{binary} has no DWARF debug information, so the arguments of {function} are unknown")
    return SHOW


def test_args_fields_are_read_from_the_argument_registers() -> None:
    cs = compile_script('uprobe:/bin/x:show { printf("%d %s\\n", args.n, str(args.s)); }',
                        env=env(function_args=_args))
    text = cs.disassembly()
    ctx = text.splitlines()[1].split(" = ")[0]  # the register the program keeps the context in
    assert f"= *(u32 *)({ctx} + 112)" in text  # n: 32-bit load of rdi
    assert f"= *(u64 *)({ctx} + 104)" in text  # s: 64-bit load of rsi, then a user string read
    assert "call bpf_probe_read_user_str" in text


def test_a_float_argument_is_refused_with_the_reason() -> None:
    with pytest.raises(TraceSemanticError, match=r"argument 'ratio' of show \(double\) is not readable"):
        compile_script("uprobe:/bin/x:show { print(args.ratio); }", env=env(function_args=_args))


def test_no_dwarf_is_a_semantic_error_at_the_probe() -> None:
    with pytest.raises(TraceSemanticError, match="has no DWARF debug information"):
        compile_script("uprobe:/bin/x:main { print(args.argc); }", env=env(function_args=_args))


def test_args_in_a_uretprobe_is_refused_as_bpftrace_does() -> None:
    with pytest.raises(TraceSemanticError, match="uretprobe used here"):
        compile_script("uretprobe:/bin/x:show { print(args.n); }", env=env(function_args=_args))


def test_verbose_listing_shows_parameters_of_uprobe_functions() -> None:
    from pybpf.trace.runtime.listing import ListingSources, probe_listing

    src = ListingSources(binary_functions=lambda path: ["show", "stripped"],
                         function_params=lambda path: {"show": ["int n", "const char * s"]})
    assert probe_listing("uprobe:/bin/x:*", verbose=True, sources=src).lines == [
        "uprobe:/bin/x:show", "    int n", "    const char * s", "uprobe:/bin/x:stripped"]
    assert probe_listing("uprobe:/bin/x:*", sources=src).lines == ["uprobe:/bin/x:show", "uprobe:/bin/x:stripped"]
