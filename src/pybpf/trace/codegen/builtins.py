"""Builtin variables: pid, tid, comm, nsecs, elapsed, cpu, curtask, kstack, argN, retval, func..."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from llvmlite import ir

from .. import ast as A
from ..types import AddrSpace, StackType, UINT64, INT32
from . import maps as M
from . import probes as PR
from .helpers import I64, Helper, call
from .irgen import CodegenError, const

if TYPE_CHECKING:
    from .irgen import ProbeGen

BPF_F_USER_STACK = 1 << 8


def _pid_tgid(g: ProbeGen) -> ir.Value:
    return call(g.b, Helper.GET_CURRENT_PID_TGID)


def _uid_gid(g: ProbeGen) -> ir.Value:
    return call(g.b, Helper.GET_CURRENT_UID_GID)


def _comm(g: ProbeGen) -> ir.Value:
    out = g.slot(16)
    g.zero(out, 16)
    call(g.b, Helper.GET_CURRENT_COMM, out, const(16))
    return out


def _elapsed(g: ProbeGen) -> ir.Value:
    g.u.needs_vars = True
    now = call(g.b, Helper.KTIME_GET_NS)
    p = call(g.b, Helper.MAP_LOOKUP_ELEM, g.u.map_global(M.VARS_NAME), g._zero_key)
    start = g.b.block
    _, join = g.if_then(g.truth(p), "have_start")
    base = g.load_int(p, 8)
    have = g.b.block
    g.close(join)
    phi = g.b.phi(I64)
    phi.add_incoming(const(0), start)
    phi.add_incoming(base, have)
    return g.b.sub(now, phi)


@lru_cache(maxsize=1)
def _task_offsets() -> tuple[int, int]:
    """Offsets of ``task_struct.real_parent`` and ``task_struct.tgid`` from kernel BTF."""
    from ...btf import kernel_btf
    from ..semantic import btftypes

    btf = kernel_btf()
    task = btftypes.record_by_name(btf, "struct task_struct")
    if task is None:
        raise CodegenError("ppid needs kernel BTF with struct task_struct")
    parent = btftypes.find_member(btf, task, "real_parent")
    tgid = btftypes.find_member(btf, task, "tgid")
    if parent is None or tgid is None:
        raise CodegenError("ppid: struct task_struct has no real_parent/tgid in this kernel's BTF")
    return parent[0], tgid[0]


def _ppid(g: ProbeGen) -> ir.Value:
    from .exprs import read_scalar
    parent_off, tgid_off = _task_offsets()
    task = call(g.b, Helper.GET_CURRENT_TASK)
    parent = read_scalar(g, g.b.add(task, const(parent_off)), UINT64, AddrSpace.KERNEL)
    return read_scalar(g, g.b.add(parent, const(tgid_off)), INT32, AddrSpace.KERNEL)


def stack(g: ProbeGen, t: StackType, dest: ir.Value) -> None:
    """Write ``u64 nr`` [``u64 pid``] and the addresses of the current stack at ``dest``."""
    user = not t.kernel
    addrs = g.gep(dest, 16 if user else 8)
    n = call(g.b, Helper.GET_STACK, g.ctx, addrs, const(8 * t.limit), const(BPF_F_USER_STACK if user else 0))
    neg = g.b.icmp_signed("<", n, const(0))
    nr = g.b.select(neg, const(0), g.b.lshr(n, const(3)))
    g.store_int(nr, dest, 8)
    if user:
        g.store_int(g.b.lshr(_pid_tgid(g), const(32)), g.gep(dest, 8), 8)


def stack_id(g: ProbeGen, t: StackType) -> ir.Value:
    """A stack id in this script's stack map for ``t`` (what a map key stores)."""
    name = g.u.stack_maps.setdefault((t.kernel, t.limit), M.stack_map_name(t))
    flags = 0 if t.kernel else BPF_F_USER_STACK
    return call(g.b, Helper.GET_STACKID, g.ctx, g.u.map_global(name), const(flags))


