"""A test double for the syscall seam: records calls, hands out fake fds, emulates maps.

>>> from pybpf._sys import override, map_create, map_update_elem, map_lookup_elem
>>> from pybpf.enums import MapType
>>> with override(FakeSyscalls()) as fake:
...     fd = map_create(MapType.HASH, 4, 4, 8)
...     map_update_elem(fd, b"k000", b"v000")
...     map_lookup_elem(fd, b"k000", 4)
b'v000'

Handlers registered with :meth:`FakeSyscalls.on` run inside the call, so they can read
what the attr points at (``read``) and write results back (``write``).
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ..enums import MapType
from .abi import Command, UpdateFlags
from .attrs import Attr, MapBatchAttr, MapCreateAttr, MapElemAttr, ObjAttr
from .perf_attr import PerfEventAttr

Handler = Callable[[Attr], int]

#: Commands that return a new fd.
FD_COMMANDS = frozenset({
    Command.MAP_CREATE, Command.PROG_LOAD, Command.OBJ_GET, Command.PROG_GET_FD_BY_ID,
    Command.MAP_GET_FD_BY_ID, Command.BTF_GET_FD_BY_ID, Command.LINK_GET_FD_BY_ID, Command.BTF_LOAD,
    Command.LINK_CREATE, Command.RAW_TRACEPOINT_OPEN, Command.ITER_CREATE, Command.ENABLE_STATS,
})


def read(address: int, size: int) -> bytes:
    """The ``size`` bytes at ``address`` (only valid inside a handler)."""
    return ctypes.string_at(address, size) if address and size else b""


def write(address: int, data: bytes) -> None:
    """Store ``data`` at ``address`` (only inside a handler, into a buffer the caller gave)."""
    ctypes.memmove(address, data, len(data))


@dataclass
class Call:
    """One recorded bpf() call: the command and a copy of the attr as it was passed in."""

    cmd: Command
    attr: Attr


def raise_errno(err: int) -> Handler:
    """A handler that fails with ``err``."""

    def handler(_attr: Attr) -> int:
        raise OSError(err, os.strerror(err))

    return handler


@dataclass
class _FakeMap:
    map_type: MapType
    key_size: int
    value_size: int
    max_entries: int
    data: dict[bytes, bytes] = field(default_factory=dict)
    frozen: bool = False


class FakeSyscalls:
    """A :class:`~pybpf._sys.syscall.Syscalls` double with an in-memory model of hash/array maps.

    ``calls`` lists every bpf() call; ``open_fds`` the fake fds not yet closed (to assert no
    leaks). Register per-command behaviour with :meth:`on`; unhandled commands use the map
    model or succeed (returning a new fd for fd-creating commands, else 0).
    """

    def __init__(self, *, first_fd: int = 1000) -> None:
        self.calls: list[Call] = []
        self.handlers: dict[Command, list[Handler]] = {}
        self.open_fds: set[int] = set()
        self.closed: list[int] = []
        self.ioctls: list[tuple[int, int, int]] = []
        self.perf_attrs: list[tuple[PerfEventAttr, int, int, int, int]] = []
        self.maps: dict[int, _FakeMap] = {}
        self.pins: dict[str, int] = {}
        self._next_fd = first_fd

    # -- configuration -----------------------------------------------------------------------

    def on(self, cmd: Command, *handlers: Handler) -> FakeSyscalls:
        """Queue handlers for ``cmd``: each call uses the next one; the last one repeats."""
        self.handlers.setdefault(cmd, []).extend(handlers)
        return self

    def fail(self, cmd: Command, err: int, times: int = 1) -> FakeSyscalls:
        """Make the next ``times`` calls of ``cmd`` fail with ``err``, then fall back to the model."""
        return self.on(cmd, *([raise_errno(err)] * times), self._model)

    def calls_for(self, cmd: Command) -> list[Call]:
        """The recorded calls of one command."""
        return [c for c in self.calls if c.cmd == cmd]

    def new_fd(self) -> int:
        """A fresh fake fd, counted as open."""
        fd = self._next_fd
        self._next_fd += 1
        self.open_fds.add(fd)
        return fd

    # -- the Syscalls protocol ---------------------------------------------------------------

    def bpf(self, cmd: Command, attr: Attr) -> int:
        self.calls.append(Call(cmd, type(attr).from_buffer_copy(attr)))
        queue = self.handlers.get(cmd)
        if queue:
            handler = queue.pop(0) if len(queue) > 1 else queue[0]
            return handler(attr)
        return self._model(attr, cmd)

    def perf_event_open(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        self.perf_attrs.append((PerfEventAttr.from_buffer_copy(attr), pid, cpu, group_fd, flags))
        return self.new_fd()

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        self._check_open(fd)
        self.ioctls.append((fd, request, arg))
        return 0

    def close(self, fd: int) -> None:
        self._check_open(fd)
        self.open_fds.discard(fd)
        self.closed.append(fd)
        self.maps.pop(fd, None)

    def dup(self, fd: int) -> int:
        self._check_open(fd)
        new = self.new_fd()
        if fd in self.maps:
            self.maps[new] = self.maps[fd]
        return new

    def _check_open(self, fd: int) -> None:
        if fd not in self.open_fds:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    # -- the map model -----------------------------------------------------------------------

    def _model(self, attr: Attr, cmd: Command | None = None) -> int:
        cmd = cmd if cmd is not None else self.calls[-1].cmd
        op = _MODEL.get(cmd)
        if op is not None:
            return op(self, attr)
        return self.new_fd() if cmd in FD_COMMANDS else 0

    def _map(self, fd: int) -> _FakeMap:
        try:
            return self.maps[fd]
        except KeyError:
            raise OSError(errno.EBADF, "not a map fd") from None

    def _create(self, attr: Attr) -> int:
        assert isinstance(attr, MapCreateAttr)
        if not attr.key_size and attr.map_type not in (MapType.QUEUE, MapType.STACK):
            raise OSError(errno.EINVAL, "key_size 0")
        m = _FakeMap(MapType(attr.map_type), attr.key_size, attr.value_size, attr.max_entries)
        if m.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            m.data = {i.to_bytes(4, "little"): bytes(attr.value_size) for i in range(attr.max_entries)}
        fd = self.new_fd()
        self.maps[fd] = m
        return fd

    def _lookup(self, attr: Attr) -> int:
        assert isinstance(attr, MapElemAttr)
        m = self._map(attr.map_fd)
        key = read(attr.key, m.key_size)
        if key not in m.data:
            raise OSError(errno.ENOENT, "no such key")
        write(attr.value, m.data[key])
        return 0

    def _update(self, attr: Attr) -> int:
        assert isinstance(attr, MapElemAttr)
        m = self._map(attr.map_fd)
        if m.frozen:
            raise OSError(errno.EPERM, "frozen")
        key, value = read(attr.key, m.key_size), read(attr.value, m.value_size)
        exists = key in m.data
        if attr.flags & UpdateFlags.NOEXIST and exists:
            raise OSError(errno.EEXIST, "exists")
        if attr.flags & UpdateFlags.EXIST and not exists:
            raise OSError(errno.ENOENT, "no such key")
        if m.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY) and not exists:
            raise OSError(errno.E2BIG, "index out of range")
        if not exists and len(m.data) >= m.max_entries:
            raise OSError(errno.E2BIG, "map full")
        m.data[key] = value
        return 0

    def _delete(self, attr: Attr) -> int:
        assert isinstance(attr, MapElemAttr)
        m = self._map(attr.map_fd)
        if m.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            raise OSError(errno.EINVAL, "cannot delete from an array")
        key = read(attr.key, m.key_size)
        if m.data.pop(key, None) is None:
            raise OSError(errno.ENOENT, "no such key")
        return 0

    def _next_key(self, attr: Attr) -> int:
        assert isinstance(attr, MapElemAttr)
        m = self._map(attr.map_fd)
        keys = list(m.data)
        key = read(attr.key, m.key_size) if attr.key else None
        index = keys.index(key) + 1 if key in keys else 0
        if index >= len(keys):
            raise OSError(errno.ENOENT, "last key")
        write(attr.next_key, keys[index])
        return 0

    def _freeze(self, attr: Attr) -> int:
        assert isinstance(attr, MapElemAttr)
        self._map(attr.map_fd).frozen = True
        return 0

    def _lookup_batch(self, attr: Attr) -> int:
        assert isinstance(attr, MapBatchAttr)
        m = self._map(attr.map_fd)
        keys = list(m.data)
        start = int.from_bytes(read(attr.in_batch, 4), "little") if attr.in_batch else 0
        chunk = keys[start:start + attr.count]
        for i, key in enumerate(chunk):
            write(attr.keys + i * m.key_size, key)
            write(attr.values + i * m.value_size, m.data[key])
        attr.count = len(chunk)
        end = start + len(chunk)
        write(attr.out_batch, end.to_bytes(4, "little"))
        if end >= len(keys):
            raise OSError(errno.ENOENT, "end of map")
        return 0

    def _lookup_and_delete_batch(self, attr: Attr) -> int:
        assert isinstance(attr, MapBatchAttr)
        m = self._map(attr.map_fd)
        chunk = list(m.data)[: attr.count]
        for i, key in enumerate(chunk):
            write(attr.keys + i * m.key_size, key)
            write(attr.values + i * m.value_size, m.data.pop(key))
        attr.count = len(chunk)
        write(attr.out_batch, bytes(4))
        if not m.data:
            raise OSError(errno.ENOENT, "end of map")
        return 0

    def _delete_batch(self, attr: Attr) -> int:
        assert isinstance(attr, MapBatchAttr)
        m = self._map(attr.map_fd)
        for i in range(attr.count):
            if m.data.pop(read(attr.keys + i * m.key_size, m.key_size), None) is None:
                attr.count = i
                raise OSError(errno.ENOENT, "no such key")
        return 0

    def _update_batch(self, attr: Attr) -> int:
        assert isinstance(attr, MapBatchAttr)
        m = self._map(attr.map_fd)
        for i in range(attr.count):
            m.data[read(attr.keys + i * m.key_size, m.key_size)] = read(attr.values + i * m.value_size, m.value_size)
        return 0

    def _pin(self, attr: Attr) -> int:
        assert isinstance(attr, ObjAttr)
        path = ctypes.string_at(attr.pathname).decode()
        if path in self.pins:
            raise OSError(errno.EEXIST, "exists")
        self.pins[path] = attr.bpf_fd
        return 0

    def _get(self, attr: Attr) -> int:
        assert isinstance(attr, ObjAttr)
        path = ctypes.string_at(attr.pathname).decode()
        if path not in self.pins:
            raise OSError(errno.ENOENT, "not pinned")
        fd = self.new_fd()
        if self.pins[path] in self.maps:
            self.maps[fd] = self.maps[self.pins[path]]
        return fd


_MODEL: dict[Command, Callable[[FakeSyscalls, Attr], int]] = {
    Command.MAP_CREATE: FakeSyscalls._create,
    Command.MAP_LOOKUP_ELEM: FakeSyscalls._lookup,
    Command.MAP_UPDATE_ELEM: FakeSyscalls._update,
    Command.MAP_DELETE_ELEM: FakeSyscalls._delete,
    Command.MAP_GET_NEXT_KEY: FakeSyscalls._next_key,
    Command.MAP_FREEZE: FakeSyscalls._freeze,
    Command.MAP_LOOKUP_BATCH: FakeSyscalls._lookup_batch,
    Command.MAP_LOOKUP_AND_DELETE_BATCH: FakeSyscalls._lookup_and_delete_batch,
    Command.MAP_UPDATE_BATCH: FakeSyscalls._update_batch,
    Command.MAP_DELETE_BATCH: FakeSyscalls._delete_batch,
    Command.OBJ_PIN: FakeSyscalls._pin,
    Command.OBJ_GET: FakeSyscalls._get,
}
