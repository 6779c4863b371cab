"""Helpers about time, randomness, the current task, printing, memory, loops and checksums."""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING, Callable

from ..memory import VMError
from .fmt import format_bpf
from .maps import callback

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pybpf.vm.trace")
M64 = (1 << 64) - 1
#: the kernel's cap on bpf_loop iterations
MAX_LOOPS = 1 << 23
#: strings %s may read, at most
MAX_STR = 4096


def ktime_get_ns(rt: Runtime, *args: int) -> int:
    return rt.clock() & M64


def ktime_get_boot_ns(rt: Runtime, *args: int) -> int:
    return rt.boot_clock() & M64


def ktime_get_coarse_ns(rt: Runtime, *args: int) -> int:
    return rt.coarse_clock() & M64


def get_prandom_u32(rt: Runtime, *args: int) -> int:
    return rt.random.getrandbits(32)


def get_smp_processor_id(rt: Runtime, *args: int) -> int:
    return rt.cpu


def get_numa_node_id(rt: Runtime, *args: int) -> int:
    return 0


def get_current_pid_tgid(rt: Runtime, *args: int) -> int:
    return (rt.task.tgid << 32 | rt.task.pid) & M64


def get_current_uid_gid(rt: Runtime, *args: int) -> int:
    return (rt.task.gid << 32 | rt.task.uid) & M64


