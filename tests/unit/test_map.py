"""pybpf.map.Map over the FakeSyscalls double: what it asks the kernel, and how it reports errors."""

from __future__ import annotations

import ctypes
import errno

import pytest

from pybpf._sys import Command, MapInfo as RawMapInfo, override
from pybpf._sys.fake import FakeSyscalls, write
from pybpf.btf import BTF, Int, IntEncoding
from pybpf.enums import MapFlags, MapType, PinType
from pybpf.errors import (
    MapEncodingError, MapFullError, MapOperationError, PinMismatchError, SyscallError,
)
from pybpf.map import Map
from pybpf.maps import batch
from pybpf.spec import MapSpec


@pytest.fixture
def fake():
    with override(FakeSyscalls()) as f:
        yield f


def test_create_passes_the_definition(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 8, 128, name="counts", flags=MapFlags.NO_PREALLOC) as m:
        attr = fake.calls_for(Command.MAP_CREATE)[0].attr
        assert (attr.map_type, attr.key_size, attr.value_size, attr.max_entries) == (MapType.HASH, 4, 8, 128)
        assert attr.map_flags == MapFlags.NO_PREALLOC and attr.map_name == b"counts"
        assert m.fileno() in fake.open_fds
    assert not fake.open_fds


def test_close_is_idempotent_and_use_after_close_is_clear(fake: FakeSyscalls) -> None:
    m = Map.create(MapType.HASH, 4, 4, 4)
    m.close()
    m.close()
    assert len(fake.closed) == 1 and m.closed
    with pytest.raises(ValueError, match="closed"):
        m[1] = 1


def test_dict_semantics(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 4, 8) as m:
        m[1] = 10
        m.update({2: 20, 3: 30})
        assert m[2] == 20 and 3 in m and 4 not in m and m.get(4, -1) == -1
        assert dict(m.items()) == {1: 10, 2: 20, 3: 30} and len(m) == 3
        del m[2]
        with pytest.raises(KeyError):
            m[2]
        with pytest.raises(KeyError):
            del m[2]
        assert m.pop(3) == 30 and m.pop(3, "gone") == "gone"
        assert list(m.keys()) == [1] and list(m.values()) == [10]


def test_maps_compare_by_identity_and_are_hashable(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 4, 8) as a, Map.create(MapType.HASH, 4, 4, 8) as b:
        assert a != b and a == a and len({a, b}) == 2


def test_items_and_update_use_batch_ops(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 4, 10_000) as m:
        m.batch_size = 100
        m.update({i: i * 2 for i in range(250)})
        assert len(fake.calls_for(Command.MAP_UPDATE_BATCH)) == 3
        assert dict(m.items()) == {i: i * 2 for i in range(250)}
        assert len(fake.calls_for(Command.MAP_LOOKUP_BATCH)) == 3
        assert not fake.calls_for(Command.MAP_GET_NEXT_KEY)


def test_without_batch_support_falls_back_and_remembers(fake: FakeSyscalls) -> None:
    fake.on(Command.MAP_LOOKUP_BATCH, lambda attr: (_ for _ in ()).throw(OSError(errno.EINVAL, "no")))
    fake.on(Command.MAP_UPDATE_BATCH, lambda attr: (_ for _ in ()).throw(OSError(524, "ENOTSUPP")))
    with Map.create(MapType.HASH, 4, 4, 64) as m:
        m.update({i: i for i in range(10)})
        m.update({i: i + 1 for i in range(10)})
        assert dict(m.items()) == {i: i + 1 for i in range(10)}
        assert dict(m.items()) == {i: i + 1 for i in range(10)}
        assert len(fake.calls_for(Command.MAP_LOOKUP_BATCH)) == 1
        assert len(fake.calls_for(Command.MAP_UPDATE_BATCH)) == 1
        assert batch.batch_supported(MapType.HASH, "lookup") is False
        assert batch.batch_supported(MapType.ARRAY, "lookup") is None  # other types are probed on their own


def test_a_real_batch_error_is_not_taken_for_missing_support(fake: FakeSyscalls) -> None:
    fake.fail(Command.MAP_LOOKUP_BATCH, errno.EFAULT)
    with Map.create(MapType.HASH, 4, 4, 64) as m:
        m[1] = 1
        with pytest.raises(SyscallError, match="EFAULT"):
            dict(m.items())


def test_full_map_error_names_max_entries(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 4, 2, name="tiny") as m:
        m[1] = 1
        m[2] = 2
        with pytest.raises(MapFullError, match="'tiny' is full.*max_entries=2") as info:
            m[3] = 3
        assert info.value.max_entries == 2 and info.value.errno == errno.E2BIG


def test_array_index_out_of_range_and_delete(fake: FakeSyscalls) -> None:
    with Map.create(MapType.ARRAY, 4, 4, 2) as m:
        with pytest.raises(MapEncodingError, match="index 5 is out of range.*max_entries=2"):
            m[5] = 1
        with pytest.raises(MapOperationError, match="cannot be deleted"):
            del m[0]
        assert len(m) == 2


def test_frozen_map_write_error(fake: FakeSyscalls) -> None:
    with Map.create(MapType.ARRAY, 4, 4, 1, name="conf") as m:
        m.freeze()
        with pytest.raises(SyscallError, match="'conf' is frozen or read-only"):
            m[0] = 1
        assert m[0] == 0


