"""The contract between generated native code and its Python side.

Each compiled BPF function is ``u64 f(Env *env, u64 r1, .., u64 r5, i64 depth)``; Python enters it
through ``u64 thunk(Env *env)``, which takes r1..r5 and depth from ``env[ARGS..]``. ``Env`` is an
array of u64 slots (:class:`EnvSlot`); the region table it points to has one
``{host pointer, readable length, writable length}`` triple of u64 per region id of the VM's
:class:`~pybpf.vm.memory.Memory`. An access ``[off, off + size)`` of region ``id`` runs natively
when ``off + size <= length``; everything else (special regions, faults, a region not cached yet)
calls back into Python through ``slow_fn``, which raises the interpreter's own :class:`VMError`.

An error ends the native code at once: ``env[ERR]`` is :data:`ERR_PYTHON` (a Python exception is
pending on the Python side) or ``ERR_STATIC + k`` (static error ``k`` of the compiled program:
invalid instruction, runaway loop, ...), and every function returns 0 up the native stack.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EnvSlot", "SlowKind", "ENV_SLOTS", "ERR_PYTHON", "ERR_STATIC", "ENTRY_WORDS", "thunk_symbol",
           "CTX_CACHE_ENTRIES"]


class EnvSlot(IntEnum):
    """Index of a u64 in the ``Env`` array."""

    ERR = 0          # 0 = running; see ERR_PYTHON / ERR_STATIC
    TABLE = 1        # address of the region table (u64[3 * capacity])
    CAPACITY = 2     # number of region ids the table covers
    FLAG = 3         # set by the Python side: a tail call happened / LD_ABS was out of the packet
    HELPER_FN = 4    # u64 helper(void); ARGS: id, r1..r5, depth, pc
    SLOW_FN = 5      # u64 slow(void); ARGS: kind, addr, size, value, pc
    ATOMIC_FN = 6    # u64 atomic(void); ARGS: addr, size, op, src, r0, dst, pc
    GEN = 7          # generation of the context-load cache (bumped by Python, see CTX_CACHE)
    ARGS = 8         # ARGS..ARGS+7: arguments of a call across the boundary (either way)
    CTX_CACHE = 16   # CTX_CACHE_ENTRIES pairs (tag, value): context loads served by a region hook
    MAPS = 144       # address of u64[NMAPS]: map handle -> NativeIndex header address (0 = none)
    NMAPS = 145      # map handles MAPS covers (0: no native map lookups)
    CPU = 146        # the runtime's cpu (set by Python on entry and after every helper)
    CLOCK_FN = 147   # address of clock_gettime while runtime.clock is time.monotonic_ns, else 0
    RANDOM = 148     # address of runtime.random's Mersenne Twister state (see fastmisc), else 0


#: arguments travel through Env memory, not as C arguments: ctypes converts each C argument
#: of a callback or foreign call on every call (~0.35 us apiece), a memoryview store is ~30 ns
ENV_SLOTS = 16 + 2 * 64 + 5
#: Context fields computed by a Python hook (xdp_md's data/data_end pointers) are pure functions
#: of VM state only Python code changes; a value read once stays valid until control next
#: returns to Python. Entry ``off // 4`` holds ``(GEN << 4 | size, value)`` for a 4-byte-aligned
#: offset below 256; Python bumps GEN on every callback except plain loads, and on an entry
#: when the Memory's ``epoch`` moved since the previous one (a region was mapped, replaced,
#: resized or dropped: a new packet, an adjusted head, ...); xdp_md's hook reads nothing else.
CTX_CACHE_ENTRIES = 64
#: u64 words per region-table entry: host pointer, readable bytes, writable bytes
ENTRY_WORDS = 3
ERR_PYTHON = 1
ERR_STATIC = 2


class SlowKind(IntEnum):
    """What ``slow_fn`` is asked to do."""

    LOAD = 0
    LOAD_SIGNED = 1
    STORE = 2
    LD_ABS = 3


def thunk_symbol(slot: int) -> str:
    """The symbol of the Python entry thunk of the BPF function at ``slot``."""
    return f"bpf_t{slot}"
