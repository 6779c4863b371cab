"""``Runtime``: what compiled programs run against — memory, maps and programs by handle,
helpers by id, the task identity the caller provides, and the state of the current run.

The ABI a second tier (a JIT) shares with the interpreter: :class:`~pybpf.vm.memory.Memory`
(regions at ``id << 32``), helpers as ``callable(r1, r2, r3, r4, r5) -> int`` (callback
helpers take the frame depth as a sixth argument) found by :meth:`Runtime.helper`, and the
slow paths :meth:`slow_load` / :meth:`slow_store` / :meth:`atomic` / :meth:`ld_abs` /
:meth:`tail_call_target`.
"""

from __future__ import annotations

import logging
import random
import struct
import time
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..isa import HELPER_IDS, HELPER_NAMES, Instruction
from ..isa.opcodes import AtomicOp, PseudoSrc
from ..spec import ExternKind, ExternSpec
from .interpreter import FUNC_TAG, KFUNC_HELPER_BASE
from .maps import MAP_TAG, VMMap
from .memory import Memory, OFFSET_MASK, Region, VMError

if TYPE_CHECKING:
    from .program import VMProgram

log = logging.getLogger("pybpf.vm")

__all__ = ["Runtime", "TaskContext", "RunState", "MAX_TAIL_CALLS", "HelperFunc"]

#: the kernel's MAX_TAIL_CALL_CNT: at most this many tail calls succeed in one run
MAX_TAIL_CALLS = 33
M64 = (1 << 64) - 1

#: value of ``ld_imm64 rX, <kfunc>`` (``if (kfunc)``) for an implemented kfunc: a tag, never an address
KFUNC_TAG = 0xE << 60
#: <linux/time.h>; Python's time module has it on Linux, its type stubs do not
_CLOCK_MONOTONIC_COARSE = 6

#: a helper written in Python: ``func(runtime, r1, r2, r3, r4, r5) -> int``
HelperFunc = Callable[..., int]


@dataclass
class TaskContext:
    """The "current task" helpers report (get_current_pid_tgid, uid_gid, comm).

    ``task_struct`` is what ``bpf_get_current_task`` / ``bpf_get_current_task_btf`` point to:
    the bytes of a ``struct task_struct`` (mapped read-only on first use; build them with
    :func:`pybpf.vm.contexts.task_struct`), or the address of memory already mapped (from
    ``VMCollection.register_memory``, when other structs must point into it). None: programs
    that ask for the task stop with an error saying how to give one.
    """

    pid: int = 0
    tgid: int = 0
    uid: int = 0
    gid: int = 0
    comm: bytes = b""
    task_struct: bytes | bytearray | int | None = None


@dataclass
class RunState:
    """What one program run changes besides memory: the packet, the redirect verdict, counters."""

    program: Any = None
    ctx: int = 0  # address of the context
    packet: Any = None  # contexts.Packet for packet programs
    tail_calls: int = 0
    #: ("redirect", ifindex, flags) / ("redirect_map", map name, key, flags), set by redirect helpers
    redirect: tuple[Any, ...] | None = None
    redirect_ret: int = 0  # what redirect helpers return for this program type
    locks: set[int] = field(default_factory=set)


