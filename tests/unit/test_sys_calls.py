"""Call sites build the right attrs: every command wrapper checked against a fake seam."""

from __future__ import annotations

import ctypes
import errno

import pytest

from pybpf import _sys
from pybpf._sys import Command, FileFlags, ObjectKind, UpdateFlags
from pybpf._sys.attrs import MapCreateAttr, ProgLoadAttr, TestRunAttr
from pybpf._sys.fake import FakeSyscalls, read, write
from pybpf.enums import AttachType, MapFlags, MapType, ProgramFlags, ProgramType
from pybpf.errors import SyscallError

RET0 = bytes.fromhex("b700000000000000" "9500000000000000")


@pytest.fixture
def fake():
    with _sys.override(FakeSyscalls()) as f:
        yield f


def test_override_restores_previous_seam() -> None:
    before = _sys.current()
    with _sys.override(FakeSyscalls()) as f:
        assert _sys.current() is f
    assert _sys.current() is before


def test_map_create_attr(fake: FakeSyscalls) -> None:
    fd = _sys.map_create(
        MapType.LRU_HASH, 8, 16, 1024, flags=MapFlags.NO_COMMON_LRU, name="my-counts!and_more_than_16",
        btf_fd=7, btf_key_type_id=3, btf_value_type_id=4, map_extra=9,
    )
    (call,) = fake.calls_for(Command.MAP_CREATE)
    a = call.attr
    assert isinstance(a, MapCreateAttr)
    assert (a.map_type, a.key_size, a.value_size, a.max_entries) == (MapType.LRU_HASH, 8, 16, 1024)
    assert a.map_flags == MapFlags.NO_COMMON_LRU
    assert a.map_name == b"mycountsand_mor"  # sanitised to [A-Za-z0-9_.], 15 bytes + NUL
    assert (a.btf_fd, a.btf_key_type_id, a.btf_value_type_id, a.map_extra) == (7, 3, 4, 9)
    assert fd.fileno() in fake.open_fds
    fd.close()
    assert fake.open_fds == set()


def test_map_element_round_trip_through_model(fake: FakeSyscalls) -> None:
    with _sys.map_create(MapType.HASH, 4, 4, 2) as fd:
        assert _sys.map_lookup_elem(fd, b"aaaa", 4) is None
        _sys.map_update_elem(fd, b"aaaa", b"1111")
        _sys.map_update_elem(fd, b"bbbb", b"2222", flags=UpdateFlags.NOEXIST)
        with pytest.raises(SyscallError, match="BPF_MAP_UPDATE_ELEM failed: EEXIST"):
            _sys.map_update_elem(fd, b"aaaa", b"3333", flags=UpdateFlags.NOEXIST)
        with pytest.raises(SyscallError, match="E2BIG.*map is full"):
            _sys.map_update_elem(fd, b"cccc", b"3333")
        assert _sys.map_lookup_elem(fd, b"aaaa", 4) == b"1111"
        assert _sys.map_get_next_key(fd, None, 4) == b"aaaa"
        assert _sys.map_get_next_key(fd, b"aaaa", 4) == b"bbbb"
        assert _sys.map_get_next_key(fd, b"bbbb", 4) is None
        assert _sys.map_delete_elem(fd, b"aaaa") is True
        assert _sys.map_delete_elem(fd, b"aaaa") is False
    update = fake.calls_for(Command.MAP_UPDATE_ELEM)[1].attr
    assert update.flags == UpdateFlags.NOEXIST


def test_lookup_passes_key_and_reads_value(fake: FakeSyscalls) -> None:
    seen = {}

    def lookup(attr):
        seen["key"] = read(attr.key, 3)
        seen["fd"] = attr.map_fd
        write(attr.value, b"\x01\x02\x03\x04\x05")
        return 0

    fake.on(Command.MAP_LOOKUP_ELEM, lookup)
    assert _sys.map_lookup_elem(42, b"xyz", 5) == b"\x01\x02\x03\x04\x05"
    assert seen == {"key": b"xyz", "fd": 42}


