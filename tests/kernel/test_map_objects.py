"""pybpf.map.Map against the running kernel: batch ops, pins, ids, freeze, specs, BTF, fds."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
from pathlib import Path

import pytest
from _fds import open_fds

from pybpf import _sys
from pybpf.btf import BTF, Array, Int, IntEncoding, Member, Struct
from pybpf.enums import MapFlags, MapType, PinType
from pybpf.errors import BPFError, PinMismatchError, SyscallError
from pybpf.map import Map
from pybpf.maps import batch
from pybpf.spec import MapSpec

BPFFS = Path("/sys/fs/bpf")


#: every test closes every fd it opened
pytestmark = pytest.mark.usefixtures("no_fd_leak_after_gc")


@pytest.fixture
def bpffs() -> Path:
    if not os.path.ismount(BPFFS):
        BPFFS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "bpf", "bpf", str(BPFFS)], check=True)
    d = BPFFS / f"pybpf-map-test-{os.getpid()}"
    d.mkdir(exist_ok=True)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


# ---- batch ops ------------------------------------------------------------------------------


def test_batch_ops_round_trip_many_entries() -> None:
    data = {i: i * 3 for i in range(20_000)}
    with Map.create(MapType.HASH, 4, 8, 32_768) as m:
        m.update(data)
        assert batch.batch_supported(MapType.HASH, "update") is True
        assert dict(m.items()) == data
        assert batch.batch_supported(MapType.HASH, "lookup") is True
        assert len(m) == 20_000 and sorted(m) == sorted(data)
        m.clear()
        assert len(m) == 0 and dict(m) == {}


def test_batch_on_percpu_hash_gives_per_cpu_lists() -> None:
    n = _sys.possible_cpus()
    with Map.create(MapType.PERCPU_HASH, 4, 4, 10_000) as m:
        m.update({i: [i] * n for i in range(5000)})
        items = dict(m.items())
        assert len(items) == 5000 and items[77] == [77] * n and items[77].sum() == 77 * n


class NoBatchKernel:
    """The real kernel, except that the batch commands fail as on kernels before 5.6 (EINVAL)."""

    BATCH = {_sys.Command.MAP_LOOKUP_BATCH, _sys.Command.MAP_UPDATE_BATCH, _sys.Command.MAP_DELETE_BATCH,
             _sys.Command.MAP_LOOKUP_AND_DELETE_BATCH}

    def __init__(self) -> None:
        self.real = _sys.current()
        self.commands: list[_sys.Command] = []

    def bpf(self, cmd, attr):  # type: ignore[no-untyped-def]
        self.commands.append(cmd)
        if cmd in self.BATCH:
            raise OSError(errno.EINVAL, "no batch ops")
        return self.real.bpf(cmd, attr)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


def test_without_batch_ops_everything_works_per_key_and_is_probed_once() -> None:
    with _sys.override(NoBatchKernel()) as seam, Map.create(MapType.HASH, 4, 8, 1024) as m:
        data = {i: -i & 0xFFFF for i in range(300)}
        m.update(data)
        assert dict(m.items()) == data and len(m) == 300 and sorted(m) == sorted(data)
        m.update(data)
        assert batch.batch_supported(MapType.HASH, "lookup") is False
        assert batch.batch_supported(MapType.HASH, "update") is False
        assert "EINVAL" in batch.batch_reason(MapType.HASH, "lookup")
        m.clear()
        assert len(m) == 0
        tried = [c for c in seam.commands if c in NoBatchKernel.BATCH]
        assert tried.count(_sys.Command.MAP_LOOKUP_BATCH) == 1  # probed once, then remembered
        assert tried.count(_sys.Command.MAP_UPDATE_BATCH) == 1
        assert seam.commands.count(_sys.Command.MAP_UPDATE_ELEM) == 600
    # the real kernel's answer is kept apart from the emulation's
    with Map.create(MapType.HASH, 4, 8, 4) as m:
        m[1] = 1
        assert dict(m.items()) == {1: 1}
    assert batch.batch_supported(MapType.HASH, "lookup") is True


def test_clear_of_array_zeroes_every_slot() -> None:
    with Map.create(MapType.ARRAY, 4, 8, 10_000) as m:
        m.update({i: i + 1 for i in range(10_000)})
        assert m[9999] == 10_000
        m.clear()
        assert set(m.values()) == {0}


# ---- pins, ids, freeze, info, fds ---------------------------------------------------------


def test_pin_and_from_pin_share_the_map(bpffs: Path) -> None:
    path = bpffs / "counts"
    with Map.create(MapType.HASH, 4, 8, 8, name="counts") as m:
        m[1] = 100
        m.pin(path)
        assert path.exists()
        with Map.from_pin(path) as again:
            assert again.id == m.id and again[1] == 100 and again.name == "counts"
            again[2] = 200
        assert m[2] == 200
        m.unpin()
        assert not path.exists()


def test_from_id_opens_the_same_map() -> None:
    with Map.create(MapType.ARRAY, 4, 4, 2, name="by_id") as m:
        m[1] = 5
        with Map.from_id(m.id) as same:
            assert same[1] == 5 and same.type == MapType.ARRAY and same.max_entries == 2
    with pytest.raises(BPFError, match="no map with id"):
        Map.from_id(0x7FFFFFF0)


def test_freeze_makes_user_space_writes_fail_clearly() -> None:
    with Map.create(MapType.ARRAY, 4, 8, 1, name="ro") as m:
        m[0] = 1
        m.freeze()
        assert m[0] == 1
        with pytest.raises(SyscallError, match="frozen or read-only") as info:
            m[0] = 2
        assert "'ro'" in str(info.value)
        assert m[0] == 1


def test_info_and_repr() -> None:
    with Map.create(MapType.LRU_HASH, 8, 16, 32, name="lru_info") as m:
        info = m.info()
        assert (info.type, info.key_size, info.value_size, info.max_entries, info.name) == (
            MapType.LRU_HASH, 8, 16, 32, "lru_info")
        assert info.id == m.id > 0
        text = repr(m)
        assert "LRU_HASH" in text and "'lru_info'" in text and f"id={m.id}" in text
    assert "closed" in repr(m)


def test_close_once_and_no_fd_left_open() -> None:
    before = len(open_fds())
    maps = [Map.create(MapType.HASH, 4, 4, 4) for _ in range(10)]
    assert len(open_fds()) == before + 10
    for m in maps:
        m.close()
        m.close()  # closing twice is harmless
    assert len(open_fds()) == before
    with pytest.raises(BPFError, match="closed"):
        maps[0][1] = 1


def test_garbage_collection_closes_a_forgotten_map() -> None:
    before = len(open_fds())
    m = Map.create(MapType.HASH, 4, 4, 4)
    assert len(open_fds()) == before + 1
    del m
    gc.collect()
    assert len(open_fds()) == before


# ---- BTF-typed maps -------------------------------------------------------------------------

TYPES = [
    Int("unsigned int", 4, IntEncoding.NONE, 32, 0),  # 1
    Int("char", 1, IntEncoding.SIGNED, 8, 0),  # 2
    Int("unsigned long long", 8, IntEncoding.NONE, 64, 0),  # 3
    Array(2, 1, 16),  # 4: char[16]
    Struct("key_t", 8, (Member("pid", 1, 0), Member("cpu", 1, 32))),  # 5
    Struct("val_t", 24, (Member("count", 3, 0), Member("comm", 4, 64))),  # 6
]


def test_btf_typed_struct_keys_and_values() -> None:
    btf = BTF.from_types(TYPES)
    with Map.create(MapType.HASH, max_entries=16, btf=btf, key_type="key_t", value_type="val_t", name="typed") as m:
        assert (m.key_size, m.value_size) == (8, 24)
        info = m.info()
        assert info.btf_id and (info.btf_key_type_id, info.btf_value_type_id) == (5, 6)
        m[{"pid": 42, "cpu": 1}] = {"count": 7, "comm": b"bash"}
        value = m[{"pid": 42, "cpu": 1}]
        assert value.count == 7 and value.comm == b"bash"
        (key, val), = m.items()
        assert key.pid == 42 and key.cpu == 1 and val["count"] == 7
        text = m.format()
        assert ".pid = 42" in text and '.comm = "bash"' in text and "Found 1 element" in text
        # another handle from the id decodes through the BTF the kernel holds
        with Map.from_id(m.id) as again:
            assert again[{"pid": 42, "cpu": 1}].comm == b"bash"


def test_btf_struct_value_with_wrong_member_is_a_clear_error() -> None:
    btf = BTF.from_types(TYPES)
    with Map.create(MapType.ARRAY, max_entries=2, btf=btf, key_type=1, value_type=6) as m:
        with pytest.raises(ValueError, match="val_t"):
            m[0] = {"nope": 1}


# ---- from_spec ------------------------------------------------------------------------------


def test_from_spec_writes_data_and_freezes() -> None:
    data = bytearray(b"hello world!".ljust(16, b"\0"))
    spec = MapSpec(name=".rodata", type=MapType.ARRAY, key_size=4, value_size=16, max_entries=1,
                   data=data, freeze=True, section=".rodata")
    with Map.from_spec(spec) as m:
        assert m[0] == bytes(data)
        with pytest.raises(SyscallError, match="frozen"):
            m[0] = bytes(16)


def test_from_spec_with_btf_fd_and_contents() -> None:
    btf = BTF.from_types(TYPES)
    spec = MapSpec(name="typed", type=MapType.ARRAY, key_size=4, value_size=24, max_entries=4,
                   key_type_id=1, value_type_id=6,
                   contents={2: (9).to_bytes(8, "little") + b"init".ljust(16, b"\0"), 3: "some_prog"})
    with _sys.btf_load(btf.to_bytes()).fd as btf_fd, Map.from_spec(spec, btf=btf, btf_fd=btf_fd) as m:
        assert m.info().btf_value_type_id == 6
        assert m[2].count == 9 and m[2].comm == b"init"
        assert m[3].count == 0  # named slots are the loader's job


def test_from_spec_map_in_map_builds_its_template() -> None:
    inner = MapSpec(name="inner", type=MapType.HASH, key_size=4, value_size=4, max_entries=8)
    outer = MapSpec(name="outer", type=MapType.ARRAY_OF_MAPS, key_size=4, value_size=4, max_entries=2,
                    inner_map=inner)
    with Map.from_spec(outer) as m, Map.create(MapType.HASH, 4, 4, 8) as slot:
        m[0] = slot
        assert m[0] == slot.id


def test_from_spec_pinning_reuses_compatible_and_rejects_incompatible(bpffs: Path) -> None:
    spec = MapSpec(name="shared", type=MapType.HASH, key_size=4, value_size=8, max_entries=16,
                   pinning=PinType.BY_NAME)
    with Map.from_spec(spec, pin_path=bpffs) as first:
        assert (bpffs / "shared").exists()
        first[1] = 11
        with Map.from_spec(spec, pin_path=bpffs) as second:
            assert second.id == first.id and second[1] == 11
        bigger = spec.copy()
        bigger.max_entries = 32
        with pytest.raises(PinMismatchError, match="max_entries is 16 but the object wants 32") as info:
            Map.from_spec(bigger, pin_path=bpffs)
        assert info.value.mismatches == {"max_entries": (16, 32)}
        other = spec.copy()
        other.type = MapType.ARRAY
        with pytest.raises(PinMismatchError, match="type is HASH but the object wants ARRAY"):
            Map.from_spec(other, pin_path=bpffs)


OBJECT_C = r"""
#include <bpf/bpf_helpers.h>
struct key_t { __u32 pid; __u32 cpu; };
struct val_t { __u64 count; char comm[16]; };
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 128);
    __type(key, struct key_t);
    __type(value, struct val_t);
} counts SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} pc SEC(".maps");
const volatile __u32 min_us = 1000;
__u64 hits = 7;
SEC("socket")
int prog(void *ctx)
{
    struct key_t k = { min_us, 0 };
    struct val_t *v = bpf_map_lookup_elem(&counts, &k);
    if (v)
        v->count += hits;
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_from_spec_creates_every_map_of_a_compiled_object(tmp_path: Path) -> None:
    import pybpf.cc
    from pybpf.spec import ObjectSpec

    src = tmp_path / "maps.bpf.c"
    src.write_text(OBJECT_C)
    spec = ObjectSpec.from_file(pybpf.cc.compile(src))
    spec.rodata["min_us"] = 2000
    spec.maps["counts"].max_entries = 256
    with _sys.btf_load(spec.btf.to_bytes()).fd as btf_fd:
        made = {name: Map.from_spec(ms, btf=spec.btf, btf_fd=btf_fd) for name, ms in spec.maps.items()}
    try:
        counts, pc = made["counts"], made["pc"]
        assert counts.max_entries == 256 and counts.info().btf_value_type_id == spec.maps["counts"].value_type_id
        counts[{"pid": 1, "cpu": 2}] = {"count": 3, "comm": b"sh"}
        assert counts[{"pid": 1, "cpu": 2}].comm == b"sh"
        pc[1] = 2
        assert pc[1].sum() == 2 * _sys.possible_cpus()
        rodata = next(m for n, m in made.items() if n.endswith(".rodata"))
        data = next(m for n, m in made.items() if n.endswith(".data"))
        assert rodata[0] == 2000  # a 4-byte value without BTF decodes to an int
        assert data[0] == 7
        with pytest.raises(SyscallError, match="frozen"):
            rodata[0] = bytes(rodata.value_size)
    finally:
        for m in made.values():
            m.close()