class Runtime:
    """Shared state of one VM collection (see the module docstring)."""

    def __init__(self, *, ncpus: int = 1, memory: Memory | None = None, seed: int | None = None,
                 task: TaskContext | None = None, log_trace: bool = True) -> None:
        self.memory = memory if memory is not None else Memory()
        self.ncpus = ncpus
        #: the CPU programs run on (get_smp_processor_id, per-CPU map slots)
        self.cpu = 0
        self.maps: dict[int, VMMap] = {}
        self.programs: dict[int, VMProgram] = {}
        self._next_handle = 1
        self.task = task if task is not None else TaskContext()
        self.random = random.Random(seed)
        #: clocks (replace for deterministic runs)
        self.clock: Callable[[], int] = time.monotonic_ns
        self.boot_clock: Callable[[], int] = lambda: time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self.coarse_clock: Callable[[], int] = lambda: time.clock_gettime_ns(_CLOCK_MONOTONIC_COARSE)
        #: every trace_printk line, in order
        self.trace: list[str] = []
        self.log_trace = log_trace
        self.state = RunState()
        #: execution tier of this runtime's programs ("interpreter", "jit", "auto"); None: the
        #: process default (see pybpf.vm.jit). Set it before the programs first run.
        self.tier: str | None = None
        #: backward jumps one function call may take before the VM stops the program as runaway
        #: (the kernel's verifier proves termination; the VM checks it at run time instead)
        self.back_edge_limit = 1 << 26
        self._python_helpers: dict[int, HelperFunc] = {}
        self._bound: dict[int, Callable[..., int]] = {}
        #: (the task_struct bytes mapped, their region) for bpf_get_current_task
        self._task_region: tuple[bytes | bytearray, Region] | None = None
        #: addresses of kernel symbols (``extern ... __ksym`` variables), by name; see register_ksym
        self.ksyms: dict[str, int] = {}
        self._kfuncs: dict[str, HelperFunc] = {}
        #: the object's ksym/kfunc externs by the id the loader put in their instructions (the
        #: VM's stand-in for a kernel BTF id): resolved when the program is compiled
        self.externs: dict[int, ExternSpec] = {}

    # ---- handles ---------------------------------------------------------------------

    def new_handle(self) -> int:
        h = self._next_handle
        self._next_handle += 1
        return h

    def resolve_handle(self, handle: int) -> Any:
        return self.programs.get(handle) or self.maps.get(handle)

    def map_of(self, ptr: int, pc: int | None = None) -> VMMap:
        """The map a register value points to (VMError if it is not a map pointer)."""
        if ptr >> 60 == MAP_TAG >> 60:
            m = self.maps.get(ptr & OFFSET_MASK)
            if m is not None:
                return m
        raise VMError(f"{ptr:#x} is not a map pointer", pc=pc)

    def resolve_ld64(self, insn: Instruction, pc: int) -> int:
        """The value an ``ld_imm64`` puts in its register (maps are handles after relocation)."""
        src = insn.src
        if src == PseudoSrc.IMM:
            return insn.imm & M64
        if src == PseudoSrc.MAP_FD:
            m = self.maps.get(insn.lo32)
            if m is None:
                raise VMError(f"ld_imm64 refers to map handle {insn.lo32}, which does not exist", pc=pc)
            return m.address
        if src == PseudoSrc.MAP_VALUE:
            m = self.maps.get(insn.lo32)
            value_address = getattr(m, "value_address", None)
            if value_address is None:
                raise VMError(f"ld_imm64 takes a value address in map handle {insn.lo32}, which is not an "
                              "array", pc=pc)
            return int(value_address(0, insn.hi32))
        if src == PseudoSrc.FUNC:
            rel = insn.lo32 - (1 << 32) if insn.lo32 >> 31 else insn.lo32
            return FUNC_TAG | (pc + 1 + rel)
        if src == PseudoSrc.BTF_ID:
            return self.ksym_address(insn.lo32, pc)
        raise VMError(f"ld_imm64 with src={src} ({PseudoSrc(src).name if src in PseudoSrc._value2member_map_ else '?'})"
                      " is not supported in the VM (fd_array maps need the kernel)", pc=pc)

    # ---- kernel symbols and kfuncs (``__ksym`` externs) ------------------------------------

    def extern_id(self, ext: ExternSpec) -> int:
        """The id that stands for ``ext`` in relocated instructions (its "BTF id" in the VM)."""
        for eid, known in self.externs.items():
            if known == ext:
                return eid
        eid = len(self.externs) + 1
        self.externs[eid] = ext
        return eid

    def register_ksym(self, name: str, address: int) -> None:
        """Give kernel symbol ``name`` (``extern const void name __ksym;``, typed or untyped) an
        address in the VM: usually ``register_memory(...)``'s, so the program can read it.
        Programs compiled afterwards see it (VM programs compile on their first run)."""
        self.ksyms[name] = address & M64

    def ksym_address(self, extern: int, pc: int) -> int:
        """The value of ``ld_imm64 src=BPF_PSEUDO_BTF_ID`` for extern id ``extern``."""
        ext = self.externs.get(extern)
        if ext is None:
            raise VMError(f"ld_imm64 names kernel BTF id {extern}, which the VM cannot resolve; load the object "
                          "with pybpf.vm.load so its __ksym externs keep their names", pc=pc)
        if ext.kind == ExternKind.KFUNC:  # `if (kfunc)` (bpf_ksym_exists): non-zero when it can be called
            if self._kfunc_impl(ext.name) is not None:
                return KFUNC_TAG | extern
            if ext.weak:
                return 0
            raise VMError(f"kfunc {ext.name!r} is not implemented in the VM; add it with "
                          f"register_helper({ext.name!r}, func)", pc=pc)
        address = self.ksyms.get(ext.name)
        if address is not None:
            return address
        if ext.weak:  # as in the kernel: a missing __weak symbol is NULL
            return 0
        raise VMError(f"kernel symbol {ext.name!r} has no address in the VM; give it one before the first run: "
                      f"register_ksym({ext.name!r}, address) (an address from register_memory(...) makes it "
                      "readable), or declare it __weak and test it for NULL", pc=pc)

    def task_address(self) -> int:
        """Where ``bpf_get_current_task`` points: ``task.task_struct`` (its bytes mapped
        read-only once, again when they are replaced)."""
        ts = self.task.task_struct
        if ts is None:
            raise VMError("the program asks for the current task_struct (bpf_get_current_task[_btf]) but the VM "
                          "has none; give it: TaskContext(task_struct=pybpf.vm.contexts.task_struct(btf, pid=..., "
                          "...)) or an address from register_memory")
        if isinstance(ts, int):
            return ts & M64
        if self._task_region is None or self._task_region[0] is not ts:
            if self._task_region is not None:
                self.memory.unmap(self._task_region[1])
            region = self.memory.map(bytearray(ts), "the current task_struct", writable=False)
            self._task_region = (ts, region)
        return self._task_region[1].base

    # ---- helpers ---------------------------------------------------------------------

    def register_helper(self, id_or_name: int | str, func: HelperFunc) -> None:
        """Make helper ``id_or_name`` (``7``, ``"bpf_get_prandom_u32"`` or ``"get_prandom_u32"``)
        run ``func(runtime, r1, r2, r3, r4, r5) -> int``. Programs compiled afterwards use it
        (VM programs compile on their first run). A name that is no helper's names a kfunc
        (``"bpf_task_from_pid"``): calls to that ``__ksym`` function run ``func``."""
        if isinstance(id_or_name, str) and not is_helper_name(id_or_name):
            self._kfuncs[id_or_name] = func
            return
        hid = helper_id(id_or_name)
        self._python_helpers[hid] = func
        self._bound.pop(hid, None)

    def helper(self, hid: int, pc: int) -> Callable[..., int]:
        """The bound implementation of helper ``hid`` (a stub that raises when it has none);
        ``KFUNC_HELPER_BASE | N`` is the kfunc with extern id N."""
        if hid >= KFUNC_HELPER_BASE:
            return self.kfunc(hid & 0xFFFFFFFF, pc)
        bound = self._bound.get(hid)
        if bound is not None:
            return bound
        from .helpers import BUILTIN_HELPERS

        func = self._python_helpers.get(hid) or BUILTIN_HELPERS.get(hid)
        if func is None:
            name = HELPER_NAMES.get(hid, f"helper #{hid}")

            def missing(*args: int) -> int:
                raise VMError(f"{name} ({hid}) is not implemented in the VM; add it with "
                              f"vm.register_helper({hid}, func)")
            return missing
        bound = types.MethodType(func, self)
        self._bound[hid] = bound
        return bound

    def _kfunc_impl(self, name: str) -> HelperFunc | None:
        from .helpers.kfuncs import BUILTIN_KFUNCS

        return self._kfuncs.get(name) or BUILTIN_KFUNCS.get(name)

    def kfunc(self, btf_id: int, pc: int) -> Callable[..., int]:
        """The bound implementation of the kfunc with extern id ``btf_id`` (a stub that raises
        when it is unknown or has none)."""
        btf_id &= 0xFFFFFFFF  # an unsigned id, however the instruction's imm was read
        ext = self.externs.get(btf_id)
        func = self._kfunc_impl(ext.name) if ext is not None else None
        if func is not None:
            return types.MethodType(func, self)
        if ext is None:
            message = (f"kfunc call to kernel BTF id {btf_id}, which names no kfunc the VM knows; load the object "
                       "with pybpf.vm.load so its __ksym functions keep their names")
        else:
            message = (f"kfunc {ext.name!r} is not implemented in the VM; add it with "
                       f"register_helper({ext.name!r}, func) (func(runtime, r1, r2, r3, r4, r5) -> int)")

        def missing(*args: int) -> int:
            raise VMError(message)  # like a missing helper's; the program's run names the program
        return missing

    # ---- slow paths of the generated code ------------------------------------------------

    def slow_load(self, addr: int, size: int, pc: int) -> int:
        return self.memory.slow_load(addr, size, pc)

    def slow_load_signed(self, addr: int, size: int, pc: int) -> int:
        v = self.memory.slow_load(addr, size, pc)
        sign = 1 << (size * 8 - 1)
        return ((v ^ sign) - sign) & M64

    def slow_store(self, addr: int, size: int, value: int, pc: int) -> None:
        self.memory.slow_store(addr, size, value, pc)

    def atomic(self, addr: int, size: int, op: int, src: int, r0: int, dst: int, pc: int) -> int:
        """One atomic instruction; returns what goes in its output register."""
        addr &= M64
        mem = self.memory
        mask = (1 << (size * 8)) - 1
        rid, off = addr >> 32, addr & OFFSET_MASK
        if addr < mem.top and off + size <= mem.wlen[rid] and op in _ATOMIC_OPS_FAST:
            # plain writable memory: read-modify-write in place
            unpack, pack = _ATOMIC_STRUCT[size]
            buf = mem.bufs[rid]
            old = unpack(buf, off)[0]
            pack(buf, off, _ATOMIC_OPS_FAST[op](old, src, r0) & mask)
            return old if op & 1 else src
        if op == AtomicOp.LOAD_ACQUIRE:
            return mem.slow_load(addr, size, pc)
        if op == AtomicOp.STORE_RELEASE:
            mem.slow_store(addr, size, src & mask, pc)
            return dst
        old = mem.slow_load(addr, size, pc)
        base = op & ~1
        if op == AtomicOp.CMPXCHG:
            if old == r0 & mask:
                mem.slow_store(addr, size, src & mask, pc)
            return old
        if op == AtomicOp.XCHG:
            mem.slow_store(addr, size, src & mask, pc)
            return old
        new = _ATOMIC_OPS[base](old, src) & mask
        mem.slow_store(addr, size, new, pc)
        return old if op & 1 else src

    def ld_abs(self, off: int, size: int, pc: int) -> int | None:
        """Legacy packet load (``LD_ABS``/``LD_IND``): big-endian, None (program returns 0) when
        outside the packet."""
        packet = self.state.packet
        if packet is None:
            raise VMError("LD_ABS/LD_IND needs a packet (socket filter or tc program)", pc=pc)
        off = off & 0xFFFFFFFF
        off = off - (1 << 32) if off >> 31 else off
        data = packet.skb_view()
        if off < 0 or off + size > len(data):
            return None
        return int.from_bytes(data[off:off + size], "big")

    def tail_call_target(self, ctx: int, map_ptr: int, index: int, pc: int) -> Callable[..., int] | None:
        """The entry function of the program in slot ``index`` of a prog array, or None (no such
        program, or the run has already made MAX_TAIL_CALLS tail calls)."""
        m = self.map_of(map_ptr, pc)
        index &= 0xFFFFFFFF
        target = m.target(index) if hasattr(m, "target") else None
        if target is None or index >= m.max_entries:
            return None
        if self.state.tail_calls >= MAX_TAIL_CALLS:
            return None
        self.state.tail_calls += 1
        entry: Callable[..., int] = target.compiled().entry
        return entry


