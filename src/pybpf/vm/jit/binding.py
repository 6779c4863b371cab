"""The Python side of JIT-compiled programs: the native region table of a VM's memory, the
trampolines native code calls back through (helpers, slow memory paths, atomics), and the
Python callables that make native functions look like the interpreter's.

Region table safety: an entry is filled only from the VM's own ``Memory`` lists (a region's
bytearray and its fast-path lengths), a reference to the bytearray is kept while the entry is
live, and the entries are re-validated before each native entry and after each helper call (a
helper may unmap a region, replace a packet buffer, ...). A stale entry is cleared, so native
code falls back to the slow path, which asks ``Memory`` again.
"""

from __future__ import annotations

import ctypes
import struct
import weakref
from typing import TYPE_CHECKING, Any, Callable

from ..interpreter import BACK_EDGE_LIMIT, CALLBACK_HELPERS, TAIL_CALL_HELPER, CompiledProgram, _depth, _limit
from ..maps.base import MAP_TAG
from ..memory import CTX_REGION, MAX_CALL_FRAMES, STACK_REGION, Memory, VMError
from ...enums import ProgramType
from .abi import CTX_CACHE_ENTRIES, ENTRY_WORDS, ENV_SLOTS, ERR_PYTHON, ERR_STATIC, EnvSlot, SlowKind
from .engine import NativeProgram
from .fastmaps import DELETE_HELPER, LOOKUP_HELPER, SMP_PROCESSOR_ID_HELPER, UPDATE_HELPER
from .fastmisc import KTIME_HELPER, PRANDOM_HELPER, clock_address, random_state_address
from .lower import StaticError

if TYPE_CHECKING:
    from ...isa import Instruction
    from ..runtime import Runtime

__all__ = ["RegionTable", "bind_program"]

M64 = (1 << 64) - 1
U64 = ctypes.c_uint64
_CALLBACK = ctypes.CFUNCTYPE(U64)
# native code is entered with the GIL held (PYFUNCTYPE): nothing else touches the VM meanwhile
_THUNK = ctypes.PYFUNCTYPE(U64, ctypes.c_void_p)
A = int(EnvSlot.ARGS)
_CTX_BASE = CTX_REGION << 32


def _host_address(buf: bytearray) -> int:
    if not len(buf):
        return 0
    view = ctypes.c_char.from_buffer(buf)
    address = ctypes.addressof(view)
    del view  # release the buffer export at once: the region may be resized by Python code
    return address


