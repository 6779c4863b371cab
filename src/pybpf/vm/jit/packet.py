"""Packet accesses in one compare: the packet region's table entry kept in registers.

A generic access looks its region up in the region table (region id, clamp, two table loads,
offset, compare); inside a loop LLVM cannot hoist any of it, because the slow path calls back
into Python, which may change the table. Packet programs load from the packet in their hot
loops, so every BPF function keeps the packet region's entry (host pointer, and for each access
size the bound ``length - size + 1``, 0 when the region is shorter than the access) in locals:
read at function entry and read again after every call out of native code (``_Func.check_err``
runs after each one). Nothing else changes the table while native code runs, so the copy is
always what the table holds, and an access ``[off, off + size)`` of the packet with
``off = addr - PACKET_BASE`` is in bounds exactly when ``off <u bound`` (an address in another
region, or below the packet, gives an offset of at least 2**32 or wraps above any bound).
Anything else falls through to the generic path, which also reports faults as before.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from ..memory import PACKET_REGION
from .abi import ENTRY_WORDS

__all__ = ["PacketWindow", "PACKET_BASE", "ACCESS_SIZES"]

PACKET_BASE = PACKET_REGION << 32
ACCESS_SIZES = (1, 2, 4, 8)
I1, I8, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(64)
P8 = I8.as_pointer()
#: table words of an entry: readable length (loads), writable length (stores)
READ_WORD, WRITE_WORD = 1, 2


def _c(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


def _expect(module: ir.Module) -> ir.Function:
    """``i1 llvm.expect.i1(i1, i1)``: tells LLVM which way the packet check goes (in bounds)."""
    fn = module.globals.get("llvm.expect.i1")
    return fn if fn is not None else ir.Function(module, ir.FunctionType(I1, [I1, I1]), "llvm.expect.i1")


class PacketWindow:
    """The packet region's table entry as locals of one lowered BPF function (``f`` is a
    ``lower._Func`` whose builder is still in its entry block)."""

    def __init__(self, f: Any) -> None:
        self.f = f
        b = f.b
        self.host = b.alloca(I64, name="pkt_host")
        #: (size, table word) -> bound; unused ones vanish in mem2reg
        self.bounds = {(size, word): b.alloca(I64, name=f"pkt_{'w' if word == WRITE_WORD else 'r'}{size}")
                       for size in ACCESS_SIZES for word in (READ_WORD, WRITE_WORD)}
        self.reload()

    def reload(self) -> None:
        """Copy the table's packet entry (after entry, and after every call out of native code)."""
        f = self.f
        b = f.b
        # a table without the packet's id reads the NULL region's entry (never mapped: all 0)
        rid = b.select(b.icmp_unsigned(">", f.capacity, _c(PACKET_REGION)), _c(PACKET_REGION), _c(0))
        base = b.mul(rid, _c(ENTRY_WORDS))
        b.store(b.load(b.gep(f.table, [base])), self.host)
        for word in (READ_WORD, WRITE_WORD):
            length = b.load(b.gep(f.table, [b.add(base, _c(word))]))
            for size in ACCESS_SIZES:
                fits = b.icmp_unsigned(">=", length, _c(size))
                b.store(b.select(fits, b.add(b.sub(length, _c(size)), _c(1)), _c(0)), self.bounds[(size, word)])

    def access(self, addr: ir.Value, size: int, *, write: bool) -> tuple[ir.Value, ir.Value]:
        """(``size`` bytes at VM ``addr`` are inside the packet's readable (writable) bytes,
        their host pointer as ``iN*``)."""
        b = self.f.b
        off = b.sub(addr, _c(PACKET_BASE))
        bound = b.load(self.bounds[(size, WRITE_WORD if write else READ_WORD)])
        ok = b.call(_expect(self.f.fn.module), [b.icmp_unsigned("<", off, bound), ir.Constant(I1, 1)])
        ptr = b.gep(b.inttoptr(b.load(self.host), P8), [off])
        return ok, b.bitcast(ptr, ir.IntType(size * 8).as_pointer())