def test_lookup_and_delete_without_key_is_queue_pop(fake: FakeSyscalls) -> None:
    def pop(attr):
        assert attr.key == 0
        write(attr.value, b"\x07" * 4)
        return 0

    fake.on(Command.MAP_LOOKUP_AND_DELETE_ELEM, pop)
    assert _sys.map_lookup_and_delete_elem(3, None, 4) == b"\x07" * 4


def test_freeze_then_update_is_refused(fake: FakeSyscalls) -> None:
    with _sys.map_create(MapType.ARRAY, 4, 4, 1) as fd:
        _sys.map_freeze(fd)
        with pytest.raises(SyscallError, match="frozen"):
            _sys.map_update_elem(fd, b"\0\0\0\0", b"abcd")


def test_batch_lookup_walks_to_the_end(fake: FakeSyscalls) -> None:
    with _sys.map_create(MapType.HASH, 4, 4, 100) as fd:
        keys = b"".join(i.to_bytes(4, "little") for i in range(10))
        values = b"".join((i * 10).to_bytes(4, "little") for i in range(10))
        assert _sys.map_update_batch(fd, keys, values, 10) == 10
        token, got = None, []
        while True:
            res = _sys.map_lookup_batch(fd, token, 4, 4, 4)
            got += res.pairs(4, 4)
            if res.next_batch is None:
                break
            token = res.next_batch
        assert [int.from_bytes(v, "little") for _, v in got] == [i * 10 for i in range(10)]
    attrs = [c.attr for c in fake.calls_for(Command.MAP_LOOKUP_BATCH)]
    assert attrs[0].in_batch == 0 and all(a.in_batch for a in attrs[1:])


def test_delete_batch_returns_count(fake: FakeSyscalls) -> None:
    def delete(attr):
        assert read(attr.keys, 8) == b"k1k2k3k4"
        attr.count = 2
        return 0

    fake.on(Command.MAP_DELETE_BATCH, delete)
    assert _sys.map_delete_batch(5, b"k1k2k3k4", 4) == 2
    assert fake.calls_for(Command.MAP_DELETE_BATCH)[0].attr.count == 4


def test_prog_load_attr(fake: FakeSyscalls) -> None:
    checked = {}

    def load(attr):
        checked["insns"] = read(attr.insns, attr.insn_cnt * 8)
        checked["license"] = ctypes.string_at(attr.license)
        checked["fd_array"] = read(attr.fd_array, 8)
        return fake.new_fd()

    fake.on(Command.PROG_LOAD, load)
    with _sys.prog_load(
        ProgramType.XDP, RET0, "Dual MIT/GPL", name="xdp_pass", flags=ProgramFlags.XDP_HAS_FRAGS,
        expected_attach_type=AttachType.XDP, attach_btf_id=12, attach_btf_obj_fd=3, fd_array=[5, 6],
    ):
        pass
    a = fake.calls_for(Command.PROG_LOAD)[0].attr
    assert isinstance(a, ProgLoadAttr)
    assert (a.prog_type, a.insn_cnt, a.prog_name) == (ProgramType.XDP, 2, b"xdp_pass")
    assert (a.prog_flags, a.expected_attach_type, a.attach_btf_id, a.attach_btf_obj_fd) == (
        ProgramFlags.XDP_HAS_FRAGS, AttachType.XDP, 12, 3)
    assert a.log_level == 0 and a.log_buf == 0
    assert checked == {"insns": RET0, "license": b"Dual MIT/GPL", "fd_array": b"\5\0\0\0\6\0\0\0"}
    assert fake.open_fds == set()


def test_prog_load_rejects_partial_instructions() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        _sys.prog_load(ProgramType.SOCKET_FILTER, RET0[:12])


