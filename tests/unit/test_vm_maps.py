"""VM maps behave like kernel maps (the same Map API), alone and driven by a compiled program."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import pybpf.vm
from pybpf.enums import MapType
from pybpf.errors import MapFullError, MapOperationError
from pybpf.vm import Memory, TaskContext, VMError
from pybpf.vm.maps import LPMTrieMap, create_map

PROGS = Path(__file__).parent / "progs_vm"


def make(map_type: MapType, key_size: int, value_size: int, entries: int, **kw: object):
    return create_map(Memory(1024), 1, map_type, key_size, value_size, entries, **kw)  # type: ignore[arg-type]


def test_hash_map_is_a_mutable_mapping() -> None:
    m = make(MapType.HASH, 4, 8, 3)
    m[1] = 10
    m.update({2: 20, 3: 30})
    assert dict(m.items()) == {1: 10, 2: 20, 3: 30}
    assert len(m) == 3 and 2 in m and 9 not in m
    with pytest.raises(MapFullError):
        m[4] = 40
    del m[1]
    with pytest.raises(KeyError):
        del m[1]
    assert m.get(1, "none") == "none"
    assert m.pop(2) == 20
    m.clear()
    assert len(m) == 0


def test_array_map_fixed_slots() -> None:
    m = make(MapType.ARRAY, 4, 4, 4)
    assert list(m.values()) == [0, 0, 0, 0]
    m[3] = 7
    assert m[3] == 7 and len(m) == 4
    with pytest.raises(MapOperationError):
        del m[3]
    with pytest.raises(ValueError):
        m[4] = 1


def test_percpu_values() -> None:
    m = make(MapType.PERCPU_HASH, 4, 8, 4, ncpus=3)
    m[1] = 5
    assert m[1] == [5, 5, 5] and m[1].sum() == 15
    m[2] = [1, 2, 3]
    assert m[2] == [1, 2, 3]


def test_lru_evicts_least_recently_used() -> None:
    m = make(MapType.LRU_HASH, 4, 4, 2)
    m[1] = 1
    m[2] = 2
    assert m.bpf_lookup((1).to_bytes(4, "little"), 0)  # touch 1
    m[3] = 3
    assert sorted(m) == [1, 3]


def test_lpm_trie_longest_prefix() -> None:
    m = make(MapType.LPM_TRIE, 8, 4, 8, flags=1)
    assert isinstance(m, LPMTrieMap)
    m[ipaddress.ip_network("10.0.0.0/8")] = 8
    m[ipaddress.ip_network("10.1.0.0/16")] = 16
    key = lambda ip: (32).to_bytes(4, "little") + ipaddress.ip_address(ip).packed  # noqa: E731
    region = lambda addr: m.memory.region_of(addr).buf  # noqa: E731
    assert int.from_bytes(region(m.bpf_lookup(key("10.1.2.3"), 0)), "little") == 16
    assert int.from_bytes(region(m.bpf_lookup(key("10.2.2.3"), 0)), "little") == 8
    assert m.bpf_lookup(key("11.0.0.1"), 0) == 0


def test_queue_stack_bloom() -> None:
    q = make(MapType.QUEUE, 0, 4, 2)
    q.push(1)
    q.push(2)
    with pytest.raises(MapFullError):
        q.push(3)
    q.push(3, overwrite=True)
    assert [q.pop(), q.pop()] == [2, 3]
    with pytest.raises(IndexError):
        q.pop()
    s = make(MapType.STACK, 0, 4, 4)
    s.push(1)
    s.push(2)
    assert s.peek() == 2 and s.pop() == 2
    b = make(MapType.BLOOM_FILTER, 0, 4, 16)
    b.push(42)
    assert 42 in b and 43 not in b
    with pytest.raises(MapOperationError):
        b[1] = 2


def test_unsupported_map_type_says_what_to_do() -> None:
    with pytest.raises(pybpf.errors.NotSupportedError, match="pybpf.load"):
        make(MapType.SOCKMAP, 4, 4, 4)


@pytest.fixture(scope="module")
def obj_path() -> Path:
    from pybpf.cc import compile as cc_compile

    return Path(cc_compile(PROGS / "features.bpf.c"))


def test_program_drives_every_map_family(obj_path: Path) -> None:
    spec = pybpf.ObjectSpec.from_file(obj_path)
    spec.rodata["multiplier"] = 3
    task = TaskContext(pid=11, tgid=22, comm=b"tester")
    with pybpf.vm.load(spec, ncpus=2, task=task, log_trace=False) as obj:
        prog = obj.programs["count"]
        for size in (60, 64, 68, 60):
            assert prog.test_run(bytes(size)).retval == 2
        assert dict(obj.maps["counts"].items()) == {4: 3, 0: 1}
        assert obj.maps["pcpu"][0] == [252, 0]
        assert sorted(obj.maps["lru"]) == [60, 68]  # max_entries 2: 64 was evicted
        assert [obj.maps["fifo"].pop() for _ in range(4)] == [60, 64, 68, 60]
        assert obj.globals["total"] == 252 * 3 and obj.globals["last_len"] == 60
        records = obj.maps["events"].read()
        assert len(records) == 4
        assert records[0][:8] == (22).to_bytes(4, "little") + (60).to_bytes(4, "little")
        assert records[0][8:14] == b"tester"
        assert obj.maps["perf"].read() == [(n).to_bytes(4, "little") for n in (60, 64, 68, 60)]
        assert obj.trace[-1] == "len 60 total 756"


def test_collection_names_and_close(obj_path: Path) -> None:
    with pybpf.vm.load(obj_path, log_trace=False) as obj:
        programs, maps = sorted(obj.programs), sorted(obj.maps)
        with pytest.raises(KeyError, match=f"no program 'nope' \\(it has: {', '.join(programs)}\\)"):
            obj.programs["nope"]
        with pytest.raises(KeyError, match="no map 'nope' .*counts"):
            obj.maps["nope"]
        with pytest.raises(KeyError, match="no global variable 'nope'"):
            obj.globals["nope"]  # type: ignore[index]
        assert repr(obj) == f"<VMCollection programs={programs} maps={maps}>"
    assert obj.closed and repr(obj).endswith(" closed>")
    assert all(p.closed for p in obj.programs.values()) and all(m.closed for m in obj.maps.values())


def test_xdp_adjust_head_and_tail(obj_path: Path) -> None:
    with pybpf.vm.load(obj_path, log_trace=False) as obj:
        packet = bytes(range(64))
        res = obj.programs["trim"].test_run(packet)
        assert res.retval == 2
        assert res.data_out == b"\xab" + packet[15:60]


def test_out_of_bounds_map_value_in_compiled_program(obj_path: Path) -> None:
    with pybpf.vm.load(obj_path, log_trace=False) as obj:
        with pytest.raises(VMError, match="a value of map 'pcpu'"):
            obj.programs["overrun"].test_run(bytes(64))


def test_register_helper(obj_path: Path) -> None:
    with pybpf.vm.load(obj_path, log_trace=False) as obj:
        obj.register_helper("get_current_pid_tgid", lambda rt, *args: 99 << 32)
        obj.programs["count"].test_run(bytes(60))
        assert obj.maps["events"].read()[0][:4] == (99).to_bytes(4, "little")
