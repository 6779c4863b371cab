"""Typed wrappers for object commands: pin/get, ids, info, BTF load, stats."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from ..errors import BTFLoadError, SyscallError
from .abi import ID_COMMANDS, Command, FileFlags, ObjectKind, StatsType
from .attrs import BtfLoadAttr, EnableStatsAttr, GetIdAttr, InfoAttr, ObjAttr
from .buffers import Buffer, OutBuffer, Pinned, c_string
from .fd import FD, FdLike, fdno
from .info import BtfInfo, Info, LinkInfo, MapInfo, ProgInfo
from .syscall import bpf, bpf_fd

_I = TypeVar("_I", bound=Info)

#: The fd kind names used for FD.kind, per object kind.
_KIND_NAMES = {ObjectKind.PROG: "prog", ObjectKind.MAP: "map", ObjectKind.BTF: "btf", ObjectKind.LINK: "link"}


def obj_pin(fd: FdLike, path: str | os.PathLike[str]) -> None:
    """BPF_OBJ_PIN: pin the object at ``path`` inside a bpf filesystem (e.g. /sys/fs/bpf)."""
    p = c_string(os.fspath(path))
    bpf(Command.OBJ_PIN, ObjAttr(pathname=p.address, bpf_fd=fdno(fd)))


def obj_get(path: str | os.PathLike[str], *, flags: FileFlags = FileFlags.NONE, kind: str = "pinned") -> FD:
    """BPF_OBJ_GET: open the object pinned at ``path``."""
    p = c_string(os.fspath(path))
    return bpf_fd(Command.OBJ_GET, ObjAttr(pathname=p.address, file_flags=int(flags)), kind)


def get_next_id(kind: ObjectKind, start_id: int = 0) -> int | None:
    """BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID: the first id above ``start_id``, None at the end."""
    attr = GetIdAttr(start_id=start_id)
    try:
        bpf(ID_COMMANDS[kind][0], attr)
    except SyscallError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    return int(attr.next_id)


def iter_ids(kind: ObjectKind) -> Iterator[int]:
    """Every id of ``kind`` loaded in the kernel, ascending."""
    current = 0
    while (nxt := get_next_id(kind, current)) is not None:
        yield nxt
        current = nxt


def get_fd_by_id(kind: ObjectKind, object_id: int, *, flags: FileFlags = FileFlags.NONE) -> FD:
    """BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID: an fd for the object with ``object_id``.

    ENOENT (raised as SyscallError) means it is gone.
    """
    attr = GetIdAttr(start_id=object_id, open_flags=int(flags))
    return bpf_fd(ID_COMMANDS[kind][1], attr, _KIND_NAMES[kind])


def obj_get_info_by_fd(fd: FdLike, info: type[_I] | _I) -> _I:
    """BPF_OBJ_GET_INFO_BY_FD: fill ``info`` (a class, or an instance with pointers set).

    Passing an instance lets the caller point fields such as ``xlated_prog_insns`` at
    buffers; the kernel writes back the true lengths.
    """
    obj = info() if isinstance(info, type) else info
    attr = InfoAttr(bpf_fd=fdno(fd), info_len=ctypes.sizeof(obj), info=ctypes.addressof(obj))
    bpf(Command.OBJ_GET_INFO_BY_FD, attr)
    return obj


def map_info(fd: FdLike) -> MapInfo:
    """The ``bpf_map_info`` of a map fd."""
    return obj_get_info_by_fd(fd, MapInfo)


def link_info(fd: FdLike) -> LinkInfo:
    """The ``bpf_link_info`` of a link fd (name/path pointers left unset)."""
    return obj_get_info_by_fd(fd, LinkInfo)


@dataclass(frozen=True)
class ProgramInfo:
    """``bpf_prog_info`` plus the arrays it points at."""

    info: ProgInfo
    xlated: bytes
    jited: bytes
    map_ids: tuple[int, ...]
    func_info: bytes
    line_info: bytes

    @property
    def name(self) -> str:
        """The program name (up to 15 characters)."""
        raw: bytes = self.info.name
        return raw.decode(errors="replace")

    @property
    def tag(self) -> str:
        """The kernel's tag (hex digest prefix of the instructions), as bpftool shows it."""
        return bytes(self.info.tag).hex()


