"""``compile_script``: bpftrace source -> typed AST -> LLVM IR -> BPF ELF -> :class:`CompiledScript`."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from llvmlite import ir

from ...enums import MapType
from ..ast import ProbeType
from ..semantic import Env, TypedProgram, analyse
from ..semantic.model import EventKind
from . import btfmaps as B
from . import maps as M
from .debuginfo import add_debug_info
from .helpers import I8, I32, PTR
from .irgen import ProbeGen, Unit
from .object import emit_object, load_spec
from .probes import emit_watch_setup, program_name, section
from .result import CompiledScript, ProbeAttach

log = logging.getLogger("pybpf.trace.codegen")

DATALAYOUT = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"


def compile_script(text: str | TypedProgram, *, params: Sequence[str] = (), unsafe: bool = False, filename: str = "stdin",
                   cpid: int = 0, env: Env | None = None) -> CompiledScript:
    """Compile a bpftrace program (source text, or a program already analysed) to a loadable object.

    Raises :class:`~pybpf.trace.errors.TraceSyntaxError` / ``TraceSemanticError`` for errors in the
    program, :class:`~pybpf.trace.codegen.irgen.CodegenError` for constructs this compiler does not
    lower yet, and :class:`~pybpf.errors.CompileError` when LLVM fails.

    >>> cs = compile_script('BEGIN { printf("hi\\\\n"); @n = count(); }')   # doctest: +SKIP
    >>> sorted(cs.maps), cs.probes[0].name                                  # doctest: +SKIP
    (['@n'], 'BEGIN')
    """
    from ..parser import parse

    if isinstance(text, TypedProgram):
        return compile_typed(text, cpid=cpid)
    program = parse(text, filename=filename)
    if env is None:
        env = Env(unsafe=unsafe, params=tuple(params))
    return compile_typed(analyse(program, env=env), cpid=cpid)


def compile_typed(tp: TypedProgram, *, cpid: int = 0) -> CompiledScript:
    """Generate code for an analysed program."""
    module = ir.Module(name="bpftrace")
    module.triple = "bpfel"
    module.data_layout = DATALAYOUT
    bindings, defs = M.plan(tp)
    defs += [
        M.MapDef(M.RINGBUF_NAME, MapType.RINGBUF, 0, 0, M.RINGBUF_SIZE),
        M.MapDef(M.VARS_NAME, MapType.ARRAY, 4, 8, 1, B.U32, B.U64),
        M.MapDef(M.LOST_NAME, MapType.PERCPU_ARRAY, 4, 8, 1, B.U32, B.U64),
    ]
    if any(ap.provider is ProbeType.USDT for info in tp.probes for ap in info.attach_points):
        from ...link._usdt_spec import SPEC_SIZE
        from .probes import USDT_MAX_SPECS, USDT_SPECS_MAP
        defs.append(M.MapDef(USDT_SPECS_MAP, MapType.ARRAY, 4, SPEC_SIZE, USDT_MAX_SPECS, B.U32))
    scratch = M.MapDef(M.SCRATCH_NAME, MapType.PERCPU_ARRAY, 4, 8, 1, B.U32)
    defs.append(scratch)
    globals_ = M.emit(module, defs)
    unit = Unit(module, tp, bindings, globals_, cpid=cpid, ncpus=os.cpu_count() or 1, map_defs=defs)
    fnty = ir.FunctionType(I32, [PTR])
    for info in tp.probes:
        for ap in info.attach_points:
            index = len(unit.probes)
            name = program_name(index, ap)
            attach = ProbeAttach(index, name, ap.provider, ap, ap.name, info.index)
            unit.probes.append(attach)
            fn = ir.Function(module, fnty, name)
            fn.section = section(ap)
            ProbeGen(unit, info, attach, fn).generate()
            if attach.watch_setup_program:
                watch = next(ev for ev in tp.events if ev.kind is EventKind.WATCH and ev.node_id == ap.node_id)
                emit_watch_setup(unit, attach, watch)
    scratch.value_size = unit.scratch_size
    add_debug_info(module, maps=defs)
    lic = ir.GlobalVariable(module, ir.ArrayType(I8, 4), "_license")
    lic.initializer = ir.Constant(ir.ArrayType(I8, 4), bytearray(b"GPL\0"))
    lic.section = "license"
    text, elf = emit_object(module)
    spec = load_spec(elf)
    return CompiledScript(
        object_spec=spec, probes=unit.probes, maps=bindings, events=list(tp.events),
        ringbuf_map=M.RINGBUF_NAME, typed=tp, ir=text, elf=elf, vars_map=M.VARS_NAME, lost_map=M.LOST_NAME,
        stack_maps={name: kernel for (kernel, _), name in unit.stack_maps.items()},
    )


__all__ = ["compile_script", "compile_typed", "ProbeType"]
