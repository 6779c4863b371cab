"""Native fast paths of ``bpf_ktime_get_ns`` and ``bpf_get_prandom_u32``, with exactly the
Python helpers' results.

* ``bpf_ktime_get_ns`` is ``runtime.clock()``, by default ``time.monotonic_ns``, which on Linux
  is ``clock_gettime(CLOCK_MONOTONIC)``: native code calls that through ``env[CLOCK_FN]``, which
  the binding sets only while ``runtime.clock`` is ``time.monotonic_ns`` (0: ask Python).
* ``bpf_get_prandom_u32`` is ``runtime.random.getrandbits(32)``: one output of CPython's
  Mersenne Twister. ``env[RANDOM]`` is the address of that generator's C state (``int index;
  uint32_t state[624]`` after the object header), found by :func:`random_state_address` only
  when a probe of a fresh generator finds that layout (else 0: ask Python). Native code takes
  the next word and tempers it as CPython does, so Python and native draws interleave in one
  sequence; when the 624 words are used up it asks Python, which regenerates them.
"""

from __future__ import annotations

import ctypes
import random
import time
from typing import Any

from llvmlite import ir

from .abi import EnvSlot

__all__ = ["KTIME_HELPER", "PRANDOM_HELPER", "emit_ktime", "emit_prandom", "clock_address",
           "random_state_address"]

KTIME_HELPER = 5
PRANDOM_HELPER = 7
CLOCK_MONOTONIC = 1
#: CPython's RandomObject: the header (refcount, type), then ``int index``, then the state
MT_INDEX_OFFSET = 16
MT_STATE_OFFSET = 20
MT_N = 624
I32, I64 = ir.IntType(32), ir.IntType(64)
P8, P64 = ir.IntType(8).as_pointer(), I64.as_pointer()
FALLBACK = (1 << 64) - 1


def _c(v: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, v & ((1 << ty.width) - 1))


def _env_word(b: ir.IRBuilder, env_arg: ir.Value, slot: EnvSlot) -> ir.Value:
    return b.load(b.gep(b.bitcast(env_arg, P64), [_c(int(slot))]))


def emit_ktime(module: ir.Module) -> ir.Function:
    """``u64 bpf_ktime_fast(env)``: CLOCK_MONOTONIC in ns, or FALLBACK."""
    fn = ir.Function(module, ir.FunctionType(I64, [P8]), "bpf_ktime_fast")
    fn.linkage = "internal"
    entry, call, done, fallback = (fn.append_basic_block(n) for n in ("entry", "call", "done", "fallback"))
    b = ir.IRBuilder(entry)
    ts = b.alloca(ir.ArrayType(I64, 2), name="ts")  # struct timespec {long tv_sec; long tv_nsec}
    address = _env_word(b, fn.args[0], EnvSlot.CLOCK_FN)
    b.cbranch(b.icmp_unsigned("==", address, _c(0)), fallback, call)
    b.position_at_end(fallback)
    b.ret(_c(FALLBACK))
    b.position_at_end(call)
    clock_gettime = b.inttoptr(address, ir.FunctionType(I32, [I32, P8]).as_pointer())
    rc = b.call(clock_gettime, [_c(CLOCK_MONOTONIC, I32), b.bitcast(ts, P8)])
    b.cbranch(b.icmp_unsigned("==", rc, _c(0, I32)), done, fallback)
    b.position_at_end(done)
    sec = b.load(b.gep(ts, [_c(0), _c(0)]))
    nsec = b.load(b.gep(ts, [_c(0), _c(1)]))
    b.ret(b.add(b.mul(sec, _c(1_000_000_000)), nsec))
    return fn


def emit_prandom(module: ir.Module) -> ir.Function:
    """``u64 bpf_prandom_fast(env)``: the generator's next 32-bit output, or FALLBACK (no
    generator, or its 624 words used up)."""
    fn = ir.Function(module, ir.FunctionType(I64, [P8]), "bpf_prandom_fast")
    fn.linkage = "internal"
    entry, has, draw, fallback = (fn.append_basic_block(n) for n in ("entry", "has", "draw", "fallback"))
    b = ir.IRBuilder(entry)
    address = _env_word(b, fn.args[0], EnvSlot.RANDOM)
    b.cbranch(b.icmp_unsigned("==", address, _c(0)), fallback, has)
    b.position_at_end(fallback)
    b.ret(_c(FALLBACK))
    b.position_at_end(has)
    obj = b.inttoptr(address, P8)
    index_ptr = b.bitcast(b.gep(obj, [_c(MT_INDEX_OFFSET)]), I32.as_pointer())
    index = b.load(index_ptr)
    in_range = b.and_(b.icmp_signed(">=", index, _c(0, I32)), b.icmp_signed("<", index, _c(MT_N, I32)))
    b.cbranch(in_range, draw, fallback)
    b.position_at_end(draw)
    state = b.bitcast(b.gep(obj, [_c(MT_STATE_OFFSET)]), I32.as_pointer())
    y = b.load(b.gep(state, [b.zext(index, I64)]))
    b.store(b.add(index, _c(1, I32)), index_ptr)
    y = b.xor(y, b.lshr(y, _c(11, I32)))  # MT19937 tempering, as genrand_uint32
    y = b.xor(y, b.and_(b.shl(y, _c(7, I32)), _c(0x9D2C5680, I32)))
    y = b.xor(y, b.and_(b.shl(y, _c(15, I32)), _c(0xEFC60000, I32)))
    y = b.xor(y, b.lshr(y, _c(18, I32)))
    b.ret(b.zext(y, I64))
    return fn


_clock: list[int] = []


def clock_address(clock: Any) -> int:
    """``env[CLOCK_FN]`` for a runtime whose clock is ``clock``: clock_gettime's address when
    ``clock`` is ``time.monotonic_ns`` (what it calls on Linux), else 0."""
    if clock is not time.monotonic_ns or not hasattr(time, "CLOCK_MONOTONIC"):
        return 0
    if not _clock:
        try:
            _clock.append(ctypes.cast(ctypes.CDLL(None).clock_gettime, ctypes.c_void_p).value or 0)
        except (OSError, AttributeError):
            _clock.append(0)
    return _clock[0]


def _mt_state(gen: random.Random) -> tuple[int, list[int]]:
    base = id(gen)
    return (ctypes.c_int.from_address(base + MT_INDEX_OFFSET).value,
            list((ctypes.c_uint32 * MT_N).from_address(base + MT_STATE_OFFSET)))


def _layout_holds() -> bool:
    """Does a fresh ``random.Random`` keep its state where :data:`MT_INDEX_OFFSET` and
    :data:`MT_STATE_OFFSET` say, and does a draw take the next word, tempered?"""
    probe = random.Random(0x5EED)
    _, internal, _ = probe.getstate()
    index, state = _mt_state(probe)
    if index != internal[MT_N] or state != list(internal[:MT_N]):
        return False
    value = probe.getrandbits(32)
    index, state = _mt_state(probe)
    y = state[index - 1] if 0 < index <= MT_N else -1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y == value and list(probe.getstate()[1][:MT_N]) == state


_layout: list[bool] = []


def random_state_address(gen: object) -> int:
    """``env[RANDOM]`` for a runtime whose generator is ``gen``: its address when it is exactly a
    ``random.Random`` and the layout probe passes, else 0. The caller keeps ``gen`` alive while
    native code may use the address."""
    if type(gen) is not random.Random:
        return 0
    if not _layout:
        _layout.append(_layout_holds())
    return id(gen) if _layout[0] else 0
