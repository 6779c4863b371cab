"""Numbers of the kernel ABI: syscall numbers, ``enum bpf_cmd`` and the small enums of bpf().

Values are facts of include/uapi/linux/bpf.h, include/uapi/linux/perf_event.h and the
per-architecture syscall tables; nothing here touches the kernel.
"""

from __future__ import annotations

import os
from enum import IntEnum, IntFlag

from ..errors import NotSupportedError

# the syscall numbers live with the libc binding that uses them (re-exported here)
from .raw import SYSCALL_NUMBERS as SYSCALL_NUMBERS  # noqa: E402
from .raw import syscall_numbers as syscall_numbers  # noqa: E402


class Command(IntEnum):
    """``enum bpf_cmd``: the first argument of bpf()."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35
    TOKEN_CREATE = 36

    @property
    def uapi_name(self) -> str:
        """The UAPI spelling, e.g. ``BPF_MAP_CREATE``."""
        return f"BPF_{self.name}"


class UpdateFlags(IntFlag):
    """``flags`` of BPF_MAP_UPDATE_ELEM / lookup (``BPF_ANY`` ... ``BPF_F_LOCK``)."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    LOCK = 4


class ObjectKind(IntEnum):
    """The kinds of kernel objects that have ids (for *_GET_NEXT_ID / *_GET_FD_BY_ID)."""

    PROG = 0
    MAP = 1
    BTF = 2
    LINK = 3


#: ``ObjectKind -> (GET_NEXT_ID command, GET_FD_BY_ID command)``.
ID_COMMANDS: dict[ObjectKind, tuple[Command, Command]] = {
    ObjectKind.PROG: (Command.PROG_GET_NEXT_ID, Command.PROG_GET_FD_BY_ID),
    ObjectKind.MAP: (Command.MAP_GET_NEXT_ID, Command.MAP_GET_FD_BY_ID),
    ObjectKind.BTF: (Command.BTF_GET_NEXT_ID, Command.BTF_GET_FD_BY_ID),
    ObjectKind.LINK: (Command.LINK_GET_NEXT_ID, Command.LINK_GET_FD_BY_ID),
}


class FileFlags(IntFlag):
    """``file_flags`` / ``open_flags`` of OBJ_GET and *_GET_FD_BY_ID."""

    NONE = 0
    RDONLY = 1 << 3
    WRONLY = 1 << 4


class StatsType(IntEnum):
    """``enum bpf_stats_type`` for BPF_ENABLE_STATS."""

    RUN_TIME = 0


class AttachFlags(IntFlag):
    """``attach_flags`` of BPF_PROG_ATTACH / BPF_LINK_CREATE (mprog)."""

    NONE = 0
    ALLOW_OVERRIDE = 1 << 0
    ALLOW_MULTI = 1 << 1
    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    LINK = 1 << 13


class TestRunFlags(IntFlag):
    """``flags`` of BPF_PROG_TEST_RUN."""

    __test__ = False  # not a pytest test class

    NONE = 0
    RUN_ON_CPU = 1 << 0
    XDP_LIVE_FRAMES = 1 << 1
    SKB_CHECKSUM_COMPLETE = 1 << 2


class PerfType(IntEnum):
    """``enum perf_type_id`` (``perf_event_attr.type``)."""

    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class BreakpointType(IntFlag):
    """``enum HW_BREAKPOINT_*`` (``perf_event_attr.bp_type`` for PerfType.BREAKPOINT): the accesses
    a hardware watchpoint fires on. x86 has no read-only watchpoints (R alone is refused)."""

    EMPTY = 0
    R = 1
    W = 2
    RW = 3
    X = 4


class PerfSwConfig(IntEnum):
    """``enum perf_sw_ids`` (``config`` for PerfType.SOFTWARE)."""

    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


class PerfHwConfig(IntEnum):
    """``enum perf_hw_id`` (``config`` for PerfType.HARDWARE)."""

    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class PerfSampleType(IntFlag):
    """``enum perf_event_sample_format`` (subset pybpf uses)."""

    NONE = 0
    IP = 1 << 0
    TID = 1 << 1
    TIME = 1 << 2
    ADDR = 1 << 3
    READ = 1 << 4
    CALLCHAIN = 1 << 5
    ID = 1 << 6
    CPU = 1 << 7
    PERIOD = 1 << 8
    STREAM_ID = 1 << 9
    RAW = 1 << 10


class PerfFlags(IntFlag):
    """``flags`` argument of perf_event_open."""

    NONE = 0
    FD_NO_GROUP = 1 << 0
    FD_OUTPUT = 1 << 1
    PID_CGROUP = 1 << 2
    FD_CLOEXEC = 1 << 3


def _ioc(direction: int, kind: str, nr: int, size: int) -> int:
    """The generic ``_IOC`` encoding (x86_64, arm64, riscv64 and loongarch64 share it)."""
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | nr


_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


class PerfIoctl(IntEnum):
    """Perf event ioctls (``PERF_EVENT_IOC_*``)."""

    ENABLE = _ioc(_IOC_NONE, "$", 0, 0)
    DISABLE = _ioc(_IOC_NONE, "$", 1, 0)
    REFRESH = _ioc(_IOC_NONE, "$", 2, 0)
    RESET = _ioc(_IOC_NONE, "$", 3, 0)
    SET_BPF = _ioc(_IOC_WRITE, "$", 8, 4)
    PAUSE_OUTPUT = _ioc(_IOC_WRITE, "$", 9, 4)
