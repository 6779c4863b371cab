"""``pybpf._sys``: the one syscall seam.

Every ``bpf()`` and ``perf_event_open()`` call in pybpf goes through :func:`bpf` /
:func:`perf_event_open` here, which delegate to a replaceable :class:`Syscalls` object
(:func:`current`; :func:`override` swaps in a test double). Attr structures are declared
once (``attrs``, ``info``, ``perf_attr``); the typed wrappers below build them, call the
seam, and return owned :class:`FD` objects or decoded results.

Underneath, one libc binding (:mod:`.raw`) makes the calls. :mod:`.record` is a seam that keeps
what a load and attach asked of the kernel; :mod:`.replay` asks it again through :mod:`.raw`
alone (a cached ``pybpf trace`` starts that way, before the typed layers are imported).
"""

from __future__ import annotations

from .._lazy import lazy_attributes

TYPE_CHECKING = False  # not typing's: replaying a launch (pybpf._sys.replay) imports this package
if TYPE_CHECKING:
    from .abi import (
        AttachFlags,
        Command,
        FileFlags,
        ObjectKind,
        PerfFlags,
        PerfHwConfig,
        PerfIoctl,
        PerfSwConfig,
        PerfType,
        StatsType,
        TestRunFlags,
        UpdateFlags,
    )
    from .cpus import percpu_value_size, possible_cpus
    from .fd import FD, ClosedFDError, FdLike, HasFileno, fdno
    from .info import BtfInfo, LinkInfo, MapInfo, ProgInfo
    from .links import (
        QueryResult,
        iter_create,
        link_create,
        link_create_iter,
        link_create_kprobe_multi,
        link_create_netfilter,
        link_create_ordered,
        link_create_perf_event,
        link_create_tracing,
        link_create_uprobe_multi,
        link_detach,
        link_update,
        prog_attach,
        prog_detach,
        prog_query,
        raw_tracepoint_open,
    )
    from .maps import (
        BatchResult,
        map_create,
        map_delete_batch,
        map_delete_elem,
        map_freeze,
        map_get_next_key,
        map_lookup_and_delete_batch,
        map_lookup_and_delete_elem,
        map_lookup_batch,
        map_lookup_elem,
        map_update_batch,
        map_update_elem,
    )
    from .objects import (
        BTFObjectInfo,
        LoadedBTF,
        ProgramInfo,
        btf_info,
        btf_load,
        enable_stats,
        get_fd_by_id,
        get_next_id,
        iter_ids,
        link_info,
        map_info,
        obj_get,
        obj_get_info_by_fd,
        obj_pin,
        prog_info,
    )
    from .perf import perf_event_disable, perf_event_enable, perf_event_set_bpf, software_event, tracepoint_event
    from .perf_attr import PerfEventAttr
    from .raw import syscall_numbers
    from .progs import LoadedProgram, TestRunResult, prog_bind_map, prog_load, prog_load_logged, prog_test_run
    from .syscall import ENOTSUPP, LinuxSyscalls, Syscalls, bpf, bpf_fd, current, error_for, ioctl, override, perf_event_open

#: every name, imported from its submodule on first use: a process that only replays a recorded
#: load (pybpf._sys.raw, .replay) does not import the typed layers
_LAZY = {
    **dict.fromkeys(('AttachFlags', 'Command', 'FileFlags', 'ObjectKind', 'PerfFlags', 'PerfHwConfig', 'PerfIoctl', 'PerfSwConfig', 'PerfType', 'StatsType', 'TestRunFlags', 'UpdateFlags'), ".abi"),
    **dict.fromkeys(('percpu_value_size', 'possible_cpus'), ".cpus"),
    **dict.fromkeys(('FD', 'ClosedFDError', 'FdLike', 'HasFileno', 'fdno'), ".fd"),
    **dict.fromkeys(('BtfInfo', 'LinkInfo', 'MapInfo', 'ProgInfo'), ".info"),
    **dict.fromkeys(('QueryResult', 'iter_create', 'link_create', 'link_create_iter', 'link_create_kprobe_multi', 'link_create_netfilter', 'link_create_ordered', 'link_create_perf_event', 'link_create_tracing', 'link_create_uprobe_multi', 'link_detach', 'link_update', 'prog_attach', 'prog_detach', 'prog_query', 'raw_tracepoint_open'), ".links"),
    **dict.fromkeys(('BatchResult', 'map_create', 'map_delete_batch', 'map_delete_elem', 'map_freeze', 'map_get_next_key', 'map_lookup_and_delete_batch', 'map_lookup_and_delete_elem', 'map_lookup_batch', 'map_lookup_elem', 'map_update_batch', 'map_update_elem'), ".maps"),
    **dict.fromkeys(('BTFObjectInfo', 'LoadedBTF', 'ProgramInfo', 'btf_info', 'btf_load', 'enable_stats', 'get_fd_by_id', 'get_next_id', 'iter_ids', 'link_info', 'map_info', 'obj_get', 'obj_get_info_by_fd', 'obj_pin', 'prog_info'), ".objects"),
    **dict.fromkeys(('perf_event_disable', 'perf_event_enable', 'perf_event_set_bpf', 'software_event', 'tracepoint_event'), ".perf"),
    **dict.fromkeys(('PerfEventAttr',), ".perf_attr"),
    **dict.fromkeys(('syscall_numbers',), ".raw"),
    **dict.fromkeys(('LoadedProgram', 'TestRunResult', 'prog_bind_map', 'prog_load', 'prog_load_logged', 'prog_test_run'), ".progs"),
    **dict.fromkeys(('ENOTSUPP', 'LinuxSyscalls', 'Syscalls', 'bpf', 'bpf_fd', 'current', 'error_for', 'ioctl', 'override', 'perf_event_open'), ".syscall"),
}

__all__ = [
    "ENOTSUPP", "AttachFlags", "BTFObjectInfo", "BatchResult", "BtfInfo", "ClosedFDError", "Command", "FD", "FdLike",
    "FileFlags", "HasFileno", "LinkInfo", "LinuxSyscalls", "LoadedBTF", "LoadedProgram", "MapInfo",
    "ObjectKind", "PerfEventAttr", "PerfFlags", "PerfHwConfig", "PerfIoctl", "PerfSwConfig", "PerfType",
    "ProgInfo", "ProgramInfo", "QueryResult", "StatsType", "Syscalls", "TestRunFlags", "TestRunResult",
    "UpdateFlags", "bpf", "bpf_fd", "btf_info", "btf_load", "current", "enable_stats", "error_for", "fdno",
    "get_fd_by_id", "get_next_id", "ioctl", "iter_create", "iter_ids", "link_create", "link_create_iter",
    "link_create_kprobe_multi", "link_create_netfilter", "link_create_ordered", "link_create_perf_event",
    "link_create_tracing", "link_create_uprobe_multi", "link_detach", "link_info", "link_update",
    "map_create", "map_delete_batch", "map_delete_elem", "map_freeze", "map_get_next_key", "map_info",
    "map_lookup_and_delete_batch", "map_lookup_and_delete_elem", "map_lookup_batch", "map_lookup_elem",
    "map_update_batch", "map_update_elem", "obj_get", "obj_get_info_by_fd", "obj_pin", "override",
    "percpu_value_size", "perf_event_disable", "perf_event_enable", "perf_event_open", "perf_event_set_bpf",
    "possible_cpus", "prog_attach", "prog_bind_map", "prog_detach", "prog_info", "prog_load",
    "prog_load_logged", "prog_query", "prog_test_run", "raw_tracepoint_open", "software_event",
    "syscall_numbers", "tracepoint_event",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