def get_current_comm(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if r2 == 0:
        return -errno.EINVAL & M64
    comm = rt.task.comm[:15][:r2 - 1]
    rt.memory.write(r1, comm + bytes(r2 - len(comm)))
    return 0


def get_current_task(rt: Runtime, *args: int) -> int:
    """bpf_get_current_task and bpf_get_current_task_btf: the task_struct the caller gave
    (``TaskContext.task_struct``)."""
    return rt.task_address()


def _read_str(rt: Runtime) -> Callable[[int], bytes]:
    return lambda addr: rt.memory.read_cstr(addr, MAX_STR)


def trace_printk(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    fmt = rt.memory.read(r1, r2)
    nul = fmt.find(0)
    if nul < 0:
        return -errno.EINVAL & M64
    text = format_bpf(fmt[:nul], [r3, r4, r5], _read_str(rt))
    line = text.decode("latin-1")
    rt.trace.append(line)
    if rt.log_trace:
        log.info("%s", line.rstrip("\n"))
    return len(text)


def trace_vprintk(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    fmt = rt.memory.read(r1, r2)
    nul = fmt.find(0)
    if nul < 0 or r4 % 8:
        return -errno.EINVAL & M64
    data = rt.memory.read(r3, r4)
    args = [int.from_bytes(data[i:i + 8], "little") for i in range(0, r4, 8)]
    text = format_bpf(fmt[:nul], args, _read_str(rt))
    rt.trace.append(text.decode("latin-1"))
    if rt.log_trace:
        log.info("%s", text.decode("latin-1").rstrip("\n"))
    return len(text)


def snprintf(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_snprintf(str, str_size, fmt, data, data_len): returns the length including the NUL."""
    if r5 % 8:
        return -errno.EINVAL & M64
    fmt = rt.memory.read_cstr(r3, MAX_STR)
    data = rt.memory.read(r4, r5)
    args = [int.from_bytes(data[i:i + 8], "little") for i in range(0, r5, 8)]
    text = format_bpf(fmt, args, _read_str(rt))
    if r2:
        out = text[:r2 - 1] + b"\0"
        rt.memory.write(r1, out)
    return len(text) + 1


def _probe_read(rt: Runtime, dst: int, size: int, src: int) -> int:
    try:
        data = rt.memory.read(src, size)
    except VMError:
        rt.memory.write(dst, bytes(size))
        return -errno.EFAULT & M64
    rt.memory.write(dst, data)
    return 0


def probe_read(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """probe_read / probe_read_kernel / probe_read_user over the VM's (registered) memory."""
    return _probe_read(rt, r1, r2, r3)


def probe_read_str(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    if r2 == 0:
        return 0
    try:
        s = rt.memory.read_cstr(r3, r2)
    except VMError:
        rt.memory.write(r1, bytes(r2))
        return -errno.EFAULT & M64
    s = s[:r2 - 1] + b"\0"
    rt.memory.write(r1, s)
    return len(s)


def spin_lock(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    rt.memory.read(r1, 4)
    if r1 in rt.state.locks:
        raise VMError(f"bpf_spin_lock of {r1:#x}, which this program already holds (it would deadlock)")
    rt.state.locks.add(r1)
    return 0


def spin_unlock(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    rt.state.locks.discard(r1)
    return 0


def loop(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int, d: int) -> int:
    """bpf_loop(nr_loops, callback, ctx, flags): calls callback(i, ctx) until it returns 1."""
    if r4:
        return -errno.EINVAL & M64
    n = r1 & 0xFFFFFFFF
    if n > MAX_LOOPS:
        return -errno.E2BIG & M64
    fn = callback(rt, r2)
    for i in range(n):
        if fn(i, r3, 0, 0, 0, d + 1) & M64 == 1:
            return i + 1
    return n


def _end_around(total: int, bits: int) -> int:
    """An end-around-carry (one's complement) sum as a ``bits``-wide adder chain leaves it:
    0 only when every addend was 0, else in [1, 2**bits - 1]."""
    if total == 0:
        return 0
    return (total - 1) % ((1 << bits) - 1) + 1


def csum_partial(data: bytes, seed: int) -> int:
    """x86-64's csum_partial: 64-bit words (a 4-byte tail zero-extended) added with end-around
    carry onto ``seed``, then folded to 32 bits the same way."""
    total = seed
    for i in range(0, len(data) - len(data) % 8, 8):
        total += int.from_bytes(data[i:i + 8], "little")
    if len(data) % 8:
        total += int.from_bytes(data[len(data) - len(data) % 8:], "little")
    t = _end_around(total, 64)
    return _end_around((t >> 32) + (t & 0xFFFFFFFF), 32)


def _from32to16(value: int) -> int:
    return _end_around((value >> 16) + (value & 0xFFFF), 16) if value else 0


def csum_diff(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """bpf_csum_diff(from, from_size, to, to_size, seed) as the kernel computes it: the
    difference of two csum_partial sums, folded to 16 bits (sizes multiples of 4, <= 512)."""
    if r2 % 4 or r4 % 4 or r2 > 512 or r4 > 512:
        return -errno.EINVAL & M64
    seed = r5 & 0xFFFFFFFF
    old = rt.memory.read(r1, r2)
    new = rt.memory.read(r3, r4)
    if r2 and r4:
        a, b = csum_partial(new, seed), ~csum_partial(old, 0) & 0xFFFFFFFF
        total = a + b
        return _from32to16((total & 0xFFFFFFFF) + (total >> 32))  # csum_sub: add ~old with carry
    if r4:
        return _from32to16(csum_partial(new, seed))
    if r2:
        return _from32to16(~csum_partial(old, ~seed & 0xFFFFFFFF) & 0xFFFFFFFF)
    return _from32to16(seed)


HELPERS: dict[int, Callable[..., int]] = {
    4: probe_read,
    5: ktime_get_ns,
    6: trace_printk,
    7: get_prandom_u32,
    8: get_smp_processor_id,
    14: get_current_pid_tgid,
    15: get_current_uid_gid,
    16: get_current_comm,
    28: csum_diff,
    35: get_current_task,
    42: get_numa_node_id,
    45: probe_read_str,
    93: spin_lock,
    94: spin_unlock,
    112: probe_read,
    113: probe_read,
    114: probe_read_str,
    115: probe_read_str,
    125: ktime_get_boot_ns,
    158: get_current_task,  # get_current_task_btf
    160: ktime_get_coarse_ns,
    165: snprintf,
    177: trace_vprintk,
    181: loop,
}