def test_test_run_attr_and_result(fake: FakeSyscalls) -> None:
    def run(attr):
        assert read(attr.data_in, attr.data_size_in) == b"packet"
        write(attr.data_out, b"PACKET")
        attr.data_size_out, attr.retval, attr.duration = 6, 7, 123
        return 0

    fake.on(Command.PROG_TEST_RUN, run)
    res = _sys.prog_test_run(9, data=b"packet", repeat=100)
    a = fake.calls_for(Command.PROG_TEST_RUN)[0].attr
    assert isinstance(a, TestRunAttr)
    assert (a.prog_fd, a.repeat, a.data_size_in, a.data_size_out) == (9, 100, 6, 6 + 4096)
    assert res == _sys.TestRunResult(retval=7, data_out=b"PACKET", ctx_out=b"", duration_ns=123)


def test_test_run_grows_output_on_enospc(fake: FakeSyscalls) -> None:
    def too_small(attr):
        attr.data_size_out = 20
        raise OSError(errno.ENOSPC, "no space")

    def fits(attr):
        assert attr.data_size_out == 20
        write(attr.data_out, b"x" * 20)
        attr.data_size_out = 20
        return 0

    fake.on(Command.PROG_TEST_RUN, too_small, fits)
    assert _sys.prog_test_run(1, data=b"y", data_out_size=4).data_out == b"x" * 20


def test_pin_and_get_pass_the_path(fake: FakeSyscalls) -> None:
    with _sys.map_create(MapType.HASH, 4, 4, 4) as fd:
        _sys.obj_pin(fd, "/sys/fs/bpf/m")
        with pytest.raises(SyscallError, match="BPF_OBJ_PIN failed: EEXIST.*already exists"):
            _sys.obj_pin(fd, "/sys/fs/bpf/m")
        with _sys.obj_get("/sys/fs/bpf/m", flags=FileFlags.RDONLY) as again:
            _sys.map_update_elem(fd, b"1234", b"abcd")
            assert _sys.map_lookup_elem(again, b"1234", 4) == b"abcd"
    assert fake.calls_for(Command.OBJ_GET)[0].attr.file_flags == FileFlags.RDONLY
    assert fake.open_fds == set()


def test_ids_iterate_until_enoent(fake: FakeSyscalls) -> None:
    ids = iter([5, 9])

    def next_id(attr):
        try:
            attr.next_id = next(ids)
        except StopIteration:
            raise OSError(errno.ENOENT, "end") from None
        return 0

    fake.on(Command.MAP_GET_NEXT_ID, next_id)
    assert list(_sys.iter_ids(ObjectKind.MAP)) == [5, 9]
    assert [c.attr.start_id for c in fake.calls_for(Command.MAP_GET_NEXT_ID)] == [0, 5, 9]
    with _sys.get_fd_by_id(ObjectKind.LINK, 77) as fd:
        assert fd.kind == "link"
    assert fake.calls_for(Command.LINK_GET_FD_BY_ID)[0].attr.link_id == 77


def test_obj_get_info_by_fd_points_at_the_struct(fake: FakeSyscalls) -> None:
    def info(attr):
        assert attr.info_len == ctypes.sizeof(_sys.MapInfo)
        write(attr.info, (3).to_bytes(4, "little") + (11).to_bytes(4, "little"))
        return 0

    fake.on(Command.OBJ_GET_INFO_BY_FD, info)
    got = _sys.map_info(4)
    assert (got.type, got.id) == (MapType.PROG_ARRAY, 11)