class RegionTable:
    """The native copy of one Memory's fast-path view (see the module docstring)."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.capacity = memory.capacity
        self.words = (U64 * (ENTRY_WORDS * self.capacity))()
        self.address = ctypes.addressof(self.words)
        #: rid -> (buffer, its length, rlen, wlen) as cached
        self.cached: dict[int, tuple[bytearray, int, int, int]] = {}
        #: the Memory epoch and the cached (buffer, length) pairs of the last full validate()
        self._epoch = -1
        self._lengths: list[tuple[bytearray, int]] = []
        for depth in range(MAX_CALL_FRAMES):
            self.fill(STACK_REGION + depth)
        #: the stack frames, checked once per entry from Python; the rest after every helper too
        self.stacks = dict(self.cached)
        self.cached.clear()

    def fill(self, rid: int) -> None:
        """Cache region ``rid`` if it has a plain fast path."""
        mem = self.memory
        if not 0 <= rid < self.capacity or rid in self.cached or rid in getattr(self, "stacks", ()):
            return
        rlen, wlen = mem.rlen[rid], mem.wlen[rid]
        buf = mem.bufs[rid]
        if not (rlen or wlen) or not isinstance(buf, bytearray) or max(rlen, wlen) > len(buf):
            return
        base = rid * ENTRY_WORDS
        self.words[base] = _host_address(buf)
        self.words[base + 1] = rlen
        self.words[base + 2] = wlen
        self.cached[rid] = (buf, len(buf), rlen, wlen)
        self._epoch = -1  # the next validate() checks the new entry in full

    def drop(self, rid: int) -> None:
        base = rid * ENTRY_WORDS
        self.words[base + 1] = self.words[base + 2] = 0
        self.words[base] = 0
        self.cached.pop(rid, None)
        self._epoch = -1

    def validate(self) -> None:
        """Clear every cached entry that no longer matches the Memory. While the Memory's epoch
        is unchanged (nothing mapped, refreshed or dropped) only the buffers' lengths can have
        changed (a bytearray resized in place), so only they are checked."""
        if not self.cached:
            return
        mem = self.memory
        if mem.epoch == self._epoch:
            for buf, n in self._lengths:
                if len(buf) != n:
                    break
            else:
                return
        self._validate()
        self._epoch = mem.epoch
        self._lengths = [(buf, n) for buf, n, _, _ in self.cached.values()]

    def _validate(self) -> None:
        mem = self.memory
        bufs, rlen, wlen = mem.bufs, mem.rlen, mem.wlen
        stale = [rid for rid, (buf, n, r, w) in self.cached.items()
                 if bufs[rid] is not buf or len(buf) != n or rlen[rid] != r or wlen[rid] != w]
        for rid in stale:
            self.drop(rid)
            self.fill(rid)  # remapped (a new packet, ...): cheaper now than through a slow path

    def validate_stacks(self) -> None:
        """The stack frames are mapped once by Memory and never replaced or resized (helpers write
        them in place); checked when a program is bound. Even a replaced frame could not make
        native code touch freed memory: the table keeps the old buffer alive."""
        bufs = self.memory.bufs
        for rid, (buf, n, _, _) in self.stacks.items():
            if bufs[rid] is not buf or len(buf) != n:
                raise VMError(f"stack region {rid} was replaced; the JIT needs the VM's own stack frames")


_tables: weakref.WeakKeyDictionary[Memory, RegionTable] = weakref.WeakKeyDictionary()


def region_table(memory: Memory) -> RegionTable:
    """The region table of ``memory`` (one per Memory, created on first use)."""
    table = _tables.get(memory)
    if table is None:
        table = _tables[memory] = RegionTable(memory)
    return table


class _Binding:
    """One program's native code bound to one Runtime: its Env, trampolines and helpers."""

    def __init__(self, native: NativeProgram, runtime: Runtime, helpers: dict[int, Callable[..., int]], *,
                 cache_ctx: bool = False) -> None:
        self.native = native
        #: serve repeated context loads from CTX_CACHE (only for contexts whose hooks are pure
        #: functions of state Python code changes: xdp_md)
        self.cache_ctx = cache_ctx
        self.rt = runtime
        self.table = region_table(runtime.memory)
        self.memory = runtime.memory
        self.table.validate_stacks()
        self.helpers = helpers
        self.pending: BaseException | None = None
        #: context fields (offset -> size) native code read through the hook: filled into
        #: CTX_CACHE by the entry itself (a direct hook call costs far less than a callback)
        self.ctx_hot: dict[int, int] = {}
        self.env = (U64 * ENV_SLOTS)()
        self.env_address = ctypes.addressof(self.env)
        self.args = memoryview(self.env).cast("B").cast("Q")  # fast access to env[...]
        self._callbacks = (_CALLBACK(self._helper), _CALLBACK(self._slow), _CALLBACK(self._atomic))
        env = self.env
        env[EnvSlot.TABLE] = self.table.address
        env[EnvSlot.CAPACITY] = self.table.capacity
        for slot, cb in zip((EnvSlot.HELPER_FN, EnvSlot.SLOW_FN, EnvSlot.ATOMIC_FN), self._callbacks):
            env[slot] = ctypes.cast(cb, ctypes.c_void_p).value or 0
        #: native bpf_ktime_get_ns / bpf_get_prandom_u32 (see fastmisc): the program calls them
        #: and the runtime has no Python helper of its own for them
        own = getattr(runtime, "_python_helpers", {})
        self.native_clock = KTIME_HELPER in native.helper_ids and KTIME_HELPER not in own
        self.native_random = PRANDOM_HELPER in native.helper_ids and PRANDOM_HELPER not in own
        self.random: object = None  # the generator env[RANDOM] points into (kept alive)
        self.misc_words()
        self.functions = {slot: self._wrap(_THUNK(addr)) for slot, addr in native.addresses.items()}
        self.map_table: ctypes.Array[ctypes.c_uint64] | None = None
        self.refresh_maps()
        #: native code answers bpf_get_smp_processor_id and per-CPU lookups from env[CPU]
        self.native_cpu = SMP_PROCESSOR_ID_HELPER not in getattr(runtime, "_python_helpers", {})
        self.env[EnvSlot.CPU] = self.cpu_word()
        self._repeat = _THUNK(native.repeat_address)

    def refresh_maps(self) -> None:
        """Point ``env[MAPS]`` at the native indexes of the runtime's maps (native lookups are
        off while the runtime has its own Python bpf_map_lookup_elem or bpf_map_update_elem)."""
        rt = self.rt
        maps = getattr(rt, "maps", {})
        own = getattr(rt, "_python_helpers", {})
        if LOOKUP_HELPER in own or UPDATE_HELPER in own or DELETE_HELPER in own or not maps:
            self.env[EnvSlot.NMAPS] = 0
            return
        table = (U64 * (max(maps) + 1))()
        for handle, m in maps.items():
            index = getattr(m, "native_index", None)
            if index is not None and handle >= 0:
                table[handle] = index.address
        self.map_table = table  # the old table stays alive until the Env points at the new one
        self.env[EnvSlot.MAPS] = ctypes.addressof(table)
        self.env[EnvSlot.NMAPS] = len(table)

    def misc_words(self) -> None:
        """Point ``env[CLOCK_FN]`` / ``env[RANDOM]`` at the runtime's clock and generator as they
        are now (0 when native code must ask Python); called on entry and after every helper."""
        rt = self.rt
        if self.native_clock:
            self.args[EnvSlot.CLOCK_FN] = clock_address(rt.clock)
        if self.native_random and rt.random is not self.random:
            self.random = rt.random
            self.args[EnvSlot.RANDOM] = random_state_address(rt.random)

    def cpu_word(self) -> int:
        """What ``env[CPU]`` holds: the runtime's cpu, or FALLBACK when native code must not
        answer for it (the runtime has its own bpf_get_smp_processor_id, an odd cpu value)."""
        cpu = self.rt.cpu
        return cpu if self.native_cpu and cpu.__class__ is int and 0 <= cpu < 1 << 16 else M64

    def _indexed_but_unlisted(self, ptr: int) -> bool:
        """A map pointer whose map has a native index the Env's map table does not list yet."""
        handle = ptr & 0xFFFFFFFF
        m = getattr(self.rt, "maps", {}).get(handle) if ptr >> 60 == MAP_TAG >> 60 else None
        if getattr(m, "native_index", None) is None:
            return False
        table = self.map_table
        return table is None or handle >= self.env[EnvSlot.NMAPS] or not table[handle]

    def _fill_element(self, ptr: int, key_addr: int) -> None:
        """After Python updated an element of an indexed map: cache the element's region, so
        the next update of it runs natively (HASH and ARRAY lookups have no side effects)."""
        m = self.rt.maps.get(ptr & 0xFFFFFFFF) if ptr >> 60 == MAP_TAG >> 60 else None
        if m is not None and getattr(m, "native_index", None) is not None:
            address = m.bpf_lookup(self.memory.read(key_addr, m.key_size), self.rt.cpu)
            if address:
                self.table.fill(address >> 32)

    # ---- trampolines (called from native code; never raise) ---------------------------------

    def _error(self, exc: BaseException) -> int:
        self.pending = exc
        self.args[EnvSlot.ERR] = ERR_PYTHON
        return 0

    def _helper(self) -> int:
        hid, r1, r2, r3, r4, r5, depth, pc = self.args[A:A + 8]
        if hid >= 1 << 63:
            hid -= 1 << 64  # a negative helper id (imm) comes back as a u64; the table keeps imm
        self.args[EnvSlot.GEN] += 1
        try:
            if hid == TAIL_CALL_HELPER:
                target = self.rt.tail_call_target(r1, r2, r3, pc)
                if target is None:
                    return 0
                result = target(r1, 0, 0, 0, 0, depth) & M64
                self.table.validate()
                self.args[EnvSlot.FLAG] = 1
                return result
            fn = self.helpers[hid]
            if hid in (LOOKUP_HELPER, UPDATE_HELPER) and self._indexed_but_unlisted(r1):
                self.refresh_maps()  # a map created after the program was bound
            if hid in CALLBACK_HELPERS:
                result = fn(r1, r2, r3, r4, r5, depth) & M64
            else:
                result = fn(r1, r2, r3, r4, r5) & M64
                if hid == LOOKUP_HELPER and result:
                    self.table.fill(result >> 32)  # the value's region, for native accesses and updates
                elif hid == UPDATE_HELPER and not result:
                    self._fill_element(r1, r2)
            self.args[EnvSlot.CPU] = self.cpu_word()  # a Python helper may have moved the cpu
            if self.native_clock or self.native_random:
                self.misc_words()
            self.table.validate()
            self.args[EnvSlot.GEN] += 1
            return result
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller of the native code
            return self._error(exc)

    def _slow(self) -> int:
        kind, addr, size, value, pc = self.args[A:A + 5]
        try:
            rt = self.rt
            if kind == SlowKind.LD_ABS:
                v = rt.ld_abs(addr, size, pc)
                if v is None:
                    self.args[EnvSlot.FLAG] = 1
                    return 0
                return v
            self.table.fill(addr >> 32)
            if kind == SlowKind.LOAD:
                v = rt.slow_load(addr, size, pc)
                off = addr - _CTX_BASE
                if self.cache_ctx and 0 <= off < 4 * CTX_CACHE_ENTRIES and not off & 3:
                    at = EnvSlot.CTX_CACHE + (off >> 1)
                    self.args[at] = self.args[EnvSlot.GEN] << 4 | size
                    self.args[at + 1] = v
                    self.ctx_hot[off] = size
                return v
            if kind == SlowKind.LOAD_SIGNED:
                return rt.slow_load_signed(addr, size, pc)
            self.args[EnvSlot.GEN] += 1
            rt.slow_store(addr, size, value, pc)
            return 0
        except BaseException as exc:  # noqa: BLE001
            return self._error(exc)

    def _atomic(self) -> int:
        addr, size, op, src, r0, dst, pc = self.args[A:A + 7]
        try:
            self.args[EnvSlot.GEN] += 1
            self.table.fill(addr >> 32)
            return self.rt.atomic(addr, size, op, src, r0, dst, pc) & M64
        except BaseException as exc:  # noqa: BLE001
            return self._error(exc)

    def repeat(self, r1: int, times: int) -> int:
        """Run the entry ``times`` times from a native loop (r2-r5 = 0, depth 0); r0 of the
        last run. The Python side is not re-entered between runs: no per-run resets."""
        self.table.validate()
        args = self.args
        args[EnvSlot.GEN] += 1
        args[A:A + 7] = memoryview(struct.pack("<7Q", r1 & M64, 0, 0, 0, 0, 0, max(times, 0))).cast("Q")
        args[EnvSlot.CPU] = self.cpu_word()
        self.misc_words()
        if self.ctx_hot:
            self.prefill_ctx()
        r0 = self._repeat(ctypes.c_void_p(self.env_address))
        if args[0]:
            self._raise()
        return int(r0)

    def prefill_ctx(self) -> None:
        """Serve the context fields earlier runs read (``ctx_hot``) from CTX_CACHE at once: the
        same values native code would get from the hook now (nothing runs in between)."""
        region = self.memory.region_of(_CTX_BASE)
        load = region.load if region is not None and region.readable else None
        if load is None:
            return
        args = self.args
        tag = args[EnvSlot.GEN] << 4
        for off, size in self.ctx_hot.items():
            try:
                v = load(off, size)
            except Exception:  # noqa: BLE001 - left to the slow path, which reports it as it does
                continue
            if v is not None:
                at = EnvSlot.CTX_CACHE + (off >> 1)
                args[at] = tag | size
                args[at + 1] = v

    # ---- Python view of the native functions -------------------------------------------------

    def _raise(self) -> None:
        args = self.args
        code = args[EnvSlot.ERR]
        args[EnvSlot.ERR] = 0
        args[EnvSlot.FLAG] = 0
        if code == ERR_PYTHON:
            exc, self.pending = self.pending, None
            assert exc is not None
            raise exc
        _raise_static(self.native.errors[code - ERR_STATIC])

    def _wrap(self, fn: Callable[..., int]) -> Callable[..., int]:
        env = ctypes.c_void_p(self.env_address)
        validate = self.table.validate
        args = self.args
        zeros = memoryview(bytes(40)).cast("Q")
        first, rest, gen = A, slice(A + 1, A + 6), EnvSlot.GEN
        hot, prefill = self.ctx_hot, self.prefill_ctx
        memory = self.memory
        seen = [-1]  # the Memory epoch of the last entry

        cpu_slot, cpu_word, rt = EnvSlot.CPU, self.cpu_word, self.rt
        last_cpu = [args[cpu_slot], rt.cpu]  # (word, rt.cpu it was made from)
        misc = self.misc_words if self.native_clock or self.native_random else None

        def run(r1: int, r2: int, r3: int, r4: int, r5: int, d: int) -> int:
            validate()
            if misc is not None:
                misc()
            if rt.cpu is not last_cpu[1]:
                last_cpu[1] = rt.cpu
                args[cpu_slot] = cpu_word()
            epoch = memory.epoch
            fresh = epoch != seen[0]
            if fresh:  # regions changed since the last entry: hook values may have too
                args[gen] += 1
                seen[0] = epoch
            try:
                args[first] = r1
                if r2 or r3 or r4 or r5 or d:
                    if not 0 <= d < MAX_CALL_FRAMES:
                        raise IndexError("list index out of range")  # as the interpreter's frame lookup
                    args[rest] = _pack(r2, r3, r4, r5, d)
                else:
                    args[rest] = zeros
            except (ValueError, OverflowError, struct.error):  # an argument outside u64: wrap it
                args[first] = r1 & M64
                args[rest] = _pack(r2 & M64, r3 & M64, r4 & M64, r5 & M64, d)
            if fresh and hot:
                prefill()
            r0 = fn(env)
            if args[0]:
                self._raise()
            return r0
        return run