def test_operations_that_a_map_type_lacks(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 4, 2) as h, Map.create(MapType.QUEUE, 0, 4, 2) as q:
        with pytest.raises(MapOperationError, match="HASH map .* has no queue/bloom access"):
            h.push(1)
        with pytest.raises(MapOperationError, match="use push"):
            q[0]
        with pytest.raises(MapOperationError):
            h.get_map(0)


def test_btf_type_ids_dropped_for_types_that_refuse_them(fake: FakeSyscalls) -> None:
    btf = BTF.from_types([Int("unsigned int", 4, IntEncoding.NONE, 32, 0)])
    with Map.create(MapType.QUEUE, 0, 4, 8, btf=btf, value_type=1):
        attr = fake.calls_for(Command.MAP_CREATE)[0].attr
        assert attr.btf_value_type_id == 0 and attr.btf_fd == 0
    assert not fake.open_fds  # the BTF fd loaded for the map was closed too


def test_btf_create_retried_without_types_on_einval(fake: FakeSyscalls) -> None:
    btf = BTF.from_types([Int("unsigned int", 4, IntEncoding.NONE, 32, 0)])
    fake.fail(Command.MAP_CREATE, errno.EINVAL)
    with Map.create(MapType.HASH, max_entries=4, btf=btf, key_type=1, value_type="unsigned int") as m:
        first, second = fake.calls_for(Command.MAP_CREATE)
        assert (first.attr.btf_key_type_id, first.attr.btf_value_type_id) == (1, 1)
        assert (second.attr.btf_key_type_id, second.attr.btf_value_type_id) == (0, 0)
        m[1] = 2
        assert m[1] == 2
    assert len(fake.calls_for(Command.BTF_LOAD)) == 1 and not fake.open_fds


def test_from_spec_writes_data_freezes_and_leaves_named_slots(fake: FakeSyscalls) -> None:
    spec = MapSpec(name="cfg.rodata", type=MapType.ARRAY, key_size=4, value_size=4, max_entries=4,
                   data=bytearray(b"\x01\x02\x03\x04"), freeze=True, contents={2: b"\x09\0\0\0", 3: "prog"})
    with Map.from_spec(spec) as m:
        cmds = [c.cmd for c in fake.calls]
        assert cmds.index(Command.MAP_FREEZE) > cmds.index(Command.MAP_UPDATE_ELEM)
        assert fake.calls_for(Command.MAP_CREATE)[0].attr.map_name == b"cfg.rodata"
        assert m[0] == 0x04030201
    spec.freeze = False
    spec.data = None
    with Map.from_spec(spec) as m:
        assert m[2] == 9 and m[3] == 0
        m.load_contents({3: b"\x07\0\0\0", 1: "five"}, resolve=lambda name: len(name).to_bytes(4, "little"))
        assert m[3] == 7 and m[1] == 4
        with pytest.raises(MapOperationError, match="pass resolve="):
            m.load_contents({1: "five"})


def _pinned_info(**fields: int):  # type: ignore[no-untyped-def]
    def handler(attr):  # type: ignore[no-untyped-def]
        info = RawMapInfo(**fields)
        write(attr.info, bytes(info)[: attr.info_len])
        return 0

    return handler


def test_pinned_map_reused_when_compatible_rejected_when_not(fake: FakeSyscalls) -> None:
    spec = MapSpec(name="shared", type=MapType.HASH, key_size=4, value_size=8, max_entries=16,
                   pinning=PinType.BY_NAME)
    with Map.from_spec(spec, pin_path="/sys/fs/bpf/x") as first:
        assert fake.pins == {"/sys/fs/bpf/x/shared": first.fileno()}
    fake.pins["/sys/fs/bpf/x/shared"] = 1  # still pinned after our fd closed
    fake.on(Command.OBJ_GET_INFO_BY_FD, _pinned_info(type=1, id=77, key_size=4, value_size=8, max_entries=16))
    with Map.from_spec(spec, pin_path="/sys/fs/bpf/x") as again:
        assert again.id == 77 and again.pinned_path == "/sys/fs/bpf/x/shared"
        assert len(fake.calls_for(Command.MAP_CREATE)) == 1
    fake.handlers.clear()
    fake.on(Command.OBJ_GET_INFO_BY_FD, _pinned_info(type=1, id=77, key_size=4, value_size=4, max_entries=8))
    with pytest.raises(PinMismatchError) as info:
        Map.from_spec(spec, pin_path="/sys/fs/bpf/x")
    assert info.value.mismatches == {"value_size": (4, 8), "max_entries": (8, 16)}
    assert "rm /sys/fs/bpf/x/shared" in str(info.value)
    assert not fake.open_fds


def test_repr_and_format(fake: FakeSyscalls) -> None:
    with Map.create(MapType.HASH, 4, 2, 4, name="r") as m:
        m[1] = 0x0102
        assert repr(m).startswith("<Map HASH 'r' key_size=4 value_size=2 max_entries=4 fd=")
        assert m.format() == "key: 01 00 00 00  value: 02 01\nFound 1 element"
    assert "closed" in repr(m)


def test_map_info_dataclass_from_kernel_struct(fake: FakeSyscalls) -> None:
    fake.on(Command.OBJ_GET_INFO_BY_FD, _pinned_info(type=9, id=5, key_size=4, value_size=8, max_entries=3,
                                                       map_flags=int(MapFlags.NO_COMMON_LRU)))
    with Map.create(MapType.LRU_HASH, 4, 8, 3) as m:
        info = m.info()
        assert info.type is MapType.LRU_HASH and info.flags == MapFlags.NO_COMMON_LRU and m.id == 5
    assert ctypes.sizeof(RawMapInfo) >= 80