def test_link_create_variants(fake: FakeSyscalls) -> None:
    seen = []

    def link(attr):
        seen.append((attr.attach_type, attr.kprobe_multi.cnt, read(attr.kprobe_multi.cookies, 16)))
        return fake.new_fd()

    fake.on(Command.LINK_CREATE, link)
    with _sys.link_create_kprobe_multi(3, symbols=["a", "b"], cookies=[1, 2], retprobe=True):
        pass
    a = fake.calls_for(Command.LINK_CREATE)[0].attr
    assert a.prog_fd == 3 and a.kprobe_multi.flags == 1
    assert seen == [(AttachType.TRACE_KPROBE_MULTI, 2, (1).to_bytes(8, "little") + (2).to_bytes(8, "little"))]
    fake.handlers.clear()
    _sys.link_create_ordered(3, 2, AttachType.TCX_INGRESS, relative_id=55, expected_revision=4).close()
    _sys.link_create_perf_event(3, 8, cookie=0xABC).close()
    tcx, perf = (c.attr for c in fake.calls_for(Command.LINK_CREATE)[1:])
    assert (tcx.target_ifindex, tcx.tcx.relative_id, tcx.tcx.expected_revision) == (2, 55, 4)
    assert (perf.target_fd, perf.attach_type, perf.perf_event.bpf_cookie) == (8, AttachType.PERF_EVENT, 0xABC)


def test_attach_detach_query(fake: FakeSyscalls) -> None:
    def query(attr):
        assert attr.prog_cnt == 64
        write(attr.prog_ids, b"\x0a\0\0\0\x0b\0\0\0")
        attr.prog_cnt, attr.revision = 2, 3
        return 0

    fake.on(Command.PROG_QUERY, query)
    _sys.prog_attach(10, 11, AttachType.CGROUP_INET_INGRESS, flags=_sys.AttachFlags.ALLOW_MULTI)
    _sys.prog_detach(10, AttachType.CGROUP_INET_INGRESS, prog_fd=11)
    res = _sys.prog_query(10, AttachType.CGROUP_INET_INGRESS)
    assert res.prog_ids == (10, 11) and res.revision == 3
    att = fake.calls_for(Command.PROG_ATTACH)[0].attr
    assert (att.target_fd, att.attach_bpf_fd, att.attach_flags) == (10, 11, _sys.AttachFlags.ALLOW_MULTI)


def test_raw_tracepoint_open_passes_the_name(fake: FakeSyscalls) -> None:
    names = []
    fake.on(Command.RAW_TRACEPOINT_OPEN, lambda a: names.append(ctypes.string_at(a.name)) or fake.new_fd())
    _sys.raw_tracepoint_open(4, "sched_switch").close()
    assert names == [b"sched_switch"]


def test_perf_event_open_fills_size_and_cloexec(fake: FakeSyscalls) -> None:
    attr = _sys.software_event(_sys.PerfSwConfig.CPU_CLOCK, sample_freq=99)
    with _sys.perf_event_open(attr, pid=-1, cpu=2) as fd:
        _sys.perf_event_set_bpf(fd, 17)
        _sys.perf_event_enable(fd)
        _sys.perf_event_disable(fd)
    (got, pid, cpu, group, flags) = fake.perf_attrs[0]
    assert got.size == ctypes.sizeof(_sys.PerfEventAttr) == 136
    assert (got.type, got.config, got.sample_freq, got.freq) == (1, 0, 99, 1)
    assert (pid, cpu, group) == (-1, 2, -1) and flags & _sys.PerfFlags.FD_CLOEXEC
    assert [(r, a) for _, r, a in fake.ioctls] == [(0x40042408, 17), (0x2400, 0), (0x2401, 0)]


def test_fake_drains_and_deletes_in_batches(fake: FakeSyscalls) -> None:
    with _sys.map_create(MapType.HASH, 4, 4, 10) as fd:
        keys = b"".join(i.to_bytes(4, "little") for i in range(6))
        _sys.map_update_batch(fd, keys, keys, 6)
        assert _sys.map_delete_batch(fd, keys[:8], 2) == 2
        with pytest.raises(SyscallError, match="ENOENT"):
            _sys.map_delete_batch(fd, keys[:8], 2)
        first = _sys.map_lookup_and_delete_batch(fd, None, 4, 4, 3)
        rest = _sys.map_lookup_and_delete_batch(fd, first.next_batch, 4, 4, 3)
        assert (first.count, rest.count, rest.next_batch) == (3, 1, None)
        assert first.keys + rest.keys == keys[8:]