def prog_info(fd: FdLike, *, instructions: bool = True) -> ProgramInfo:
    """The ``bpf_prog_info`` of a program fd, with xlated/jited code, map ids, func/line info.

    Two calls: one to learn the sizes, one with buffers of those sizes.
    """
    first = obj_get_info_by_fd(fd, ProgInfo)
    second = ProgInfo()
    xl = OutBuffer(first.xlated_prog_len if instructions else 0)
    jt = OutBuffer(first.jited_prog_len if instructions else 0)
    ids = OutBuffer(4 * first.nr_map_ids)
    fi = OutBuffer(first.nr_func_info * first.func_info_rec_size)
    li = OutBuffer(first.nr_line_info * first.line_info_rec_size)
    second.xlated_prog_len, second.xlated_prog_insns = xl.size, xl.address
    second.jited_prog_len, second.jited_prog_insns = jt.size, jt.address
    second.nr_map_ids, second.map_ids = first.nr_map_ids, ids.address
    second.nr_func_info, second.func_info_rec_size, second.func_info = (
        first.nr_func_info, first.func_info_rec_size, fi.address)
    second.nr_line_info, second.line_info_rec_size, second.line_info = (
        first.nr_line_info, first.line_info_rec_size, li.address)
    obj_get_info_by_fd(fd, second)
    raw_ids = ids.read(4 * min(first.nr_map_ids, second.nr_map_ids))
    return ProgramInfo(
        info=second,
        xlated=xl.read(min(xl.size, second.xlated_prog_len)),
        jited=jt.read(min(jt.size, second.jited_prog_len)),
        map_ids=tuple(int.from_bytes(raw_ids[i:i + 4], "little") for i in range(0, len(raw_ids), 4)),
        func_info=fi.read(),
        line_info=li.read(),
    )


@dataclass(frozen=True)
class BTFObjectInfo:
    """``bpf_btf_info`` plus the raw BTF bytes and the name."""

    info: BtfInfo
    data: bytes
    name: str


def btf_info(fd: FdLike, *, data: bool = True) -> BTFObjectInfo:
    """The ``bpf_btf_info`` of a BTF fd, with its raw bytes (for BTF.from_bytes) and name."""
    first = obj_get_info_by_fd(fd, BtfInfo)
    second = BtfInfo()
    raw = OutBuffer(first.btf_size if data else 0)
    name = OutBuffer(max(first.name_len + 1, 64))
    second.btf, second.btf_size = raw.address, raw.size
    second.name, second.name_len = name.address, name.size
    obj_get_info_by_fd(fd, second)
    return BTFObjectInfo(
        info=second,
        data=raw.read(min(raw.size, second.btf_size)),
        name=name.read().split(b"\0", 1)[0].decode(errors="replace"),
    )


@dataclass(frozen=True)
class LoadedBTF:
    """An owned BTF fd and the kernel's BTF log (empty unless asked for)."""

    fd: FD
    log: str


def btf_load(data: Buffer, *, log_level: int = 0, log_size: int = 1 << 16, token_fd: FdLike | None = None) -> LoadedBTF:
    """BPF_BTF_LOAD (kernel >= 4.18): load raw BTF; returns its fd and log.

    A rejected blob is reloaded once with a log and raises :class:`BTFLoadError` (a
    SyscallError) showing the log's last lines, with the whole log in ``.log``.
    """
    blob = Pinned(data)
    level = log_level
    while True:
        buf = OutBuffer(log_size) if level else None
        attr = BtfLoadAttr(
            btf=blob.address, btf_size=blob.size, btf_log_level=level,
            btf_log_size=log_size if level else 0, btf_log_buf=buf.address if buf else 0,
            btf_token_fd=fdno(token_fd) if token_fd is not None else 0,
        )
        try:
            fd = bpf_fd(Command.BTF_LOAD, attr, "btf")
        except SyscallError as exc:
            if level == 0 and exc.errno not in (errno.EPERM, errno.EACCES):
                level = 1
                continue
            text = buf.read().split(b"\0", 1)[0].decode(errors="replace") if buf else ""
            if exc.errno == errno.ENOSPC and log_size < (1 << 24):
                log_size = max(attr.btf_log_true_size, log_size * 4)
                continue
            if text:
                raise BTFLoadError(Command.BTF_LOAD.uapi_name, exc.errno or errno.EIO, text) from None
            raise
        text = buf.read().split(b"\0", 1)[0].decode(errors="replace") if buf and log_level else ""
        return LoadedBTF(fd, text)


def enable_stats(stats: StatsType = StatsType.RUN_TIME) -> FD:
    """BPF_ENABLE_STATS (kernel >= 5.8): run-time statistics stay on while the fd is open."""
    return bpf_fd(Command.ENABLE_STATS, EnableStatsAttr(type=int(stats)), "stats")
