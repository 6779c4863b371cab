"""cgroup programs: packets, sockets, addresses, sysctls, socket options and devices of the
processes in a cgroup (v2) and its descendants.

``cgroup(prog, path)`` makes a cgroup link (BPF_LINK_CREATE, kernel >= 5.7): several programs
per hook, detached when the link is closed or its process dies. ``use_link=False`` (or a
``flags``/``replace`` that links cannot express) uses BPF_PROG_ATTACH instead: that attachment
belongs to the cgroup and stays after the process exits, until it is detached
(``bpftool cgroup detach <path> <type> id <prog id>``) or the cgroup is removed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _sys, features
from .._sys import AttachFlags, HasFileno
from .._sys.mounts import PROC_MOUNTS, mount_points
from ..enums import AttachType, ProgramType
from ..errors import BPFError, SyscallError
from ._attach_common import choose_attach_type, prog_detach_quietly
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

#: every cgroup attach type -> the program type that attaches there
CGROUP_ATTACH_TYPES: dict[AttachType, ProgramType] = {
    AttachType.CGROUP_INET_INGRESS: ProgramType.CGROUP_SKB,
    AttachType.CGROUP_INET_EGRESS: ProgramType.CGROUP_SKB,
    AttachType.CGROUP_INET_SOCK_CREATE: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET_SOCK_RELEASE: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET4_POST_BIND: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_INET6_POST_BIND: ProgramType.CGROUP_SOCK,
    AttachType.CGROUP_SOCK_OPS: ProgramType.SOCK_OPS,
    AttachType.CGROUP_DEVICE: ProgramType.CGROUP_DEVICE,
    AttachType.CGROUP_SYSCTL: ProgramType.CGROUP_SYSCTL,
    AttachType.CGROUP_GETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    AttachType.CGROUP_SETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    **{t: ProgramType.CGROUP_SOCK_ADDR for t in (
        AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND,
        AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_CONNECT, AttachType.CGROUP_UNIX_CONNECT,
        AttachType.CGROUP_UDP4_SENDMSG, AttachType.CGROUP_UDP6_SENDMSG, AttachType.CGROUP_UNIX_SENDMSG,
        AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG, AttachType.CGROUP_UNIX_RECVMSG,
        AttachType.CGROUP_INET4_GETPEERNAME, AttachType.CGROUP_INET6_GETPEERNAME,
        AttachType.CGROUP_UNIX_GETPEERNAME, AttachType.CGROUP_INET4_GETSOCKNAME,
        AttachType.CGROUP_INET6_GETSOCKNAME, AttachType.CGROUP_UNIX_GETSOCKNAME,
    )},
}

#: program types with one obvious attach type when the section does not say
_DEFAULT_BY_TYPE: dict[ProgramType, AttachType] = {
    ProgramType.CGROUP_SKB: AttachType.CGROUP_INET_INGRESS,
    ProgramType.CGROUP_SOCK: AttachType.CGROUP_INET_SOCK_CREATE,
    ProgramType.SOCK_OPS: AttachType.CGROUP_SOCK_OPS,
    ProgramType.CGROUP_DEVICE: AttachType.CGROUP_DEVICE,
    ProgramType.CGROUP_SYSCTL: AttachType.CGROUP_SYSCTL,
}


def cgroup2_mount(mounts: str = PROC_MOUNTS) -> Path:
    """Where the cgroup v2 hierarchy is mounted (from ``/proc/mounts``; the first cgroup2 entry)."""
    found = mount_points(mounts).get("cgroup2")
    if found is not None:
        return found
    raise BPFError("no cgroup v2 hierarchy is mounted; mount one: `mount -t cgroup2 none /sys/fs/cgroup/unified`")


def resolve(path: str | os.PathLike[str]) -> Path:
    """An absolute path stays; a relative one (``"my.slice/test"``) is taken under the cgroup v2 mount."""
    p = Path(path)
    return p if p.is_absolute() else cgroup2_mount() / p


def _open(cgroup: str | os.PathLike[str] | HasFileno | int) -> tuple[int, bool, str]:
    """``(fd, owned, description)`` of a cgroup given by path or fd."""
    if isinstance(cgroup, (str, os.PathLike)):
        path = resolve(cgroup)
        try:
            return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), True, str(path)
        except OSError as exc:
            raise SyscallError("open cgroup", exc.errno or errno.ENOENT,
                               f"{path}: give a directory of the cgroup v2 hierarchy ({cgroup2_mount()})") from None
    fd = cgroup if isinstance(cgroup, int) else cgroup.fileno()
    return fd, False, f"fd {fd}"


def _uses_link(flags: AttachFlags, replace: Program | None, use_link: bool | None) -> bool:
    if use_link is not None:
        return use_link
    # a cgroup link is always one of several (ALLOW_MULTI); anything else needs PROG_ATTACH
    return replace is None and flags == AttachFlags.ALLOW_MULTI and features.feature(
        "cgroup_link").supported


class CgroupBusyError(SyscallError):
    """The cgroup hook holds programs attached in a way that excludes this attachment."""


def _explain(exc: SyscallError, fd: int, at: AttachType, where: str) -> SyscallError:
    """Turn the kernel's EPERM for a flags conflict into an error that says so (root gets it too)."""
    if exc.errno != errno.EPERM:
        return exc
    try:
        q = _sys.prog_query(fd, at)
    except SyscallError:
        return exc
    if not q.prog_ids or AttachFlags.ALLOW_MULTI in AttachFlags(q.attach_flags):
        return exc
    mode = "ALLOW_OVERRIDE" if AttachFlags.ALLOW_OVERRIDE in AttachFlags(q.attach_flags) else "exclusively (flags NONE)"
    return CgroupBusyError(
        exc.command, errno.EPERM,
        f"{where} {at.name} already has program id {q.prog_ids[0]} attached {mode}; a link or ALLOW_MULTI "
        "attachment cannot join it: detach that program, or attach with the same flags to replace it",
    )


