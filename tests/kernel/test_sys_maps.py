"""pybpf._sys against the running kernel: maps, batch ops, freeze, pin/get, ids, fds."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from _fds import open_fds

from pybpf import _sys
from pybpf._sys import FileFlags, ObjectKind, UpdateFlags
from pybpf.enums import MapFlags, MapType
from pybpf.errors import MissingPrivilegeError, SyscallError

BPFFS = Path("/sys/fs/bpf")


#: every test closes every fd it opened
pytestmark = pytest.mark.usefixtures("no_fd_leak")


@pytest.fixture
def bpffs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.ismount(BPFFS):
        BPFFS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "bpf", "bpf", str(BPFFS)], check=True)
    d = BPFFS / f"pybpf-test-{os.getpid()}"
    d.mkdir(exist_ok=True)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


COMMON = [
    # map type, key size, value size, max entries, flags, extra
    (MapType.HASH, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.ARRAY, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.PERCPU_HASH, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.PERCPU_ARRAY, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.LRU_HASH, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.LRU_PERCPU_HASH, 4, 8, 16, MapFlags.NONE, 0),
    (MapType.LPM_TRIE, 8, 8, 16, MapFlags.NO_PREALLOC, 0),
    (MapType.QUEUE, 0, 8, 16, MapFlags.NONE, 0),
    (MapType.STACK, 0, 8, 16, MapFlags.NONE, 0),
    (MapType.BLOOM_FILTER, 0, 8, 16, MapFlags.NONE, 3),
    (MapType.RINGBUF, 0, 0, 4096, MapFlags.NONE, 0),
    (MapType.PERF_EVENT_ARRAY, 4, 4, 4, MapFlags.NONE, 0),
    (MapType.PROG_ARRAY, 4, 4, 4, MapFlags.NONE, 0),
    (MapType.STACK_TRACE, 4, 8 * 127, 16, MapFlags.NONE, 0),
]


@pytest.mark.parametrize(("map_type", "ksize", "vsize", "entries", "flags", "extra"), COMMON, ids=lambda v: getattr(v, "name", None))
def test_create_each_common_map_type(map_type, ksize, vsize, entries, flags, extra) -> None:
    with _sys.map_create(map_type, ksize, vsize, entries, flags=flags, map_extra=extra, name=f"t_{map_type.name[:10]}") as fd:
        info = _sys.map_info(fd)
        assert (info.type, info.key_size, info.value_size, info.max_entries) == (map_type, ksize, vsize, entries)
        assert info.name == f"t_{map_type.name[:10]}".encode()[:15]
        assert info.id > 0


@pytest.mark.parametrize("outer", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_map_in_map(outer: MapType) -> None:
    with _sys.map_create(MapType.ARRAY, 4, 4, 1) as inner, _sys.map_create(outer, 4, 4, 2, inner_map_fd=inner) as fd:
        _sys.map_update_elem(fd, u32(0), u32(inner.fileno()))
        inner_id = _sys.map_lookup_elem(fd, u32(0), 4)
        assert inner_id == u32(_sys.map_info(inner).id)


def test_hash_update_lookup_delete_next_key() -> None:
    with _sys.map_create(MapType.HASH, 4, 8, 4) as fd:
        assert _sys.map_lookup_elem(fd, u32(1), 8) is None
        assert _sys.map_get_next_key(fd, None, 4) is None
        for k in (1, 2, 3):
            _sys.map_update_elem(fd, u32(k), u64(k * 100))
        assert _sys.map_lookup_elem(fd, u32(2), 8) == u64(200)
        with pytest.raises(SyscallError) as info:
            _sys.map_update_elem(fd, u32(2), u64(0), flags=UpdateFlags.NOEXIST)
        assert info.value.errno == errno.EEXIST
        with pytest.raises(SyscallError) as info:
            _sys.map_update_elem(fd, u32(9), u64(0), flags=UpdateFlags.EXIST)
        assert info.value.errno == errno.ENOENT
        keys, key = [], None
        while (key := _sys.map_get_next_key(fd, key, 4)) is not None:
            keys.append(struct.unpack("<I", key)[0])
        assert sorted(keys) == [1, 2, 3]
        assert _sys.map_delete_elem(fd, u32(2)) is True
        assert _sys.map_delete_elem(fd, u32(2)) is False
        assert _sys.map_lookup_elem(fd, u32(2), 8) is None
        _sys.map_update_elem(fd, u32(4), u64(4))
        with pytest.raises(SyscallError, match="E2BIG.*map is full"):
            _sys.map_update_elem(fd, u32(5), u64(5))
            _sys.map_update_elem(fd, u32(6), u64(6))


def test_percpu_values_have_a_slot_per_possible_cpu() -> None:
    size = _sys.percpu_value_size(4)
    assert size == 8 * _sys.possible_cpus()
    with _sys.map_create(MapType.PERCPU_ARRAY, 4, 4, 1) as fd:
        slots = b"".join(u64(cpu + 1) for cpu in range(_sys.possible_cpus()))
        _sys.map_update_elem(fd, u32(0), slots)
        assert _sys.map_lookup_elem(fd, u32(0), size) == slots


def test_queue_and_stack_order() -> None:
    for map_type, expected in ((MapType.QUEUE, [1, 2, 3]), (MapType.STACK, [3, 2, 1])):
        with _sys.map_create(map_type, 0, 8, 8) as fd:
            for v in (1, 2, 3):
                _sys.map_update_elem(fd, None, u64(v))
            assert _sys.map_lookup_elem(fd, None, 8) == u64(expected[0])  # peek
            popped = [_sys.map_lookup_and_delete_elem(fd, None, 8) for _ in range(3)]
            assert popped == [u64(v) for v in expected]
            assert _sys.map_lookup_and_delete_elem(fd, None, 8) is None


def test_batch_operations() -> None:
    n = 1000
    keys = b"".join(u32(i) for i in range(n))
    values = b"".join(u64(i * i) for i in range(n))
    with _sys.map_create(MapType.HASH, 4, 8, 2 * n) as fd:
        assert _sys.map_update_batch(fd, keys, values, n) == n
        seen: dict[int, int] = {}
        token = None
        while True:
            res = _sys.map_lookup_batch(fd, token, 4, 8, 128)
            for k, v in res.pairs(4, 8):
                seen[struct.unpack("<I", k)[0]] = struct.unpack("<Q", v)[0]
            if res.next_batch is None:
                break
            token = res.next_batch
        assert seen == {i: i * i for i in range(n)}
        assert _sys.map_delete_batch(fd, keys[: 4 * 10], 10) == 10
        assert _sys.map_lookup_elem(fd, u32(5), 8) is None
        drained, token = 0, None
        while True:
            res = _sys.map_lookup_and_delete_batch(fd, token, 4, 8, 256)
            drained += res.count
            if res.next_batch is None:
                break
            token = res.next_batch
        assert drained == n - 10
        assert _sys.map_get_next_key(fd, None, 4) is None


def test_array_batch_lookup_uses_key_tokens() -> None:
    with _sys.map_create(MapType.ARRAY, 4, 4, 10) as fd:
        _sys.map_update_batch(fd, b"".join(u32(i) for i in range(10)), b"".join(u32(i + 7) for i in range(10)), 10)
        first = _sys.map_lookup_batch(fd, None, 4, 4, 6)
        rest = _sys.map_lookup_batch(fd, first.next_batch, 4, 4, 6)
        assert (first.count, rest.count, rest.next_batch) == (6, 4, None)
        assert [struct.unpack("<I", v)[0] for _, v in first.pairs(4, 4) + rest.pairs(4, 4)] == list(range(7, 17))


def test_freeze_makes_the_map_read_only() -> None:
    with _sys.map_create(MapType.ARRAY, 4, 4, 1) as fd:
        _sys.map_update_elem(fd, u32(0), u32(42))
        _sys.map_freeze(fd)
        with pytest.raises(SyscallError, match="BPF_MAP_UPDATE_ELEM failed: EPERM.*frozen") as info:
            _sys.map_update_elem(fd, u32(0), u32(1))
        assert not isinstance(info.value, MissingPrivilegeError)
        assert _sys.map_lookup_elem(fd, u32(0), 4) == u32(42)


def test_pin_and_get(bpffs: Path) -> None:
    path = bpffs / "counts"
    with _sys.map_create(MapType.HASH, 4, 4, 4, name="pinned") as fd:
        _sys.obj_pin(fd, path)
        _sys.map_update_elem(fd, u32(1), u32(11))
        with pytest.raises(SyscallError, match="EEXIST"):
            _sys.obj_pin(fd, path)
    assert path.exists()
    with _sys.obj_get(path) as again:
        assert _sys.map_lookup_elem(again, u32(1), 4) == u32(11)
        assert _sys.map_info(again).name == b"pinned"
    with _sys.obj_get(path, flags=FileFlags.RDONLY) as ro:
        with pytest.raises(SyscallError):
            _sys.map_update_elem(ro, u32(2), u32(2))
    with pytest.raises(SyscallError, match="BPF_OBJ_GET failed: ENOENT"):
        _sys.obj_get(bpffs / "missing")
    with pytest.raises(SyscallError, match="bpf filesystem"):
        with _sys.map_create(MapType.HASH, 4, 4, 4) as fd:
            _sys.obj_pin(fd, "/tmp/not-bpffs-pin")


def test_ids_and_fd_by_id() -> None:
    with _sys.map_create(MapType.HASH, 4, 4, 4, name="by_id") as fd:
        map_id = _sys.map_info(fd).id
        assert map_id in list(_sys.iter_ids(ObjectKind.MAP))
        with _sys.get_fd_by_id(ObjectKind.MAP, map_id) as other:
            assert other.fileno() != fd.fileno()
            assert _sys.map_info(other).name == b"by_id"
    with pytest.raises(SyscallError) as info:
        _sys.get_fd_by_id(ObjectKind.MAP, map_id)
    assert info.value.errno == errno.ENOENT


def test_memlock_decided_once_and_correctly() -> None:
    seam = _sys.current()
    assert isinstance(seam, _sys.LinuxSyscalls)
    _sys.map_create(MapType.ARRAY, 4, 4, 1).close()
    # 6.x kernels charge bpf memory to the memory cgroup, not RLIMIT_MEMLOCK
    release = tuple(int(x) for x in os.uname().release.split(".")[:2])
    assert seam.memlock_accounting is (release < (5, 11))


def test_missing_privilege_names_the_capability() -> None:
    """As an unprivileged user, MAP_CREATE fails with a MissingPrivilegeError naming CAP_BPF."""
    if Path("/proc/sys/kernel/unprivileged_bpf_disabled").read_text().strip() == "0":
        pytest.fail("unprivileged bpf is enabled on this machine: the EPERM path cannot be provoked")
    code = (
        "from pybpf import _sys; from pybpf.enums import MapType; from pybpf.errors import MissingPrivilegeError\n"
        "try:\n    _sys.map_create(MapType.HASH, 4, 4, 1)\n"
        "except MissingPrivilegeError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         "--bounding-set=-all", sys.executable, "-c", code],
        capture_output=True, text=True, check=True, cwd="/",
    ).stdout
    assert "BPF_MAP_CREATE failed: EPERM" in out and "CAP_BPF" in out


def test_fd_count_unchanged_after_closing_everything() -> None:
    before = len(open_fds())
    fds = [_sys.map_create(MapType.HASH, 4, 4, 4) for _ in range(20)]
    dups = [fd.dup() for fd in fds]
    assert len(open_fds()) == before + 40
    for fd in fds + dups:
        fd.close()
    assert len(open_fds()) == before
