"""The llvmlite execution engine: LLVM IR -> optimised native code, compiled once per program.

Compiled code is cached by what determines it: the instruction bytes and the values the
program's ``ld_imm64`` instructions resolve to (map handles); two identical programs share one
native module. The cache holds at most :data:`CACHE_SIZE` modules (least recently used dropped;
a dropped module stays alive while a program still uses it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from ..._lru import LRUCache
from ...isa import Instruction
from ..interpreter import BACK_EDGE_LIMIT
from .abi import thunk_symbol
from .lower import REPEAT_SYMBOL, JitUnsupported, LoweredProgram, StaticError, lower_program

log = logging.getLogger("pybpf.vm.jit")

__all__ = ["NativeProgram", "native_program", "available", "unavailable_reason", "CACHE_SIZE"]

CACHE_SIZE = 512
#: LLVM optimisation levels (IR passes, machine code)
SPEED_LEVEL = 2
CODEGEN_OPT = 2

try:  # llvmlite is optional: without it every program runs in the interpreter
    import llvmlite.binding as _llvm
    _IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the installation
    _llvm = None
    _IMPORT_ERROR = f"llvmlite is not installed ({exc}); install it with `pip install llvmlite`"


@dataclass
class NativeProgram:
    """One program's native code: the addresses of its entry thunks by function slot, and its
    static errors."""

    name: str
    addresses: dict[int, int]
    errors: list[StaticError]
    helper_ids: set[int]
    ir: str
    engine: object  # keeps the machine code alive
    repeat_address: int = 0  # u64 bpf_repeat(env): the entry run env[ARGS + 6] times


class _Engine:
    """LLVM set-up shared by all compilations. An MCJIT engine takes ownership of the target
    machine it is given, so each engine gets a fresh one; the shared one only drives the
    optimisation passes."""

    _lock = threading.Lock()
    _tm: object | None = None

    @classmethod
    def new_target_machine(cls) -> object:
        assert _llvm is not None
        target = _llvm.Target.from_triple(_llvm.get_process_triple())
        return target.create_target_machine(opt=CODEGEN_OPT, codemodel="jitdefault", jit=True)

    @classmethod
    def target_machine(cls) -> object:
        with cls._lock:
            if cls._tm is None:
                assert _llvm is not None
                _llvm.initialize_native_target()
                _llvm.initialize_native_asmprinter()
                cls._tm = cls.new_target_machine()
            return cls._tm


_cache: LRUCache[tuple[object, ...], NativeProgram] = LRUCache(CACHE_SIZE)


def available() -> bool:
    """True when llvmlite can be imported (the JIT tier exists)."""
    return _llvm is not None


def unavailable_reason() -> str:
    """Why the JIT tier is missing ("" when it is available)."""
    return _IMPORT_ERROR


def _key(insns: list[Instruction], resolve_ld64: Callable[[Instruction, int], int]) -> tuple[bytes, tuple[int, ...]]:
    code = b"".join(insn.to_bytes() for insn in insns)
    consts: list[int] = []
    slot = 0
    for insn in insns:
        if insn.is_ld_imm64:
            try:
                consts.append(resolve_ld64(insn, slot))
            except Exception:  # noqa: BLE001 - lowering reports it (and falls back)
                consts.append(-1)
        slot += insn.slots
    return code, tuple(consts)


def native_program(name: str, insns: list[Instruction], resolve_ld64: Callable[[Instruction, int], int], *,
                   back_edge_limit: int = BACK_EDGE_LIMIT) -> NativeProgram:
    """Compile ``insns`` to native code (or take it from the cache).

    Raises :class:`~pybpf.vm.jit.lower.JitUnsupported` when the JIT cannot run the program."""
    if _llvm is None:
        raise JitUnsupported(_IMPORT_ERROR)
    key = _key(insns, resolve_ld64) + (back_edge_limit,)
    return _cache.get_or_make(key, lambda: _build(name, insns, resolve_ld64, back_edge_limit))


def _build(name: str, insns: list[Instruction], resolve_ld64: Callable[[Instruction, int], int],
           back_edge_limit: int) -> NativeProgram:
    tm = _Engine.target_machine()
    lowered: LoweredProgram = lower_program(name, insns, resolve_ld64, _llvm.get_process_triple(),
                                            back_edge_limit=back_edge_limit)
    with _Engine._lock:  # LLVM's global context is not thread-safe
        native = _compile(name, lowered, tm)
    log.debug("jit compiled %s: %d instructions, %d functions", name, len(insns), len(native.addresses))
    return native


def _compile(name: str, lowered: LoweredProgram, tm: object) -> NativeProgram:
    assert _llvm is not None
    text = str(lowered.module)
    try:
        mod = _llvm.parse_assembly(text)
        mod.verify()
    except RuntimeError as exc:
        raise JitUnsupported(f"LLVM rejected the generated IR: {exc}") from None
    pto = _llvm.create_pipeline_tuning_options(speed_level=SPEED_LEVEL)
    pb = _llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    engine = _llvm.create_mcjit_compiler(mod, _Engine.new_target_machine())
    engine.finalize_object()
    addresses = {e: engine.get_function_address(thunk_symbol(e)) for e in lowered.entries}
    repeat = engine.get_function_address(REPEAT_SYMBOL)
    return NativeProgram(name, addresses, lowered.errors, lowered.helper_ids, text, engine, repeat)
