"""Doing a recorded load and attach again (:mod:`.record` makes the plan), with ctypes alone.

A plan is a list of steps, plain data (marshal-able):

- ``("bpf", cmd, attr bytes, patches)`` and ``("perf", attr bytes, patches, pid, cpu, group, flags)``:
  the call, after each patch ``(offset, kind, ...)`` is written into a copy of the attr bytes:
  ``"fd"`` (u32: the fd step N made), ``"in"`` (u64 address of the bytes given), ``"out"`` (the
  address of a zeroed buffer of that size), ``"int"`` (u64 value), ``"insns"`` (the address of the
  instructions, with the map fd of step N written at each listed imm), ``"dynamic"`` (the
  address of a value computed now), ``"tracepoint"`` (u64: the id of category:name, read now),
  ``"pmu"`` (u32: the type number of a dynamic PMU such as ``uprobe``, read now);
- ``("ioctl", N, request, ("fd", M) | ("int", v))``, ``("dup", N)``, ``("close", N)``;
- ``("mark", name)`` (the replay calls ``on_mark(name)``) and ``("nop",)`` (a step left out).

This module imports nothing of pybpf but the libc binding (:mod:`.raw`), so ``pybpf trace``
replays a cached program's load and attach before the typed layers are imported. A failed
step closes everything the replay made and raises :class:`ReplayError`; the caller then does
the work the ordinary way (which reports errors with their full explanation).
"""

from __future__ import annotations

import ctypes
import os
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Protocol

    class RawSyscalls(Protocol):
        """What a replay calls (:class:`pybpf._sys.raw.RawSyscalls`, or a test double)."""

        def bpf(self, cmd: int, attr_address: int, size: int) -> int: ...
        def perf_event_open(self, attr_address: int, pid: int, cpu: int, group_fd: int, flags: int) -> int: ...
        def ioctl(self, fd: int, request: int, arg: int) -> int: ...
        def dup(self, fd: int) -> int: ...

#: the plan layout this module replays (the same number as :data:`pybpf._sys.record.PLAN_FORMAT`)
PLAN_FORMAT = 1


class ReplayError(OSError):
    """A step of the plan failed (errno kept); nothing the replay made is left open."""


def _dynamic(kind: str) -> bytes:
    if kind == "monotonic_ns":
        return struct.pack("<Q", time.monotonic_ns())
    raise ReplayError(0, f"unknown dynamic value {kind!r}")


class Replayed:
    """The fds a replay made, by step (None for steps that made none); :meth:`close` closes the open ones."""

    def __init__(self, size: int) -> None:
        self.fds: list[int | None] = [None] * size

    def close(self) -> None:
        for i in range(len(self.fds) - 1, -1, -1):
            fd = self.fds[i]
            if fd is not None:
                self.fds[i] = None
                try:
                    os.close(fd)
                except OSError:
                    pass

    def take(self, step: int) -> int:
        """The fd step ``step`` made; the caller owns it from now on (close() leaves it open)."""
        fd = self.fds[step]
        if fd is None:
            raise KeyError(step)
        self.fds[step] = None
        return fd


def pmu_type(name: str) -> int:
    """The type number of the dynamic PMU ``name`` (``uprobe``), from sysfs."""
    with open(f"/sys/bus/event_source/devices/{name}/type", "rb") as f:
        return int(f.read())


def replay(steps: Sequence[Any], syscalls: RawSyscalls, *, tracepoint_id: Callable[[str, str], int],
           on_mark: Callable[[str], None] = lambda name: None, pmu: Callable[[str], int] = pmu_type) -> Replayed:
    """Run ``steps`` in order; the fds made, by step."""
    done = Replayed(len(steps))
    fds = done.fds
    try:
        for i, step in enumerate(steps):
            kind = step[0]
            if kind == "bpf":
                attr, keep = _patched(step[2], step[3], fds, tracepoint_id, pmu)
                result = syscalls.bpf(step[1], ctypes.addressof(attr), len(step[2]))
                if step[1] not in _NO_FD:
                    fds[i] = result
                del keep
            elif kind == "perf":
                attr, keep = _patched(step[1], step[2], fds, tracepoint_id, pmu)
                group = step[5]
                fds[i] = syscalls.perf_event_open(ctypes.addressof(attr), step[3], step[4],
                                                  _fd(fds, group[1]) if group[0] == "fd" else group[1], step[6])
                del keep
            elif kind == "ioctl":
                arg = step[3]
                syscalls.ioctl(_fd(fds, step[1]), step[2], _fd(fds, arg[1]) if arg[0] == "fd" else arg[1])
            elif kind == "close":
                fd = fds[step[1]]
                fds[step[1]] = None
                if fd is not None:
                    os.close(fd)
            elif kind == "dup":
                fds[i] = syscalls.dup(_fd(fds, step[1]))
            elif kind == "mark":
                on_mark(step[1])
            elif kind != "nop":
                raise ReplayError(0, f"unknown plan step {kind!r}")
    except OSError as exc:
        done.close()
        if isinstance(exc, ReplayError):
            raise
        raise ReplayError(exc.errno or 0, f"step {i} ({steps[i][0]}): {exc.strerror}") from None
    except (IndexError, KeyError, TypeError, ValueError, struct.error) as exc:  # a damaged plan
        done.close()
        raise ReplayError(0, f"step {i} of the plan is damaged: {type(exc).__name__}: {exc}") from None
    return done


#: recorded bpf commands whose result is not an fd: MAP_UPDATE_ELEM, MAP_FREEZE, PROG_TEST_RUN, PROG_BIND_MAP
_NO_FD = frozenset({2, 22, 10, 35})


def _fd(fds: list[int | None], step: int) -> int:
    fd = fds[step]
    if fd is None:
        raise ReplayError(0, f"the plan uses the fd of step {step}, which made none or closed it")
    return fd


def _patched(raw: bytes, patches: Sequence[Any], fds: list[int | None], tracepoint_id: Callable[[str, str], int],
             pmu: Callable[[str], int]) -> tuple[Any, list[Any]]:
    """A writable copy of ``raw`` with ``patches`` applied, and the buffers it points to (kept
    alive by the caller until the call returns)."""
    attr = ctypes.create_string_buffer(raw, len(raw))
    keep: list[Any] = []
    for patch in patches:
        offset, kind = patch[0], patch[1]
        if kind == "fd":
            struct.pack_into("<I", attr, offset, _fd(fds, patch[2]))
        elif kind == "int":
            struct.pack_into("<Q", attr, offset, patch[2])
        elif kind == "tracepoint":
            struct.pack_into("<Q", attr, offset, tracepoint_id(patch[2], patch[3]))
        elif kind == "pmu":
            struct.pack_into("<I", attr, offset, pmu(patch[2]))
        else:
            if kind == "in":
                data = patch[2]
            elif kind == "out":
                data = bytes(patch[2])
            elif kind == "insns":
                insns = bytearray(patch[2])
                for imm, ref in patch[3]:
                    struct.pack_into("<I", insns, imm, _fd(fds, ref))
                data = bytes(insns)
            elif kind == "dynamic":
                data = _dynamic(patch[2])
            else:
                raise ReplayError(0, f"unknown patch {kind!r}")
            buf = ctypes.create_string_buffer(data, len(data) or 1)
            keep.append(buf)
            struct.pack_into("<Q", attr, offset, ctypes.addressof(buf))
    return attr, keep
