"""What is loaded in the kernel right now: programs, maps and links with their info
(like ``bpftool prog/map/link list``). Needs CAP_SYS_ADMIN to open objects by id.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .. import _sys
from ..enums import LinkType
from ..errors import SyscallError
from ..program import ProgramInfo, info_from_fd

if TYPE_CHECKING:
    from ..map import MapInfo

log = logging.getLogger("pybpf.loader")

_T = TypeVar("_T")


@dataclass(frozen=True)
class LinkSummary:
    """What the kernel reports about a link (``bpf_link_info`` head)."""

    id: int
    type: LinkType
    prog_id: int


def _each(kind: _sys.ObjectKind, read: Callable[[_sys.FD], _T]) -> Iterator[_T]:
    for obj_id in _sys.iter_ids(kind):
        try:
            fd = _sys.get_fd_by_id(kind, obj_id)
        except SyscallError as exc:
            if exc.errno == errno.ENOENT:  # freed since we listed it
                continue
            raise
        with fd:
            yield read(fd)


def programs(*, instructions: bool = False) -> list[ProgramInfo]:
    """Every program loaded in the kernel, by id (``instructions=True`` also fetches the code)."""
    return list(_each(_sys.ObjectKind.PROG, lambda fd: info_from_fd(fd, instructions=instructions)))


def maps() -> list[MapInfo]:
    """Every map in the kernel, by id (also ``pybpf.loaded_maps()``)."""
    from ..map import MapInfo

    return list(_each(_sys.ObjectKind.MAP, MapInfo.from_fd))


def _link(fd: _sys.FD) -> LinkSummary:
    raw = _sys.link_info(fd)
    try:
        ltype = LinkType(raw.type)
    except ValueError:
        ltype = LinkType.UNSPEC
    return LinkSummary(id=int(raw.id), type=ltype, prog_id=int(raw.prog_id))


def links() -> list[LinkSummary]:
    """Every link in the kernel, by id."""
    return list(_each(_sys.ObjectKind.LINK, _link))
