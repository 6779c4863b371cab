"""BPF iterators (``SEC("iter/task")``, ``SEC("iter/bpf_map")``, ...): read a program's output as a file.

An iterator link is a template; each :meth:`IterLink.open` makes a new iterator instance
(BPF_ITER_CREATE) whose ``read()`` runs the program over the kernel objects and returns what
it printed with ``BPF_SEQ_PRINTF`` / ``bpf_seq_write``.

    >>> from pybpf import link                                                   # doctest: +SKIP
    >>> with pybpf.load("tasks.bpf.o") as obj, link.iter(obj.programs["dump_task"]) as it:
    ...     print(it.read_text())
"""

from __future__ import annotations

import io
import os
import struct
from enum import IntEnum
from typing import TYPE_CHECKING, BinaryIO

from .. import _sys
from ..enums import LinkType
from .base import Link, register_link_class

if TYPE_CHECKING:
    from ..map import Map
    from ..program import Program


class CgroupIterOrder(IntEnum):
    """``enum bpf_cgroup_iter_order``: how a cgroup iterator walks the hierarchy."""

    UNSPEC = 0
    SELF_ONLY = 1
    DESCENDANTS_PRE = 2
    DESCENDANTS_POST = 3
    ANCESTORS_UP = 4


def _iter_info(
    map: Map | _sys.FdLike | None,
    tid: int,
    pid: int,
    pid_fd: int,
    cgroup_fd: int,
    cgroup_id: int,
    order: CgroupIterOrder,
) -> bytes | None:
    """``union bpf_iter_link_info`` for the target chosen (at most one of map/task/cgroup)."""
    chosen = [name for name, given in (("map", map is not None), ("task", bool(tid or pid or pid_fd)),
                                       ("cgroup", bool(cgroup_fd or cgroup_id))) if given]
    if len(chosen) > 1:
        raise ValueError(f"an iterator takes one target; got {' and '.join(chosen)}")
    if map is not None:
        fd = map.fd if hasattr(map, "fd") else map
        return struct.pack("<I", _sys.fdno(fd))
    if tid or pid or pid_fd:
        return struct.pack("<III", tid, pid, pid_fd)
    if cgroup_fd or cgroup_id:
        return struct.pack("<IIQ", int(order), cgroup_fd, cgroup_id)
    return None


class IterLink(Link):
    """An iterator link: :meth:`open` a new pass over the kernel objects, or :meth:`read` one."""

    def open(self) -> BinaryIO:
        """A new iterator instance as a binary file (read it to the end, then close it)."""
        fd = _sys.iter_create(self._link_fd("open()"))
        return io.open(fd.release(), "rb", buffering=io.DEFAULT_BUFFER_SIZE, closefd=True)  # noqa: UP020

    def read(self) -> bytes:
        """Run the iterator once and return all of its output."""
        with self.open() as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        """:meth:`read`, decoded."""
        return self.read().decode(encoding, errors="replace")


register_link_class(LinkType.ITER, IterLink)


def iter(  # noqa: A001 - the name users expect (link.iter)
    prog: Program,
    *,
    map: Map | _sys.FdLike | None = None,  # noqa: A002
    tid: int = 0,
    pid: int = 0,
    pid_fd: int = 0,
    cgroup_fd: int = 0,
    cgroup_id: int = 0,
    order: CgroupIterOrder = CgroupIterOrder.UNSPEC,
) -> IterLink:
    """Make an iterator link for ``prog`` (kernel >= 5.8).

    ``map`` for the per-map iterators (``iter/bpf_map_elem``, ``iter/bpf_sk_storage_map``);
    ``tid`` / ``pid`` / ``pid_fd`` limit a task iterator to one thread or process (6.1);
    ``cgroup_fd`` / ``cgroup_id`` and ``order`` choose the cgroups of ``iter/cgroup`` (6.1).

        >>> with link.iter(obj.programs["dump_task"]) as it:                      # doctest: +SKIP
        ...     lines = it.read_text().splitlines()
    """
    info = _iter_info(map, tid, pid, pid_fd, cgroup_fd, cgroup_id, order)
    fd = _sys.link_create_iter(prog.fd, info)
    return IterLink(fd=fd, program=prog, description=f"iter {prog.name}")


def read_pinned(path: str | os.PathLike[str]) -> bytes:
    """Read a pinned iterator (``bpftool iter pin`` / :meth:`Link.pin` of an IterLink): each
    open of the pin path is a new pass."""
    with open(path, "rb") as f:
        return f.read()


__all__ = ["CgroupIterOrder", "IterLink", "iter", "read_pinned"]