def cgroup(
    prog: Program,
    cgroup_path: str | os.PathLike[str] | HasFileno | int,
    attach_type: AttachType | None = None,
    *,
    flags: AttachFlags = AttachFlags.ALLOW_MULTI,
    replace: Program | None = None,
    use_link: bool | None = None,
) -> Link:
    """Attach ``prog`` to the cgroup ``cgroup_path`` (a path, absolute or relative to the v2 mount, or an fd).

    ``attach_type`` defaults to the one the section names (``SEC("cgroup/connect4")``), else the
    program type's usual hook. Kernel >= 5.7 for the link (``use_link=None`` uses it when the
    kernel has cgroup links and ``flags`` is ALLOW_MULTI); otherwise BPF_PROG_ATTACH (4.10) with
    ``flags``: ``AttachFlags.NONE`` (the only program), ``ALLOW_OVERRIDE`` (descendants may
    override), ``ALLOW_MULTI`` (one of several), and ``replace=old_prog`` (atomic swap of
    that program, kernel >= 5.6). ``update(new)`` swaps a link's program atomically.

        >>> from pybpf import link                                  # doctest: +SKIP
        >>> with pybpf.load("count.bpf.o") as obj:
        ...     with link.cgroup(obj.programs["count_egress"], "/sys/fs/cgroup/unified/test"):
        ...         ...
    """
    at = choose_attach_type(prog, attach_type, CGROUP_ATTACH_TYPES, _DEFAULT_BY_TYPE, hook="cgroup",
                            example="link.cgroup(prog, path, AttachType.CGROUP_INET4_CONNECT)")
    fd, owned, where = _open(cgroup_path)
    description = f"cgroup {at.name.lower().removeprefix('cgroup_')} {where}"
    try:
        if _uses_link(AttachFlags(flags), replace, use_link):
            try:
                link_fd = _sys.link_create(prog.fd, fd, at)
            except SyscallError as exc:
                raise _explain(exc, fd, at, where) from None
            return Link(fd=link_fd, program=prog, description=description)
        f = AttachFlags(flags) | (AttachFlags.REPLACE if replace is not None else AttachFlags.NONE)
        try:
            _sys.prog_attach(fd, prog.fd, at, flags=f, replace_fd=replace.fd if replace is not None else None)
        except SyscallError as exc:
            raise _explain(exc, fd, at, where) from None
        cg = _sys.FD(_sys.current().dup(fd), kind="cgroup")
        own_prog = prog.fd.dup()
        current = [prog]

        def reattach(new: Program) -> Link:
            # multi: swap atomically with REPLACE; NONE/OVERRIDE: a second attach replaces the program
            old = current[0] if AttachFlags.ALLOW_MULTI in AttachFlags(flags) else None
            lk = cgroup(new, cg.fileno(), at, flags=flags, replace=old, use_link=False)
            current[0] = new
            return lk

        return Link(fd=None, program=prog, description=description + " (prog_attach)",
                    cleanups=[lambda: prog_detach_quietly(cg, at, own_prog, what="cgroup")], reattach=reattach)
    finally:
        if owned:
            os.close(fd)


def attached(cgroup: str | os.PathLike[str] | HasFileno | int, attach_type: AttachType, *,
             effective: bool = False) -> _sys.QueryResult:
    """What BPF_PROG_QUERY reports at a cgroup hook (program ids, link ids, flags).

    ``effective=True`` includes programs inherited from ancestor cgroups.
    """
    fd, owned, _ = _open(cgroup)
    try:
        return _sys.prog_query(fd, attach_type, query_flags=1 if effective else 0)  # BPF_F_QUERY_EFFECTIVE
    finally:
        if owned:
            os.close(fd)


__all__ = ["CGROUP_ATTACH_TYPES", "CgroupBusyError", "attached", "cgroup", "cgroup2_mount", "resolve"]