def _pack(*values: int) -> memoryview:
    return memoryview(_struct5.pack(*values)).cast("Q")


_struct5 = struct.Struct("<5Q")


def _raise_static(err: StaticError) -> None:
    if err.kind == "limit":
        limit = int(err.message)
        if limit == BACK_EDGE_LIMIT:
            _limit(err.pc)
        _limit(err.pc, limit)  # the interpreter's message for a runtime's own limit
    if err.kind == "depth":
        _depth(err.pc)
    raise VMError(err.message, pc=err.pc)


def bind_program(native: NativeProgram, name: str, insns: list[Instruction], runtime: Runtime,
                 prog_type: ProgramType | None = None) -> CompiledProgram:
    """The native code of a program as the interpreter's :class:`CompiledProgram` (same calling
    convention: ``entry(r1, r2, r3, r4, r5, depth) -> r0``)."""
    helpers = {hid: runtime.helper(hid, 0) for hid in native.helper_ids if hid != TAIL_CALL_HELPER}
    binding = _Binding(native, runtime, helpers, cache_ctx=prog_type == ProgramType.XDP)
    slots: dict[int, Any] = {}
    slot = 0
    for insn in insns:
        slots[slot] = insn
        slot += insn.slots
    compiled = CompiledProgram(name, binding.functions[0], binding.functions, native.ir, len(insns), slots)
    compiled.binding = binding  # type: ignore[attr-defined]  # keeps the trampolines alive
    return compiled
