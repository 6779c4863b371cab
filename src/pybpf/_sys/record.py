"""Recording what a load and attach asked of the kernel, to ask it again without the layers above.

A :class:`Recorder` is a seam (:class:`~pybpf._sys.Syscalls`, installed with
:func:`pybpf._sys.override`) that passes every call through to the one it wraps and keeps the
calls that made or changed kernel objects as plain data (a *plan*, see :mod:`.replay`): the attr
bytes of each bpf() and perf_event_open() call, with every pointer field replaced by the data
it pointed to (or the size of the buffer it had the kernel fill) and every fd by the step that
made it. ``pybpf trace`` records the first run of a program and keeps the plan with the
compiled program; later runs replay it with ctypes alone, before importing the loader.

What a plan cannot replay makes the recording *unusable* (:attr:`Recorder.unusable` says why)
rather than wrong: an fd made outside the recording, a command or pointer field this module
does not know, a dynamic PMU (kprobe/uprobe perf events point to strings the kernel resolves).
Read-only calls (info, lookups, ids) pass through unrecorded; steps whose objects were closed
again and that nothing kept refers to (feature probes) are left out of the plan.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..enums import AttachType, MapType
from .abi import Command, PerfIoctl, PerfType
from .attrs import (
    Attr,
    BtfLoadAttr,
    LinkCreateAttr,
    MapCreateAttr,
    MapElemAttr,
    ProgBindMapAttr,
    ProgLoadAttr,
    RawTracepointAttr,
    TestRunAttr,
)
from .perf_attr import PerfEventAttr
from .syscall import Syscalls

#: the version of the plan layout (:mod:`.replay` refuses others)
PLAN_FORMAT = 1

#: ``ld_imm64`` (BPF_LD | BPF_IMM | BPF_DW) and the src_reg values whose imm is a map fd
_LD_IMM64 = 0x18
_MAP_FD_SRCS = (1, 2)  # BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
#: commands that only read: passed through, not recorded
_READ_ONLY = frozenset({
    Command.MAP_LOOKUP_ELEM, Command.MAP_GET_NEXT_KEY, Command.OBJ_GET_INFO_BY_FD, Command.PROG_QUERY,
    Command.PROG_GET_NEXT_ID, Command.MAP_GET_NEXT_ID, Command.BTF_GET_NEXT_ID, Command.LINK_GET_NEXT_ID,
    Command.MAP_LOOKUP_BATCH,
})
_PERCPU_MAPS = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                          MapType.PERCPU_CGROUP_STORAGE})

Patch = tuple[Any, ...]
Step = tuple[Any, ...]


class _Unusable(Exception):
    """A call the plan cannot express; the recording stops being usable."""


class Recorder:
    """A seam that passes calls through to ``inner`` and records them while :attr:`recording`.

    :meth:`mark` puts a named point into the plan (a replay calls back there); :meth:`dynamic`
    marks the values written by map updates inside it as computed at replay time;
    :meth:`plan` returns the recording, :meth:`ref` the step that made an fd.
    """

    def __init__(self, inner: Syscalls, *, tracepoint_name: Callable[[int], tuple[str, str] | None] | None = None,
                 pmu_name: Callable[[int], str | None] | None = None) -> None:
        self.inner = inner
        self.recording = True
        #: why the recording cannot be replayed (None while it can)
        self.unusable: str | None = None
        self._steps: list[Step] = []
        self._ref_of_fd: dict[int, int] = {}  # fd number -> step index that made it (while open)
        self._map_sizes: dict[int, tuple[int, int, int]] = {}  # step -> (type, key size, value size)
        self._dynamic: str | None = None
        self._tracepoint_name = tracepoint_name
        self._pmu_name = pmu_name

    # -- the seam ---------------------------------------------------------------------------

    def bpf(self, cmd: Command, attr: Attr) -> int:
        result = self.inner.bpf(cmd, attr)
        if self.recording and self.unusable is None and cmd not in _READ_ONLY:
            self._record(lambda: self._bpf_step(cmd, attr), result)
        return result

    def perf_event_open(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        fd = self.inner.perf_event_open(attr, pid, cpu, group_fd, flags)
        if self.recording and self.unusable is None:
            self._record(lambda: self._perf_step(attr, pid, cpu, group_fd, flags), fd)
        return fd

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        result = self.inner.ioctl(fd, request, arg)
        if self.recording and self.unusable is None:
            def step() -> Step:
                if request == PerfIoctl.SET_BPF:
                    return ("ioctl", self._fd_ref(fd), int(request), ("fd", self._fd_ref(arg)))
                if request in (PerfIoctl.ENABLE, PerfIoctl.DISABLE):
                    return ("ioctl", self._fd_ref(fd), int(request), ("int", int(arg)))
                raise _Unusable(f"ioctl {request:#x}")
            self._record(step, None)
        return result

    def close(self, fd: int) -> None:
        self.inner.close(fd)
        ref = self._ref_of_fd.pop(fd, None)
        if ref is not None and self.recording:
            self._steps.append(("close", ref))

    def dup(self, fd: int) -> int:
        new = self.inner.dup(fd)
        if self.recording and self.unusable is None:
            self._record(lambda: ("dup", self._fd_ref(fd)), new)
        return new

    # -- what the caller marks --------------------------------------------------------------

    def mark(self, name: str) -> None:
        """Put the point ``name`` into the plan (a replay calls its ``on_mark`` there)."""
        if self.recording:
            self._steps.append(("mark", name))

    @contextlib.contextmanager
    def dynamic(self, kind: str) -> Iterator[None]:
        """Map updates inside write a value the replay computes (``kind``: ``"monotonic_ns"``,
        a little-endian u64 of CLOCK_MONOTONIC) instead of the recorded one."""
        self._dynamic = kind
        try:
            yield
        finally:
            self._dynamic = None

    def ref(self, fd: int) -> int:
        """The step that made the open fd number ``fd`` (KeyError if no recorded step did)."""
        return self._ref_of_fd[fd]

    def stop(self) -> None:
        """Stop recording; calls pass through from now on."""
        self.recording = False

    def plan(self, roots: Iterable[int] | None = None) -> list[Step] | None:
        """The recorded steps a replay needs, in order; None if the recording is unusable.

        ``roots``: the steps whose objects the caller keeps (default: every object still open);
        what they were made from (a program's maps and BTF) is kept too, and what changes them.
        """
        if self.unusable is not None:
            return None
        kept = set(self._ref_of_fd.values() if roots is None else roots)
        for i in range(len(self._steps) - 1, -1, -1):
            if i in kept:
                kept.update(_refs(self._steps[i]))
        out: list[Step] = []
        for i, step in enumerate(self._steps):
            kind = step[0]
            if kind == "mark":
                out.append(step)
            elif kind == "close":
                out.append(step if step[1] in kept else ("nop",))
            elif _makes_fd(step):
                out.append(step if i in kept else ("nop",))
            else:  # changes kept objects, or objects that were thrown away
                out.append(step if _refs(step) <= kept else ("nop",))
        return out

    # -- recording --------------------------------------------------------------------------

    def _record(self, make: Callable[[], Step], fd: int | None) -> None:
        try:
            step = make()
        except _Unusable as exc:
            self.unusable = str(exc)
            return
        if fd is not None and _makes_fd(step):
            self._ref_of_fd[fd] = len(self._steps)
        self._steps.append(step)

    def _fd_ref(self, fd: int) -> int:
        ref = self._ref_of_fd.get(int(fd))
        if ref is None:
            raise _Unusable(f"fd {fd} was not made by a recorded call")
        return ref

    def _in(self, address: int, size: int) -> Patch:
        return ("in", ctypes.string_at(address, size) if size else b"") if address else ("int", 0)

    def _bpf_step(self, cmd: Command, attr: Attr) -> Step:
        handler = _HANDLERS.get((cmd, type(attr)))
        if handler is None:
            raise _Unusable(f"{cmd.name} with {type(attr).__name__}")
        patches = handler(self, attr)
        step = ("bpf", int(cmd), bytes(attr), patches)
        if cmd == Command.MAP_CREATE:
            assert isinstance(attr, MapCreateAttr)
            self._map_sizes[len(self._steps)] = (attr.map_type, attr.key_size, attr.value_size)
        return step

    def _perf_step(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> Step:
        patches: list[Patch] = []
        if attr.type == PerfType.TRACEPOINT:
            name = self._tracepoint_name(attr.config) if self._tracepoint_name is not None else None
            if name is None:
                raise _Unusable(f"tracepoint id {attr.config} of unknown name")
            patches.append((PerfEventAttr.config.offset, "tracepoint", name[0], name[1]))
        elif attr.type not in (PerfType.HARDWARE, PerfType.SOFTWARE):
            # a uprobe: the PMU's type number (given out at boot) is read again at replay, and
            # config1 points to the binary's path; kprobes (untested here: this kernel refuses
            # them) and breakpoints (addresses of one process) are not replayed
            if self._pmu_name is None or self._pmu_name(attr.type) != "uprobe":
                raise _Unusable(f"perf event type {attr.type}")
            patches.append((PerfEventAttr.type.offset, "pmu", "uprobe"))
            patches.append((PerfEventAttr.uprobe_path.offset, "in", ctypes.string_at(attr.uprobe_path) + b"\0"))
        group = ("fd", self._fd_ref(group_fd)) if group_fd >= 0 else ("int", group_fd)
        return ("perf", bytes(attr), patches, pid, cpu, group, flags)

    # -- the pointer and fd fields of each command ------------------------------------------

    def _map_create(self, a: MapCreateAttr) -> list[Patch]:
        if a.map_token_fd > 0 or a.value_type_btf_obj_fd > 0:
            raise _Unusable("map tokens / module BTF values")
        out: list[Patch] = []
        for field in ("inner_map_fd", "btf_fd"):
            fd = getattr(a, field)
            if fd:
                out.append((getattr(MapCreateAttr, field).offset, "fd", self._fd_ref(fd)))
        return out

    def _btf_load(self, a: BtfLoadAttr) -> list[Patch]:
        if a.btf_token_fd > 0:
            raise _Unusable("BTF tokens")
        out: list[Patch] = [(BtfLoadAttr.btf.offset, *self._in(a.btf, a.btf_size))]
        if a.btf_log_buf:
            out.append((BtfLoadAttr.btf_log_buf.offset, "out", a.btf_log_size))
        return out

    def _prog_load(self, a: ProgLoadAttr) -> list[Patch]:
        if a.fd_array or a.prog_token_fd > 0 or a.attach_prog_fd:
            raise _Unusable("programs with fd arrays, tokens or target programs")
        insns = ctypes.string_at(a.insns, a.insn_cnt * 8)
        fds: list[tuple[int, int]] = []
        for off in range(0, len(insns) - 15, 8):
            if insns[off] == _LD_IMM64 and insns[off + 1] >> 4 in _MAP_FD_SRCS:
                fds.append((off + 4, self._fd_ref(int.from_bytes(insns[off + 4:off + 8], "little"))))
        license = ctypes.string_at(a.license) + b"\0" if a.license else b""
        out: list[Patch] = [(ProgLoadAttr.insns.offset, "insns", insns, fds),
                            (ProgLoadAttr.license.offset, "in", license)]
        if a.log_buf:
            out.append((ProgLoadAttr.log_buf.offset, "out", a.log_size))
        if a.prog_btf_fd:
            out.append((ProgLoadAttr.prog_btf_fd.offset, "fd", self._fd_ref(a.prog_btf_fd)))
        for ptr, cnt, size in (("func_info", "func_info_cnt", "func_info_rec_size"),
                               ("line_info", "line_info_cnt", "line_info_rec_size"),
                               ("core_relos", "core_relo_cnt", "core_relo_rec_size")):
            address = getattr(a, ptr)
            if address:
                out.append((getattr(ProgLoadAttr, ptr).offset,
                            *self._in(address, getattr(a, cnt) * getattr(a, size))))
        return out

    def _elem(self, a: MapElemAttr) -> list[Patch]:
        ref = self._fd_ref(a.map_fd)
        kind, key_size, value_size = self._map_sizes.get(ref, (None, 0, 0))
        if kind is None or kind in _PERCPU_MAPS:
            raise _Unusable("an update of a map made elsewhere or per-CPU")
        out: list[Patch] = [(MapElemAttr.map_fd.offset, "fd", ref)]
        if a.key:
            out.append((MapElemAttr.key.offset, *self._in(a.key, key_size)))
        if a.value:
            if self._dynamic is not None:
                out.append((MapElemAttr.value.offset, "dynamic", self._dynamic))
            else:
                out.append((MapElemAttr.value.offset, *self._in(a.value, value_size)))
        return out

    def _freeze(self, a: MapElemAttr) -> list[Patch]:
        return [(MapElemAttr.map_fd.offset, "fd", self._fd_ref(a.map_fd))]

    def _test_run(self, a: TestRunAttr) -> list[Patch]:
        out: list[Patch] = [(TestRunAttr.prog_fd.offset, "fd", self._fd_ref(a.prog_fd))]
        for ptr, size in (("data_in", "data_size_in"), ("ctx_in", "ctx_size_in")):
            if getattr(a, ptr):
                out.append((getattr(TestRunAttr, ptr).offset, *self._in(getattr(a, ptr), getattr(a, size))))
        for ptr, size in (("data_out", "data_size_out"), ("ctx_out", "ctx_size_out")):
            if getattr(a, ptr):
                out.append((getattr(TestRunAttr, ptr).offset, "out", getattr(a, size)))
        return out

    def _raw_tracepoint(self, a: RawTracepointAttr) -> list[Patch]:
        out: list[Patch] = [(RawTracepointAttr.prog_fd.offset, "fd", self._fd_ref(a.prog_fd))]
        if a.name:
            out.append((RawTracepointAttr.name.offset, "in", ctypes.string_at(a.name) + b"\0"))
        return out

    def _link_create(self, a: LinkCreateAttr) -> list[Patch]:
        out: list[Patch] = [(LinkCreateAttr.prog_fd.offset, "fd", self._fd_ref(a.prog_fd))]
        if a.attach_type == AttachType.PERF_EVENT:
            out.append((LinkCreateAttr.target_fd.offset, "fd", self._fd_ref(a.target_fd)))
        elif a.target_fd or a.attach_type != AttachType.TRACE_RAW_TP:
            raise _Unusable(f"links of attach type {a.attach_type}")
        return out

    def _bind_map(self, a: ProgBindMapAttr) -> list[Patch]:
        return [(ProgBindMapAttr.prog_fd.offset, "fd", self._fd_ref(a.prog_fd)),
                (ProgBindMapAttr.map_fd.offset, "fd", self._fd_ref(a.map_fd))]


_HANDLERS: dict[tuple[Command, type[Attr]], Callable[[Recorder, Any], list[Patch]]] = {
    (Command.MAP_CREATE, MapCreateAttr): Recorder._map_create,
    (Command.BTF_LOAD, BtfLoadAttr): Recorder._btf_load,
    (Command.PROG_LOAD, ProgLoadAttr): Recorder._prog_load,
    (Command.MAP_UPDATE_ELEM, MapElemAttr): Recorder._elem,
    (Command.MAP_FREEZE, MapElemAttr): Recorder._freeze,
    (Command.PROG_TEST_RUN, TestRunAttr): Recorder._test_run,
    (Command.RAW_TRACEPOINT_OPEN, RawTracepointAttr): Recorder._raw_tracepoint,
    (Command.LINK_CREATE, LinkCreateAttr): Recorder._link_create,
    (Command.PROG_BIND_MAP, ProgBindMapAttr): Recorder._bind_map,
}


def _makes_fd(step: Step) -> bool:
    kind = step[0]
    return kind in ("perf", "dup") or kind == "bpf" and step[1] not in _NO_FD


#: recorded commands whose result is not a new fd
_NO_FD = frozenset({int(Command.MAP_UPDATE_ELEM), int(Command.MAP_FREEZE), int(Command.PROG_TEST_RUN),
                    int(Command.PROG_BIND_MAP)})


def _refs(step: Step) -> set[int]:
    """The steps whose fds ``step`` uses."""
    kind = step[0]
    if kind in ("mark", "nop"):
        return set()
    if kind in ("close", "dup"):
        return {step[1]}
    if kind == "ioctl":
        return {step[1]} | ({step[3][1]} if step[3][0] == "fd" else set())
    out: set[int] = set()
    if kind == "perf" and step[5][0] == "fd":
        out.add(step[5][1])
    for patch in step[3] if kind == "bpf" else step[2]:
        if patch[1] == "fd":
            out.add(patch[2])
        elif patch[1] == "insns":
            out.update(ref for _, ref in patch[3])
    return out
