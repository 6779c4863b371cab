"""Map helpers: lookup/update/delete, push/pop/peek, for_each_map_elem."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Callable

from ...enums import MapType
from ..interpreter import FUNC_TAG
from ..maps import MAP_TAG
from ..memory import VMError

if TYPE_CHECKING:
    from ..runtime import Runtime

M64 = (1 << 64) - 1
_MAP_NIBBLE = MAP_TAG >> 60


def map_lookup_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    # fast path: a map pointer and a key in plain readable memory (what Memory.read checks:
    # rlen is the buffer's length for a readable region without a load hook, else 0)
    m = rt.maps.get(r1 & 0xFFFFFFFF) if r1 >> 60 == _MAP_NIBBLE else None
    if m is not None:
        mem = rt.memory
        size = m.key_size
        if size > 0 and 0 <= r2 < mem.top and (off := r2 & 0xFFFFFFFF) + size <= mem.rlen[r2 >> 32]:
            return m.bpf_lookup(bytes(mem.bufs[r2 >> 32][off:off + size]), rt.cpu)
    m = rt.map_of(r1)
    return m.bpf_lookup(rt.memory.read(r2, m.key_size), rt.cpu)


def map_update_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = rt.map_of(r1)
    if m.kind.fd_target:
        return -errno.EINVAL & M64
    return m.bpf_update(rt.memory.read(r2, m.key_size), rt.memory.read(r3, m.value_size), r4, rt.cpu) & M64


def map_delete_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = rt.map_of(r1)
    return m.bpf_delete(rt.memory.read(r2, m.key_size)) & M64


def map_push_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    m = rt.map_of(r1)
    return m.bpf_push(rt.memory.read(r2, m.value_size), r3) & M64


def _pop(rt: Runtime, r1: int, r2: int, delete: bool) -> int:
    m = rt.map_of(r1)
    if m.type is MapType.BLOOM_FILTER:
        return 0 if m._raw_bloom_has(rt.memory.read(r2, m.value_size)) else -errno.ENOENT & M64
    value = m.bpf_pop(delete)
    if value is None:
        return -errno.ENOENT & M64
    rt.memory.write(r2, value)
    return 0


def map_pop_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _pop(rt, r1, r2, True)


def map_peek_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _pop(rt, r1, r2, False)


def callback(rt: Runtime, fn: int) -> Callable[..., int]:
    """The compiled BPF function a callback argument (``ld_imm64 rX, func``) names."""
    if fn >> 60 != FUNC_TAG >> 60:
        raise VMError(f"{fn:#x} is not a function pointer")
    prog = rt.state.program
    if prog is None:
        raise VMError("callback outside a program run")
    func: Callable[..., int] | None = prog.compiled().functions.get(fn & 0xFFFFFFFF)
    if func is None:
        raise VMError(f"no function starts at slot {fn & 0xFFFFFFFF}")
    return func


def for_each_map_elem(rt: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int, d: int) -> int:
    """Call ``callback(map, key, value, ctx)`` for each element until it returns 1."""
    m = rt.map_of(r1)
    fn = callback(rt, r2)
    count = 0
    for key in list(m.raw_keys()):
        value_addr = m.bpf_lookup(key, rt.cpu)
        if not value_addr:
            continue
        key_region = rt.memory.map(bytearray(key), f"a key of map {m.name!r}", writable=False)
        try:
            count += 1
            ret = fn(MAP_TAG | m.handle, key_region.base, value_addr, r3, 0, d + 1)
        finally:
            rt.memory.unmap(key_region)
        if ret & M64 == 1:
            break
    return count


HELPERS: dict[int, Callable[..., int]] = {
    1: map_lookup_elem,
    2: map_update_elem,
    3: map_delete_elem,
    87: map_push_elem,
    88: map_pop_elem,
    89: map_peek_elem,
    164: for_each_map_elem,
}