def _stack_value(g: ProbeGen, node: A.Builtin) -> ir.Value:
    t = g.type_of(node)
    assert isinstance(t, StackType)
    out = g.slot(t.size)
    stack(g, t, out)
    return out


def _func(g: ProbeGen) -> ir.Value:
    if PR.user_context(g):
        out = g.slot(16)
        g.store_int(PR.ip(g), out, 8)
        g.store_int(g.b.lshr(_pid_tgid(g), const(32)), g.gep(out, 8), 8)
        return out
    return PR.ip(g)


def _args(g: ProbeGen) -> ir.Value:
    return g.ctx


SIMPLE: dict[str, Callable[[ProbeGen], ir.Value]] = {
    "pid": lambda g: g.b.lshr(_pid_tgid(g), const(32)),
    "tid": lambda g: g.b.and_(_pid_tgid(g), const(0xFFFF_FFFF)),
    "uid": lambda g: g.b.and_(_uid_gid(g), const(0xFFFF_FFFF)),
    "username": lambda g: g.b.and_(_uid_gid(g), const(0xFFFF_FFFF)),
    "gid": lambda g: g.b.lshr(_uid_gid(g), const(32)),
    "ppid": _ppid,
    "comm": _comm,
    "nsecs": lambda g: call(g.b, Helper.KTIME_GET_NS),
    "elapsed": _elapsed,
    "cpu": lambda g: g.b.and_(call(g.b, Helper.GET_SMP_PROCESSOR_ID), const(0xFFFF_FFFF)),
    "ncpus": lambda g: const(g.u.ncpus),
    "cgroup": lambda g: call(g.b, Helper.GET_CURRENT_CGROUP_ID),
    "curtask": lambda g: call(g.b, Helper.GET_CURRENT_TASK),
    "rand": lambda g: g.b.and_(call(g.b, Helper.GET_PRANDOM_U32), const(0xFFFF_FFFF)),
    "cpid": lambda g: const(g.u.cpid),
    "probe": lambda g: const(g.attach.index),
    "retval": PR.retval,
    "__builtin_retval": PR.retval,
    "func": _func,
    "args": _args,
    "ctx": lambda g: g.b.ptrtoint(g.ctx, I64),
}


def builtin(g: ProbeGen, node: A.Builtin) -> ir.Value:
    """The value of builtin ``node``."""
    name = node.name
    if name in ("kstack", "ustack"):
        return _stack_value(g, node)
    m = re.fullmatch(r"s?arg(\d+)", name)
    if m:
        if name.startswith("s"):
            from .exprs import read_scalar
            sp = PR.reg(g, "sp")
            addr = g.b.add(sp, const(8 * (int(m.group(1)) + 1)))
            return read_scalar(g, addr, UINT64, AddrSpace.USER if PR.user_context(g) else AddrSpace.KERNEL)
        return PR.arg(g, int(m.group(1)))
    handler = SIMPLE.get(name)
    if handler is None:
        raise CodegenError(f"line {node.span.line}: builtin '{name}' is not supported by this compiler yet")
    return handler(g)


def builtin_into(g: ProbeGen, node: A.Builtin, dest: ir.Value, dsize: int) -> bool:
    """Write ``comm`` and stacks straight into ``dest`` (an event record or a key)."""
    if node.name == "comm" and dsize >= 16:
        if dsize > 16:
            g.zero(g.gep(dest, 16), dsize - 16)
        g.zero(dest, 16)
        call(g.b, Helper.GET_CURRENT_COMM, dest, const(16))
        return True
    if node.name in ("kstack", "ustack"):
        t = g.type_of(node)
        assert isinstance(t, StackType)
        if dsize == 8:
            g.store_int(stack_id(g, t), dest, 8)
        else:
            stack(g, t, dest)
        return True
    return False
