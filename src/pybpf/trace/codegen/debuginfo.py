"""Minimal debug metadata so LLVM's BPF backend emits ``.BTF`` and ``.BTF.ext``: one
``DISubprogram`` per function. The kernel needs BTF func_info for programs with callbacks
(``for ($kv : @m)``), and the object then describes its functions to tools (``bpftool``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llvmlite import ir

if TYPE_CHECKING:
    from .maps import MapDef

_I32 = ir.IntType(32)


def add_debug_info(module: ir.Module, filename: str = "bpftrace.bt", *, maps: Sequence[MapDef] = ()) -> None:
    """Describe every defined function of ``module`` (int/long return, pointer arguments) and the
    map definitions ``maps`` (BTF-defined maps, see :mod:`.btfmaps`)."""
    from . import btfmaps
    from .maps import describe

    difile = module.add_debug_info("DIFile", {"filename": filename, "directory": "/"})
    cu = module.add_debug_info("DICompileUnit", {
        "language": ir.DIToken("DW_LANG_C99"), "file": difile, "producer": "pybpf trace",
        "isOptimized": True, "runtimeVersion": 0, "emissionKind": ir.DIToken("FullDebug"),
    }, is_distinct=True)
    module.add_named_metadata("llvm.dbg.cu", cu)
    module.add_named_metadata("llvm.module.flags", module.add_metadata([_I32(7), "Dwarf Version", _I32(5)]))
    module.add_named_metadata("llvm.module.flags", module.add_metadata([_I32(2), "Debug Info Version", _I32(3)]))
    ints = {
        32: module.add_debug_info("DIBasicType", {"name": "int", "size": 32, "encoding": ir.DIToken("DW_ATE_signed")}),
        64: module.add_debug_info("DIBasicType", {"name": "long", "size": 64, "encoding": ir.DIToken("DW_ATE_signed")}),
    }
    ptr = module.add_debug_info("DIDerivedType", {"tag": ir.DIToken("DW_TAG_pointer_type"), "baseType": None,
                                                  "size": 64})
    for fn in module.functions:
        if fn.is_declaration:
            continue
        ret = ints[fn.function_type.return_type.width]
        sty = module.add_debug_info("DISubroutineType", {
            "types": module.add_metadata([ret, *([ptr] * len(fn.function_type.args))])})
        sp = module.add_debug_info("DISubprogram", {
            "name": fn.name, "scope": difile, "file": difile, "line": 1, "type": sty, "scopeLine": 1,
            "unit": cu, "spFlags": ir.DIToken("DISPFlagDefinition | DISPFlagOptimized"
                                              + (" | DISPFlagLocalToUnit" if fn.linkage == "internal" else "")),
        }, is_distinct=True)
        fn.set_metadata("dbg", sp)
        _name_params(module, fn, sp, difile, ptr)
    gves = describe(btfmaps.Describer(module, difile, cu), list(maps))
    if gves:  # last: the globals list makes a cycle through the unit, which llvmlite cannot hash
        cu.operands = (*cu.operands, ("globals", module.add_metadata(gves)))


_PARAM_NAMES = {1: ("ctx",), 4: ("map", "key", "value", "ctx")}


def _name_params(module: ir.Module, fn: ir.Function, sp: ir.DIValue, difile: ir.DIValue, ptr: ir.DIValue) -> None:
    """Parameter variables in the subprogram's ``retainedNodes``: BTF FUNC_PROTO parameters must
    have names for the kernel to accept the BTF."""
    names = _PARAM_NAMES.get(len(fn.args), tuple(f"arg{i}" for i in range(len(fn.args))))
    params = [module.add_debug_info("DILocalVariable", {"name": name, "arg": i, "scope": sp, "file": difile,
                                                        "line": 1, "type": ptr})
              for i, name in enumerate(names, start=1)]
    sp.operands = (*sp.operands, ("retainedNodes", module.add_metadata(params)))  # a cycle: set afterwards