_ATOMIC_OPS: dict[int, Callable[[int, int], int]] = {
    AtomicOp.ADD: lambda a, b: a + b,
    AtomicOp.OR: lambda a, b: a | b,
    AtomicOp.AND: lambda a, b: a & b,
    AtomicOp.XOR: lambda a, b: a ^ b,
}


#: op -> new value from (old, src, r0), for the in-place fast path
_ATOMIC_OPS_FAST: dict[int, Callable[[int, int, int], int]] = {
    AtomicOp.ADD: lambda a, b, r0: a + b, AtomicOp.FETCH_ADD: lambda a, b, r0: a + b,
    AtomicOp.OR: lambda a, b, r0: a | b, AtomicOp.FETCH_OR: lambda a, b, r0: a | b,
    AtomicOp.AND: lambda a, b, r0: a & b, AtomicOp.FETCH_AND: lambda a, b, r0: a & b,
    AtomicOp.XOR: lambda a, b, r0: a ^ b, AtomicOp.FETCH_XOR: lambda a, b, r0: a ^ b,
    AtomicOp.XCHG: lambda a, b, r0: b,
}
_ATOMIC_STRUCT = {4: (struct.Struct("<I").unpack_from, struct.Struct("<I").pack_into),
                  8: (struct.Struct("<Q").unpack_from, struct.Struct("<Q").pack_into)}


def is_helper_name(name: str) -> bool:
    """Whether ``name`` (with or without the ``bpf_`` prefix) names a helper."""
    return (name if name.startswith("bpf_") else "bpf_" + name) in HELPER_IDS


def helper_id(id_or_name: int | str) -> int:
    """A helper's id from its id or name (with or without the ``bpf_`` prefix)."""
    if isinstance(id_or_name, int):
        return id_or_name
    name = id_or_name if id_or_name.startswith("bpf_") else "bpf_" + id_or_name
    try:
        return HELPER_IDS[name]
    except KeyError:
        raise VMError(f"no helper is named {id_or_name!r}") from None
