"""pybpf.map.Map against the running kernel: the semantics of each map type."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from pybpf import _sys
from pybpf.enums import MapFlags, MapType, ProgramType
from pybpf.errors import MapEncodingError, MapFullError, MapOperationError
from pybpf.isa import assemble, encode
from pybpf.map import LPMKey, Map, PerCPUValues

NCPUS = _sys.possible_cpus()


#: every test closes every fd it opened
pytestmark = pytest.mark.usefixtures("no_fd_leak")


def test_hash_behaves_like_a_dict() -> None:
    with Map.create(MapType.HASH, 4, 8, 16, name="h") as m:
        assert len(m) == 0 and dict(m) == {}
        m[1] = 10
        m[2] = 20
        m[1] = 11
        assert m[1] == 11 and m.get(3) is None and m.get(3, "x") == "x"
        assert 1 in m and 3 not in m
        assert sorted(m) == [1, 2] and sorted(m.keys()) == [1, 2]
        assert sorted(m.values()) == [11, 20]
        assert dict(m.items()) == {1: 11, 2: 20} and len(m) == 2
        del m[1]
        with pytest.raises(KeyError):
            del m[1]
        with pytest.raises(KeyError):
            m[1]
        assert m.pop(2) == 20 and m.pop(2, None) is None
        assert len(m) == 0


def test_hash_full_raises_map_full_error_with_max_entries() -> None:
    with Map.create(MapType.HASH, 4, 4, 4, name="small") as m:
        for i in range(4):
            m[i] = i
        with pytest.raises(MapFullError) as info:
            m[99] = 1
        assert info.value.max_entries == 4
        assert "full" in str(info.value) and "max_entries=4" in str(info.value)
        m[3] = 33  # replacing an existing key still works when full
        assert m[3] == 33


def test_wrong_sizes_say_the_expected_size() -> None:
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        with pytest.raises(MapEncodingError, match="key must be 4 bytes"):
            m[b"abc"] = 1
        with pytest.raises(MapEncodingError, match="value must be 8 bytes"):
            m[1] = b"abc"
        with pytest.raises(MapEncodingError, match="does not fit in 4 bytes"):
            m[1 << 40] = 1
        m[b"\x01\0\0\0"] = b"\x02" + bytes(7)  # exact-size bytes are always accepted
        assert m[1] == 2


def test_array_slots_always_exist_and_cannot_be_deleted() -> None:
    with Map.create(MapType.ARRAY, 4, 8, 8, name="arr") as m:
        assert len(m) == 8 and dict(m) == {i: 0 for i in range(8)}
        m[3] = 7
        assert m[3] == 7 and 8 not in m and 3 in m
        with pytest.raises(MapOperationError, match="cannot be deleted"):
            del m[3]
        with pytest.raises(MapEncodingError, match="out of range"):
            m[8] = 1
        with pytest.raises(KeyError):
            m[8]
        m.clear()
        assert all(v == 0 for v in m.values())


@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH])
def test_percpu_values_one_per_cpu(map_type: MapType) -> None:
    with Map.create(map_type, 4, 8, 8) as m:
        per_cpu = list(range(1, NCPUS + 1))
        m[1] = per_cpu
        got = m[1]
        assert isinstance(got, PerCPUValues) and got == per_cpu
        assert got.sum() == sum(per_cpu)
        m[2] = 5  # one value: written on every CPU
        assert m[2] == [5] * NCPUS and m[2].sum() == 5 * NCPUS
        with pytest.raises(MapEncodingError, match="one item per possible CPU"):
            m[3] = [1] * (NCPUS + 1)
        items = dict(m.items())
        assert items[1] == per_cpu and items[2] == [5] * NCPUS


def test_percpu_value_smaller_than_8_bytes_is_padded_per_cpu() -> None:
    with Map.create(MapType.PERCPU_ARRAY, 4, 4, 2) as m:
        m[0] = list(range(NCPUS))
        assert m[0] == list(range(NCPUS))
        assert dict(m.items())[0] == list(range(NCPUS))


def test_lru_hash_evicts_instead_of_failing() -> None:
    with Map.create(MapType.LRU_HASH, 4, 8, 64) as lru, Map.create(MapType.HASH, 4, 8, 64) as plain:
        for i in range(1000):
            lru[i] = i
        assert 0 < len(lru) <= 64
        assert lru[999] == 999  # the newest is kept
        assert 0 not in lru  # the oldest went
        for i in range(64):
            plain[i] = i
        with pytest.raises(MapFullError):
            plain[64] = 64


def test_lpm_trie_longest_prefix_match() -> None:
    net = ipaddress.ip_network
    with Map.create(MapType.LPM_TRIE, 8, 4, 16, flags=MapFlags.NO_PREALLOC) as m:
        m[net("10.0.0.0/8")] = 8
        m[net("10.1.0.0/16")] = 16
        m[(24, bytes([10, 1, 2]))] = 24
        assert m[ipaddress.ip_address("10.1.2.3")] == 24
        assert m[ipaddress.ip_address("10.1.9.9")] == 16
        assert m[ipaddress.ip_address("10.200.0.1")] == 8
        with pytest.raises(KeyError):
            m[ipaddress.ip_address("11.0.0.1")]
        assert sorted(m) == [LPMKey(8, bytes([10, 0, 0, 0])), LPMKey(16, bytes([10, 1, 0, 0])),
                             LPMKey(24, bytes([10, 1, 2, 0]))]
        del m[net("10.1.0.0/16")]
        assert m[ipaddress.ip_address("10.1.9.9")] == 8


def test_queue_is_fifo_and_stack_is_lifo() -> None:
    with Map.create(MapType.QUEUE, 0, 8, 3) as q, Map.create(MapType.STACK, 0, 8, 3) as s:
        for v in (1, 2, 3):
            q.push(v)
            s.push(v)
        assert q.peek() == 1 and s.peek() == 3
        with pytest.raises(MapFullError):
            q.push(4)
        q.push(4, overwrite=True)  # drops the oldest
        assert [q.pop(), q.pop(), q.pop()] == [2, 3, 4]
        assert [s.pop(), s.pop(), s.pop()] == [3, 2, 1]
        with pytest.raises(IndexError, match="empty"):
            q.pop()
        assert s.pop(None) is None and q.peek("none") == "none"
        with pytest.raises(MapOperationError, match="push"):
            q[0] = 1
        q.push(9)
        q.clear()
        assert q.pop(None) is None


def test_bloom_filter_membership() -> None:
    with Map.create(MapType.BLOOM_FILTER, 0, 8, 1000, map_extra=5) as b:
        for v in range(100):
            b.push(v)
        assert all(v in b for v in range(100))  # no false negatives
        false_positives = sum(1 for v in range(10_000, 11_000) if v in b)
        assert false_positives < 100
        with pytest.raises(MapOperationError):
            list(b)


@pytest.mark.parametrize("outer_type", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_map_in_map_set_and_get_by_map(outer_type: MapType) -> None:
    with Map.create(MapType.ARRAY, 4, 8, 4, name="tmpl") as template, \
            Map.create(outer_type, 4, 4, 4, inner_map=template, name="outer") as outer, \
            Map.create(MapType.ARRAY, 4, 8, 4, name="inner") as inner:
        assert 0 not in outer and dict(outer) == {}
        outer[0] = inner
        assert outer[0] == inner.id
        assert dict(outer.items()) == {0: inner.id} and len(outer) == 1
        with outer.get_map(0) as opened:
            assert opened.id == inner.id
            opened[1] = 42
        assert inner[1] == 42
        outer[1] = inner.fd  # an FD works too
        assert outer[1] == inner.id
        del outer[0]
        assert 0 not in outer
        with Map.create(MapType.HASH, 4, 8, 4) as wrong:
            with pytest.raises(Exception, match="stores maps"):
                outer[2] = wrong


def _tail_caller(prog_array: Map) -> bytes:
    """r2 = prog_array; r3 = 0; tail_call(ctx, r2, r3); return 7 (when the slot is empty)."""
    ld = assemble("r2 = 0 ll")[0]
    insns = [dataclasses.replace(ld, src=1, imm=prog_array.fileno())]
    insns += assemble("r3 = 0\ncall 12\nr0 = 7\nexit")
    return encode(insns)


def test_prog_array_tail_call_through_a_slot() -> None:
    callee_code = encode(assemble("r0 = 42\nexit"))
    with Map.create(MapType.PROG_ARRAY, 4, 4, 2, name="jmp") as jumps, \
            _sys.prog_load(ProgramType.SOCKET_FILTER, callee_code, name="callee") as callee, \
            _sys.prog_load(ProgramType.SOCKET_FILTER, _tail_caller(jumps), name="caller") as caller:
        assert _sys.prog_test_run(caller, data=bytes(64)).retval == 7
        jumps[0] = callee  # anything with fileno()/.fd, or an int fd
        assert _sys.prog_test_run(caller, data=bytes(64)).retval == 42
        assert jumps[0] == _sys.prog_info(callee, instructions=False).info.id
        assert list(jumps) == [0]
        del jumps[0]
        assert _sys.prog_test_run(caller, data=bytes(64)).retval == 7


def test_ringbuf_creates_and_refuses_element_access() -> None:
    with Map.create(MapType.RINGBUF, 0, 0, 4096, name="events") as rb:
        info = rb.info()
        assert info.type == MapType.RINGBUF and info.max_entries == 4096
        with pytest.raises(MapOperationError, match="ring buffer"):
            rb[0]
        with pytest.raises(MapOperationError):
            len(rb)
