"""Folded-stack text (exact output) and stack maps read through a stand-in Map."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybpf.enums import MapFlags, MapType
from pybpf.stacks import (
    BuildIdFrame, BuildIdIndex, BuildIdStatus, KernelSymbols, ProcessSymbols, StackError, StackIdError, StackKey,
    StackTraceMap, Symbol, check_stack_id, folded, folded_counts, stack_id_error, stack_key,
)


class FakeStackMap:
    """The part of pybpf.map.Map a StackTraceMap uses, over a dict of raw values."""

    def __init__(self, values: dict[int, bytes], *, value_size: int = 8 * 4, flags: MapFlags = MapFlags.NONE,
                 map_type: MapType = MapType.STACK_TRACE) -> None:
        self.values = values
        self.value_size = value_size
        self.flags = flags
        self.type = map_type
        self.name = "stacks"

    def lookup(self, key: int, default: Any = None) -> Any:
        return self.values.get(key, default)

    def keys(self) -> list[int]:
        return list(self.values)

    def __iter__(self) -> Iterator[int]:
        return iter(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __len__(self) -> int:
        return len(self.values)

    def __delitem__(self, key: int) -> None:
        del self.values[key]

    def clear(self) -> None:
        self.values.clear()


def _ips(*ips: int, depth: int = 4) -> bytes:
    return struct.pack(f"<{depth}Q", *ips, *([0] * (depth - len(ips))))


KALLSYMS = "ffffffff81000000 T entry_SYSCALL_64\nffffffff81001000 T do_syscall_64\nffffffff81002000 T __x64_sys_read\n"


class StubProcess(ProcessSymbols):
    """Names user addresses from a dict (no /proc)."""

    def __init__(self, names: dict[int, str]) -> None:  # noqa: D107 - no super().__init__: nothing to read
        self.names = names

    def lookup(self, address: int) -> Symbol:
        return Symbol(self.names.get(address, "[unknown]"), 0, "/bin/app", address)


# ---- folded ---------------------------------------------------------------------------------


def test_folded_exact_text() -> None:
    text = folded([
        (["bash", "main", "read_line", "read"], 3),
        (["bash", "main"], 1),
        (["bash", "main", "read_line", "read"], 2),
        (["python3", "_start", "Py_Main"], 7),
        (["idle"], 0),
    ])
    assert text == "bash;main 1\nbash;main;read_line;read 5\npython3;_start;Py_Main 7\n"


def test_folded_sanitises_frames() -> None:
    assert folded([(["a;b", "std::map<int;int>", "x\ny", ""], 1)]) == "a:b;std::map<int:int>;x y;[unknown] 1\n"
    assert folded([]) == ""


@pytest.fixture()
def kernel_syms(tmp_path: Path) -> KernelSymbols:
    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS)
    return KernelSymbols(path)


def test_folded_counts_exact_text(kernel_syms: KernelSymbols) -> None:
    stacks = StackTraceMap(FakeStackMap({  # type: ignore[arg-type]
        1: _ips(0xFFFFFFFF81002010, 0xFFFFFFFF81001020, 0xFFFFFFFF81000030),  # innermost first
        2: _ips(0x1003, 0x1002, 0x1001),
        3: _ips(0x1009, 0x1001),
    }))
    app = StubProcess({0x1001: "main", 0x1002: "level1", 0x1003: "read_config", 0x1009: "compute"})
    counts = {
        (100, 1, 2, b"app\0\0\0"): 5,                     # in a syscall: user + kernel frames
        (100, -errno.EFAULT, 3, b"app"): 9,               # user-mode sample: no kernel stack
        (100, -errno.EEXIST, 3, "app"): 1,                # kernel stack lost to a hash collision
        (200, 1, 0xFFFFFFF2, b"kworker/0:1"): 2,          # kernel thread: no user stack (-EFAULT, unsigned)
    }
    text = folded_counts(counts, stacks, processes={100: app, 200: app}, kernel_symbols=kernel_syms)
    assert text == (
        "app;main;compute 9\n"
        "app;main;compute;[missed kernel stack] 1\n"
        "app;main;level1;read_config;entry_SYSCALL_64;do_syscall_64;__x64_sys_read 5\n"
        "kworker/0:1;entry_SYSCALL_64;do_syscall_64;__x64_sys_read 2\n"
    )
    marked = folded_counts({(100, 1, 2, "app"): 5}, stacks, processes={100: app}, kernel_symbols=kernel_syms,
                           kernel_suffix="_[k]", delimiter="-", offsets=True)
    assert marked == ("app;main;level1;read_config;-;entry_SYSCALL_64+0x30_[k];do_syscall_64+0x20_[k];"
                      "__x64_sys_read+0x10_[k] 5\n")
    user_only = folded_counts([((100, 1, 2, "app"), 5)], stacks, processes={100: app}, kernel=False)
    assert user_only == "app;main;level1;read_config 5\n"


def test_stack_key_from_struct_fields() -> None:
    class Key:
        tgid = 7
        kernstack = 0xFFFFFFEF  # -EEXIST as u32
        userstack = 3
        comm = [ord("s"), ord("h"), 0, 0]

    assert stack_key(Key()) == StackKey(7, -errno.EEXIST, 3, "sh")
    assert stack_key({"pid": 1, "kern_stack_id": 2, "user_stack_id": 3, "comm": "x"}) == StackKey(1, 2, 3, "x")
    with pytest.raises(StackError, match="kernel_stack_id field.*key="):
        stack_key({"pid": 1, "comm": "x", "user_stack_id": 3})


# ---- stack maps -----------------------------------------------------------------------------


def test_stack_ips_walk_delete_clear() -> None:
    fake = FakeStackMap({4: _ips(0x30, 0x20, 0x10), 9: _ips(0x99)})
    stacks = StackTraceMap(fake)  # type: ignore[arg-type]
    assert stacks.depth == 4 and not stacks.build_id_mode
    assert stacks.stack(4) == [0x30, 0x20, 0x10]
    assert dict(stacks.walk()) == {4: [0x30, 0x20, 0x10], 9: [0x99]}
    assert 4 in stacks and -14 not in stacks and len(stacks) == 2
    stacks.delete(9)
    assert stacks.ids() == [4]
    stacks.clear()
    assert len(stacks) == 0
    with pytest.raises(StackIdError, match=r"stack id 4 is not in 'stacks'"):
        stacks.stack(4)


def test_depth_one_map_value_decoded_as_int() -> None:
    stacks = StackTraceMap(FakeStackMap({1: 0xFFFF0000}, value_size=8))  # type: ignore[arg-type,dict-item]
    assert stacks.stack(1) == [0xFFFF0000]


@pytest.mark.parametrize(("stack_id", "pattern"), [
    (-errno.EFAULT, r"-EFAULT: the stack could not be walked.*frame-pointer"),
    (-errno.EEXIST, r"-EEXIST: .*BPF_F_REUSE_STACKID"),
    (-errno.ENOMEM, r"-ENOMEM: the stack map is full"),
    (2**32 - errno.EEXIST, r"-EEXIST"),
])
def test_negative_ids_are_explained(stack_id: int, pattern: str) -> None:
    with pytest.raises(StackIdError, match=pattern) as err:
        check_stack_id(stack_id)
    assert err.value.stack_id < 0
    assert stack_id_error(5) is None and check_stack_id(5) == 5


def test_not_a_stack_map() -> None:
    with pytest.raises(StackError, match="HASH map, not STACK_TRACE.*BPF_MAP_TYPE_STACK_TRACE"):
        StackTraceMap(FakeStackMap({}, map_type=MapType.HASH))  # type: ignore[arg-type]
    with pytest.raises(StackError, match="not a multiple of 8"):
        StackTraceMap(FakeStackMap({}, value_size=12))  # type: ignore[arg-type]


def test_build_id_frames_decode(tmp_path: Path) -> None:
    bid = bytes(range(20))
    entries = (struct.pack("<i20sQ", 1, bid, 0x1139) + struct.pack("<i20sQ", 2, bytes(20), 0x7F0000001234)
               + struct.pack("<i20sQ", 0, bytes(20), 0) * 2)
    stacks = StackTraceMap(FakeStackMap({1: entries}, value_size=4 * 32,  # type: ignore[arg-type]
                                        flags=MapFlags.STACK_BUILD_ID))
    assert stacks.build_id_mode and stacks.depth == 4
    assert stacks.build_id_stack(1) == [
        BuildIdFrame(BuildIdStatus.VALID, bid.hex(), offset=0x1139),
        BuildIdFrame(BuildIdStatus.IP, ip=0x7F0000001234),
    ]
    with pytest.raises(StackError, match="build_id_stack"):
        stacks.stack(1)
    # no file has that build id: [unknown] named by the build id; an IP frame through the process
    index = BuildIdIndex(ip_symbols=StubProcess({0x7F0000001234: "jit"}), debug_root=tmp_path)
    syms = stacks.build_id_symbols(1, index)
    assert (syms[0].name, syms[0].module, syms[0].offset) == ("[unknown]", bid.hex(), 0x1139)
    assert syms[1].name == "jit"
    plain = StackTraceMap(FakeStackMap({1: _ips(1)}))  # type: ignore[arg-type]
    with pytest.raises(StackError, match="BPF_F_STACK_BUILD_ID"):
        plain.build_id_stack(1)
