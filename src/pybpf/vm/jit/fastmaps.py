"""Native fast paths of map helpers on maps with a
:class:`~pybpf.vm.maps.native_index.NativeIndex` (plain HASH and ARRAY), without calling Python:
``bpf_map_lookup_elem`` (also PERCPU_ARRAY, for ``env[CPU]``), ``bpf_map_update_elem`` of an
element that exists (flags ANY or EXIST; a new key, NOEXIST and read-only values are left to
Python), ``bpf_map_delete_elem`` when it changes nothing (a HASH key that is not there:
-ENOENT; any ARRAY key: -EINVAL, as the Python maps answer; deleting a present key is left to
Python, which owns the elements), and ``bpf_get_smp_processor_id`` (``env[CPU]``, which Python
keeps equal to the runtime's ``cpu``). ``bpf_ktime_get_ns`` and ``bpf_get_prandom_u32`` are in
:mod:`.fastmisc`.

``u64 bpf_map_lookup_fast(env, r1, r2)`` returns the value address (or 0 for a miss) exactly as
the Python helper would, or :data:`FALLBACK` when it cannot tell (not a map pointer, a map
without an index, a key not in a fast region, an array element not created yet, a runtime that
replaced the helper with its own); the caller then calls the Python helper as before. The Env
slots ``MAPS``/``NMAPS`` hold the address and length of a ``u64[handle] -> index header``
table the binding fills (0 = no index).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from ..maps.base import MAP_TAG
from ..maps.native_index import EMPTY, FNV_OFFSET, FNV_PRIME, TOMBSTONE, IndexKind
from .abi import ENTRY_WORDS, EnvSlot
from .fastmisc import KTIME_HELPER, PRANDOM_HELPER, emit_ktime, emit_prandom

__all__ = ["FALLBACK", "LOOKUP_SYMBOL", "UPDATE_SYMBOL", "LOOKUP_HELPER", "UPDATE_HELPER", "FAST_HELPERS",
           "SMP_PROCESSOR_ID_HELPER",
           "FastHelpers", "emit_lookup", "emit_update"]

#: bpf_map_lookup_elem, bpf_map_update_elem, bpf_map_delete_elem
LOOKUP_HELPER = 1
UPDATE_HELPER = 2
DELETE_HELPER = 3
#: bpf_get_smp_processor_id: env[CPU] unless that is FALLBACK
SMP_PROCESSOR_ID_HELPER = 8
UPDATE_SYMBOL = "bpf_map_update_fast"
DELETE_SYMBOL = "bpf_map_delete_fast"
#: the helper ids with a native fast path
FAST_HELPERS = frozenset({LOOKUP_HELPER, UPDATE_HELPER, DELETE_HELPER, SMP_PROCESSOR_ID_HELPER, KTIME_HELPER,
                          PRANDOM_HELPER})
ENOENT, EINVAL = 2, 22
#: "ask Python": never a VM address (region ids are far below 2**32 - 1)
FALLBACK = (1 << 64) - 1
LOOKUP_SYMBOL = "bpf_map_lookup_fast"
I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
P8, P64 = I8.as_pointer(), I64.as_pointer()


def _c(v: int) -> ir.Constant:
    return ir.Constant(I64, v & ((1 << 64) - 1))


def emit_lookup(module: ir.Module) -> ir.Function:
    """Add ``bpf_map_lookup_fast`` to ``module`` (see the module docstring)."""
    fn = ir.Function(module, ir.FunctionType(I64, [P8, I64, I64]), LOOKUP_SYMBOL)
    fn.linkage = "internal"
    env_arg, r1, r2 = fn.args
    blk = {n: fn.append_basic_block(n) for n in (
        "entry", "fallback", "has_map", "has_index", "key_ok", "array", "array_in", "hash", "hloop", "hbody",
        "hdone", "probe", "check", "cmp", "cmpbody", "cmpnext", "found", "next", "miss", "zero")}
    b = ir.IRBuilder(blk["entry"])
    env = b.bitcast(env_arg, P64)

    def field(slot: EnvSlot) -> ir.Value:
        return b.load(b.gep(env, [_c(int(slot))]))

    handle = b.and_(r1, _c(0xFFFFFFFF))
    is_map = b.icmp_unsigned("==", b.lshr(r1, _c(60)), _c(MAP_TAG >> 60))
    in_range = b.icmp_unsigned("<", handle, field(EnvSlot.NMAPS))
    b.cbranch(b.and_(is_map, in_range), blk["has_map"], blk["fallback"])

    b.position_at_end(blk["fallback"])
    b.ret(_c(FALLBACK))
    b.position_at_end(blk["zero"])
    b.ret(_c(0))

    b.position_at_end(blk["has_map"])
    maps = b.inttoptr(field(EnvSlot.MAPS), P64)
    hdr_addr = b.load(b.gep(maps, [handle]))
    b.cbranch(b.icmp_unsigned("==", hdr_addr, _c(0)), blk["fallback"], blk["has_index"])

    b.position_at_end(blk["has_index"])
    hdr = b.inttoptr(hdr_addr, P64)
    kind, bound, key_size = (b.load(b.gep(hdr, [_c(i)])) for i in range(3))
    slot_words = b.load(b.gep(hdr, [_c(3)]))
    slots = b.inttoptr(b.load(b.gep(hdr, [_c(4)])), P64)
    # the key: key_size readable bytes of a region the table caches, else Python reads it
    table = b.inttoptr(field(EnvSlot.TABLE), P64)
    rid = b.lshr(r2, _c(32))
    rid_ok = b.icmp_unsigned("<", rid, field(EnvSlot.CAPACITY))
    base = b.mul(b.select(rid_ok, rid, _c(0)), _c(ENTRY_WORDS))
    length = b.load(b.gep(table, [b.add(base, _c(1))]))
    off = b.and_(r2, _c(0xFFFFFFFF))
    fits = b.and_(rid_ok, b.icmp_unsigned("<=", b.add(off, key_size), length))
    b.cbranch(fits, blk["key_ok"], blk["fallback"])

    b.position_at_end(blk["key_ok"])
    key = b.gep(b.inttoptr(b.load(b.gep(table, [base])), P8), [off])
    b.cbranch(b.icmp_unsigned("==", kind, _c(IndexKind.HASH)), blk["hash"], blk["array"])

    # ARRAY: slot i = address of element i (EMPTY until Python creates it); PERCPU_ARRAY: slot
    # i * ncpus + cpu (ARRAY: ncpus = 1, cpu ignored)
    b.position_at_end(blk["array"])
    index = b.zext(b.load(b.bitcast(key, I32.as_pointer()), align=1), I64)
    b.cbranch(b.icmp_unsigned("<", index, bound), blk["array_in"], blk["zero"])
    b.position_at_end(blk["array_in"])
    ncpus = b.load(b.gep(hdr, [_c(6)]))
    percpu = b.icmp_unsigned("==", kind, _c(IndexKind.PERCPU_ARRAY))
    cpu = b.select(percpu, field(EnvSlot.CPU), _c(0))
    cpu_ok = fn.append_basic_block("cpu_ok")
    b.cbranch(b.icmp_unsigned("<", cpu, ncpus), cpu_ok, blk["fallback"])
    b.position_at_end(cpu_ok)
    addr = b.load(b.gep(slots, [b.add(b.mul(index, ncpus), cpu)]))
    b.cbranch(b.icmp_unsigned("==", addr, _c(EMPTY)), blk["fallback"], blk["found"])
    found_array = b.block

    # HASH: FNV-1a over the key, then linear probing from hash & mask (bound)
    b.position_at_end(blk["hash"])
    b.branch(blk["hloop"])
    b.position_at_end(blk["hloop"])
    i = b.phi(I64)
    h = b.phi(I64)
    i.add_incoming(_c(0), blk["hash"])
    h.add_incoming(_c(FNV_OFFSET), blk["hash"])
    b.cbranch(b.icmp_unsigned("<", i, key_size), blk["hbody"], blk["hdone"])
    b.position_at_end(blk["hbody"])
    byte = b.zext(b.load(b.gep(key, [i])), I64)
    i.add_incoming(b.add(i, _c(1)), blk["hbody"])
    h.add_incoming(b.mul(b.xor(h, byte), _c(FNV_PRIME)), blk["hbody"])
    b.branch(blk["hloop"])

    b.position_at_end(blk["hdone"])
    start = b.and_(h, bound)
    b.branch(blk["probe"])
    b.position_at_end(blk["probe"])
    pos = b.phi(I64)
    tries = b.phi(I64)
    pos.add_incoming(start, blk["hdone"])
    tries.add_incoming(_c(0), blk["hdone"])
    # at most half the slots are taken, so an EMPTY slot ends every probe; the bound is a guard
    b.cbranch(b.icmp_unsigned("<=", tries, bound), blk["check"], blk["fallback"])
    b.position_at_end(blk["check"])
    slot = b.gep(slots, [b.mul(pos, slot_words)])
    held = b.load(slot)
    is_empty = b.icmp_unsigned("==", held, _c(EMPTY))
    is_tomb = b.icmp_unsigned("==", held, _c(TOMBSTONE))
    check_key = fn.append_basic_block("check_key")
    b.cbranch(is_empty, blk["miss"], check_key)
    b.position_at_end(check_key)
    stored = b.bitcast(b.gep(slot, [_c(1)]), P8)
    b.cbranch(is_tomb, blk["next"], blk["cmp"])

    b.position_at_end(blk["cmp"])
    j = b.phi(I64)
    j.add_incoming(_c(0), check_key)
    b.cbranch(b.icmp_unsigned("<", j, key_size), blk["cmpbody"], blk["found"])
    found_hash = b.block
    b.position_at_end(blk["cmpbody"])
    same = b.icmp_unsigned("==", b.load(b.gep(key, [j])), b.load(b.gep(stored, [j])))
    b.cbranch(same, blk["cmpnext"], blk["next"])
    b.position_at_end(blk["cmpnext"])
    j.add_incoming(b.add(j, _c(1)), blk["cmpnext"])
    b.branch(blk["cmp"])

    b.position_at_end(blk["next"])
    pos.add_incoming(b.and_(b.add(pos, _c(1)), bound), blk["next"])
    tries.add_incoming(b.add(tries, _c(1)), blk["next"])
    b.branch(blk["probe"])

    b.position_at_end(blk["miss"])
    b.ret(_c(0))

    b.position_at_end(blk["found"])
    result = b.phi(I64)
    result.add_incoming(addr, found_array)
    result.add_incoming(held, found_hash)
    b.ret(result)
    return fn


def _plain(b: ir.IRBuilder, env: ir.Value, addr: ir.Value, size: ir.Value,
           length_word: int) -> tuple[ir.Value, ir.Value]:
    """(``size`` bytes at VM ``addr`` are in a cached region with that many readable (1) or
    writable (2) bytes, their host pointer)."""
    table = b.inttoptr(b.load(b.gep(env, [_c(int(EnvSlot.TABLE))])), P64)
    rid = b.lshr(addr, _c(32))
    rid_ok = b.icmp_unsigned("<", rid, b.load(b.gep(env, [_c(int(EnvSlot.CAPACITY))])))
    base = b.mul(b.select(rid_ok, rid, _c(0)), _c(ENTRY_WORDS))
    length = b.load(b.gep(table, [b.add(base, _c(length_word))]))
    off = b.and_(addr, _c(0xFFFFFFFF))
    fits = b.and_(rid_ok, b.icmp_unsigned("<=", b.add(off, size), length))
    return fits, b.gep(b.inttoptr(b.load(b.gep(table, [base])), P8), [off])


def emit_update(module: ir.Module, lookup: ir.Function) -> ir.Function:
    """Add ``u64 bpf_map_update_fast(env, r1, r2, r3, r4)``: 0 after copying the value over an
    existing element, else FALLBACK (Python decides: new keys, other flags, read-only values)."""
    fn = ir.Function(module, ir.FunctionType(I64, [P8, I64, I64, I64, I64]), UPDATE_SYMBOL)
    fn.linkage = "internal"
    env_arg, r1, r2, r3, r4 = fn.args
    blk = {n: fn.append_basic_block(n) for n in ("entry", "find", "found", "src_ok", "fallback")}
    b = ir.IRBuilder(blk["entry"])
    b.cbranch(b.or_(b.icmp_unsigned("==", r4, _c(0)), b.icmp_unsigned("==", r4, _c(2))),  # ANY, EXIST
              blk["find"], blk["fallback"])
    b.position_at_end(blk["fallback"])
    b.ret(_c(FALLBACK))

    b.position_at_end(blk["find"])
    addr = b.call(lookup, [env_arg, r1, r2])
    absent = b.or_(b.icmp_unsigned("==", addr, _c(FALLBACK)), b.icmp_unsigned("==", addr, _c(0)))
    b.cbranch(absent, blk["fallback"], blk["found"])

    b.position_at_end(blk["found"])
    env = b.bitcast(env_arg, P64)
    maps = b.inttoptr(b.load(b.gep(env, [_c(int(EnvSlot.MAPS))])), P64)
    hdr = b.inttoptr(b.load(b.gep(maps, [b.and_(r1, _c(0xFFFFFFFF))])), P64)
    value_size = b.load(b.gep(hdr, [_c(5)]))
    src_fits, src = _plain(b, env, r3, value_size, 1)
    dst_fits, dst = _plain(b, env, addr, value_size, 2)
    b.cbranch(b.and_(src_fits, dst_fits), blk["src_ok"], blk["fallback"])

    b.position_at_end(blk["src_ok"])
    memmove = module.declare_intrinsic("llvm.memmove", [P8, P8, I64])
    b.call(memmove, [dst, src, value_size, ir.Constant(ir.IntType(1), 0)])
    b.ret(_c(0))
    return fn


def emit_delete(module: ir.Module, lookup: ir.Function) -> ir.Function:
    """Add ``u64 bpf_map_delete_fast(env, r1, r2)``: -ENOENT for a HASH key that is not there,
    -EINVAL for an ARRAY or PERCPU_ARRAY key, else FALLBACK (see the module docstring)."""
    fn = ir.Function(module, ir.FunctionType(I64, [P8, I64, I64]), DELETE_SYMBOL)
    fn.linkage = "internal"
    env_arg, r1, r2 = fn.args
    blk = {n: fn.append_basic_block(n) for n in ("entry", "known", "hash", "array", "fallback")}
    b = ir.IRBuilder(blk["entry"])
    addr = b.call(lookup, [env_arg, r1, r2])  # FALLBACK unless r1 is an indexed map and the key readable
    b.cbranch(b.icmp_unsigned("==", addr, _c(FALLBACK)), blk["fallback"], blk["known"])
    b.position_at_end(blk["fallback"])
    b.ret(_c(FALLBACK))
    b.position_at_end(blk["known"])
    env = b.bitcast(env_arg, P64)
    maps = b.inttoptr(b.load(b.gep(env, [_c(int(EnvSlot.MAPS))])), P64)
    hdr = b.inttoptr(b.load(b.gep(maps, [b.and_(r1, _c(0xFFFFFFFF))])), P64)
    kind = b.load(hdr)
    b.cbranch(b.icmp_unsigned("==", kind, _c(IndexKind.HASH)), blk["hash"], blk["array"])
    b.position_at_end(blk["hash"])
    b.ret(b.select(b.icmp_unsigned("==", addr, _c(0)), _c(-ENOENT), _c(FALLBACK)))
    b.position_at_end(blk["array"])
    b.ret(_c(-EINVAL))
    return fn


class FastHelpers:
    """The fast paths of one module, emitted on first use, and the calls to them."""

    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self.lookup: ir.Function | None = None
        self.update: ir.Function | None = None
        self.delete: ir.Function | None = None
        self.ktime: ir.Function | None = None
        self.prandom: ir.Function | None = None

    def call(self, f: Any, pc: int, hid: int, args: list[ir.Value]) -> ir.Value:
        """Helper ``hid`` (in :data:`FAST_HELPERS`) at slot ``pc`` of the function being lowered
        (a ``lower._Func``): the fast path, and the Python helper only when it says FALLBACK."""
        b = f.b
        if self.lookup is None:
            self.lookup = emit_lookup(self.module)
        if hid == SMP_PROCESSOR_ID_HELPER:
            fast = f.field(EnvSlot.CPU)
        elif hid == UPDATE_HELPER:
            if self.update is None:
                self.update = emit_update(self.module, self.lookup)
            fast = b.call(self.update, [f.fn.args[0], *args[:4]])
        elif hid == DELETE_HELPER:
            if self.delete is None:
                self.delete = emit_delete(self.module, self.lookup)
            fast = b.call(self.delete, [f.fn.args[0], *args[:2]])
        elif hid == KTIME_HELPER:
            if self.ktime is None:
                self.ktime = emit_ktime(self.module)
            fast = b.call(self.ktime, [f.fn.args[0]])
        elif hid == PRANDOM_HELPER:
            if self.prandom is None:
                self.prandom = emit_prandom(self.module)
            fast = b.call(self.prandom, [f.fn.args[0]])
        else:
            fast = b.call(self.lookup, [f.fn.args[0], args[0], args[1]])
        return f.fast_or_python(b.icmp_unsigned("!=", fast, _c(FALLBACK)), fast, EnvSlot.HELPER_FN,
                                [_c(hid), *args, f.depth, _c(pc)], "helper")
