"""ABI numbers: syscall tables, commands, ioctls, struct sizes, cpu lists."""

from __future__ import annotations

import ctypes

import pytest

from pybpf import _sys
from pybpf._sys import attrs, cpus, info
from pybpf._sys.abi import Command, PerfIoctl, syscall_numbers
from pybpf.errors import NotSupportedError


def test_syscall_numbers_per_architecture() -> None:
    assert syscall_numbers("x86_64") == (321, 298)
    assert syscall_numbers("aarch64") == (280, 241)
    with pytest.raises(NotSupportedError, match="s390x"):
        syscall_numbers("s390x")


def test_commands_match_uapi() -> None:
    assert Command.MAP_CREATE == 0 and Command.PROG_LOAD == 5 and Command.BTF_LOAD == 18
    assert Command.MAP_LOOKUP_BATCH == 24 and Command.LINK_CREATE == 28 and Command.LINK_DETACH == 34
    assert Command.PROG_LOAD.uapi_name == "BPF_PROG_LOAD"


def test_perf_ioctl_numbers() -> None:
    assert PerfIoctl.ENABLE == 0x2400 and PerfIoctl.DISABLE == 0x2401
    assert PerfIoctl.SET_BPF == 0x40042408


@pytest.mark.parametrize(
    ("struct", "size"),
    [
        (attrs.MapCreateAttr, 80), (attrs.MapElemAttr, 32), (attrs.MapBatchAttr, 56),
        (attrs.ProgLoadAttr, 152), (attrs.TestRunAttr, 80), (attrs.LinkCreateAttr, 64),
        (info.ProgInfo, 232), (info.MapInfo, 88), (info.BtfInfo, 32), (info.LinkInfo, 64),
        (_sys.PerfEventAttr, 136),
    ],
)
def test_struct_sizes(struct: type, size: int) -> None:
    assert ctypes.sizeof(struct) == size


def test_perf_event_attr_flag_bits() -> None:
    attr = _sys.PerfEventAttr()
    attr.disabled = 1
    attr.precise_ip = 3
    attr.sigtrap = 1
    word = int.from_bytes(bytes(attr)[40:48], "little")
    assert word == (1 << 0) | (3 << 15) | (1 << 37)


def test_cpu_list_parsing() -> None:
    assert cpus.parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert cpus.parse_cpu_list("0") == [0]


def test_object_names_are_sanitised() -> None:
    from pybpf._sys.buffers import object_name

    assert object_name("handle-exec.éx") == b"handleexec.x"
    assert object_name("a" * 40) == b"a" * 15
