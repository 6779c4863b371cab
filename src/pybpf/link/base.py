"""``Link``: one attachment of a program to a hook, owning what keeps it attached.

A link owns, in this order of release:

1. ``fd`` -- the BPF link fd (None for hooks that have no BPF link: a perf event with
   ``PERF_EVENT_IOC_SET_BPF``, a netlink or setsockopt attachment);
2. ``resources`` -- other fds or closeables the attachment needs (the perf event fd of a
   tracepoint, kprobe or perf_event link, ...), closed in order after the link fd;
3. ``cleanups`` -- callables run last (remove a tracefs ``kprobe_events`` entry, detach a
   netlink XDP program, ...).

Each hook family subclasses :class:`Link` only where it adds behaviour (``IterLink.open()``,
a netlink ``update``); everything else is the base. ``close()`` releases exactly once, and a
``weakref.finalize`` backstop releases a link nobody closed. Closing the fds is what detaches:
the kernel also does it for a process that dies, so a SIGKILLed tracer leaves no BPF link or
perf event behind (a tracefs kprobe entry is the one thing the kernel does not remove, see
:mod:`pybpf.link.kprobe`).

    >>> with pybpf.load("trace.bpf.o") as obj:                       # doctest: +SKIP
    ...     with obj.programs["on_openat"].attach() as link:
    ...         link.info().type
    <LinkType.PERF_EVENT: 7>
"""

from __future__ import annotations

import errno
import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from .. import _sys
from .._log import get_logger
from ..enums import LinkType
from ..errors import BPFError, NotSupportedError, SyscallError

if TYPE_CHECKING:
    from types import TracebackType

    from ..program import Program
    from .info import LinkInfo

log = get_logger("pybpf.link")


class Closeable(Protocol):
    """Anything a link can own besides its link fd (an :class:`~pybpf._sys.FD`, a socket, ...)."""

    def close(self) -> None: ...


class LinkError(BPFError):
    """A link cannot do what was asked (closed, not pinnable, ...)."""


def _release(fd: _sys.FD | None, resources: Sequence[Closeable], cleanups: Sequence[Callable[[], None]],
             what: str) -> None:
    """Close the link fd, then the resources, then run the cleanups; log (never raise) failures.

    Runs from ``close()`` or from the garbage collector, so every step is attempted even when
    an earlier one fails.
    """
    steps: list[Callable[[], None]] = []
    if fd is not None:
        steps.append(fd.close)
    steps.extend(r.close for r in resources)
    steps.extend(cleanups)
    for step in steps:
        try:
            step()
        except (OSError, BPFError) as exc:
            log.warning("detaching %s: %s", what, exc)


#: link type -> the Link subclass ``Link.from_fd`` / ``from_pin`` / ``from_id`` make for it
_CLASSES: dict[LinkType, type[Link]] = {}


def register_link_class(link_type: LinkType, cls: type[Link]) -> None:
    """Make ``Link.from_pin``/``from_id`` return ``cls`` for links of ``link_type``."""
    _CLASSES[link_type] = cls


class Link:
    """One attachment. Use it as a context manager, or ``close()`` / ``detach()`` it.

    ``program`` is the attached :class:`~pybpf.Program` (None for a link opened from a pin or
    an id); ``description`` says what it is attached to (``"tracepoint syscalls:sys_enter_openat"``).
    """

    #: Kernel feature name used in messages when this kind cannot be updated.
    update_feature = "updating this kind of link (BPF_LINK_UPDATE)"

    def __init__(
        self,
        *,
        fd: _sys.FD | None,
        program: Program | None,
        description: str,
        resources: Iterable[Closeable] = (),
        cleanups: Iterable[Callable[[], None]] = (),
        reattach: Callable[[Program], Link] | None = None,
    ) -> None:
        self._fd = fd
        self._reattach = reattach
        self.program = program
        self.description = description
        self._resources: list[Closeable] = list(resources)
        self._cleanups: list[Callable[[], None]] = list(cleanups)
        self._pins: list[str] = []
        self._finalizer = weakref.finalize(self, _release, fd, self._resources, self._cleanups, description)

    # -- what it owns ------------------------------------------------------------------------

    @property
    def fd(self) -> _sys.FD | None:
        """The BPF link fd, or None for an attachment made without a BPF link."""
        return self._fd

    def fileno(self) -> int:
        """The number of the BPF link fd (:class:`LinkError` when there is none)."""
        return self._link_fd("fileno()").fileno()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def _link_fd(self, what: str) -> _sys.FD:
        if self.closed:
            raise LinkError(f"{what}: the link ({self.description}) is already detached")
        if self._fd is None:
            raise NotSupportedError(
                f"{what} on {self.description}",
                reason="it was attached without a BPF link (an older kernel's way)",
                alternative="the attachment lives only as long as this process holds it",
            )
        return self._fd

    @property
    def resources(self) -> tuple[Closeable, ...]:
        """What closing the link closes besides its BPF link fd (a tracepoint's perf event fd...)."""
        return tuple(self._resources)

    @property
    def cleanups(self) -> tuple[Callable[[], None], ...]:
        """What closing the link runs (removing a dynamic event it created...)."""
        return tuple(self._cleanups)

    def add_cleanup(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` after the fds are closed (used by attach functions, not by users)."""
        self._cleanups.append(cleanup)

    # -- operations --------------------------------------------------------------------------

    @property
    def id(self) -> int:
        """The kernel's id for the BPF link."""
        return self.info().id

    def info(self) -> LinkInfo:
        """What the kernel reports about the link: type, id, program id, kind-specific details."""
        from .info import link_info  # the decoded link info is imported on first use, not at attach

        return link_info(self._link_fd("info()"))

    def update(self, prog: Program) -> None:
        """Replace the attached program with ``prog``.

        Where the link kind has BPF_LINK_UPDATE (kernel >= 5.7: XDP, cgroup, tcx, netns,
        struct_ops ...) the swap is atomic and the link keeps its id. Perf-event, raw
        tracepoint and tracing links have none: ``prog`` is then attached to the same hook
        first and the old attachment released after, so no event is missed but, for an
        instant, both programs run; the link gets a new id. A pinned link of such a kind
        raises :class:`~pybpf.errors.NotSupportedError` (its pin would keep the old program).
        """
        if self._fd is not None:
            try:
                _sys.link_update(self._link_fd("update()"), prog.fd)
                self.program = prog
                return
            except SyscallError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, _sys.ENOTSUPP):
                    raise
                refused = f"BPF_LINK_UPDATE answered {errno.errorcode.get(exc.errno or 0, exc.errno)}"
        else:
            refused = "it was attached without a BPF link"
        if self._reattach is None or self._pins:
            raise NotSupportedError(
                f"{self.update_feature} ({self.description})",
                reason=refused + (" and the link is pinned" if self._pins else ""),
                alternative="detach this link and attach the new program instead",
            )
        self._adopt(self._reattach(prog))
        self.program = prog

    def _adopt(self, new: Link) -> None:
        """Take over what ``new`` owns and release what this link owned (the old attachment)."""
        if self.closed:
            new.close()
            raise LinkError(f"update(): the link ({self.description}) is already detached")
        mine = self._finalizer.detach()
        theirs = new._finalizer.detach()
        assert mine is not None and theirs is not None
        self._fd, self._resources, self._cleanups = new._fd, new._resources, new._cleanups
        self._finalizer = weakref.finalize(self, _release, *theirs[2])
        _release(*mine[2])

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the link in a bpf filesystem: it stays attached after this process exits,
        until the pin is removed (``os.unlink(path)`` or :meth:`unpin`)."""
        _sys.obj_pin(self._link_fd("pin()"), path)
        self._pins.append(os.fspath(path))

    def unpin(self, path: str | os.PathLike[str] | None = None) -> None:
        """Remove a pin this object made (``path``), or all of them."""
        paths = [os.fspath(path)] if path is not None else list(self._pins)
        for p in paths:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            if p in self._pins:
                self._pins.remove(p)

    def detach(self) -> None:
        """Detach now, even if the link is pinned or another process holds it.

        Uses BPF_LINK_DETACH (kernel >= 5.9) where the link kind supports it, removes pins
        made through this object, and then releases everything like :meth:`close`.
        """
        if self.closed:
            return
        if self._fd is not None:
            try:
                _sys.link_detach(self._fd)
            except SyscallError as exc:  # kinds without a detach operation: closing is the detach
                log.debug("BPF_LINK_DETACH of %s: %s", self.description, exc)
        self.unpin()
        self.close()

    def close(self) -> None:
        """Release the link fd and what the attachment owns; later calls do nothing.

        The program stays attached only if the link was pinned (or another fd refers to it).
        """
        self._finalizer()

    # -- opening existing links --------------------------------------------------------------

    @classmethod
    def from_fd(cls, fd: _sys.FD, *, program: Program | None = None) -> Link:
        """Wrap an owned BPF link fd (its description comes from the kernel); on ``Link`` itself
        the class registered for the link's type is used (an iterator gives an ``IterLink``)."""
        from .info import link_info

        try:
            info = link_info(fd)
        except BPFError:
            fd.close()
            raise
        kind = _CLASSES.get(info.type, cls) if cls is Link else cls
        return kind(fd=fd, program=program, description=f"{info.type.name.lower()} link {info.id}")

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str]) -> Link:
        """Open the link pinned at ``path``; closing this object leaves the pinned link attached."""
        return cls.from_fd(_sys.obj_get(path, kind="link"))

    @classmethod
    def from_id(cls, link_id: int) -> Link:
        """Open the link with kernel id ``link_id`` (see ``bpftool link list``)."""
        return cls.from_fd(_sys.get_fd_by_id(_sys.ObjectKind.LINK, link_id))

    # -- protocol ----------------------------------------------------------------------------

    def __enter__(self) -> Link:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            state = "detached"
        elif self._fd is not None:
            state = f"fd={self._fd.fileno()}"
        else:
            state = "no-link-fd"
        prog = f" prog={self.program.name}" if self.program is not None else ""
        return f"<{type(self).__name__} {self.description}{prog} {state}>"


class LinkGroup(Link):
    """Several links made by one attach call (e.g. one perf event per CPU), handled as one.

    ``links`` are the members; closing the group closes each. Each member also has its own
    garbage-collection backstop, so a member still referenced stays attached after the group
    object is gone. ``info()`` describes the first member (``infos()`` all of them).
    """

    def __init__(self, links: Sequence[Link], *, program: Program | None, description: str,
                 reattach: Callable[[Program], Link] | None = None) -> None:
        if not links:
            raise LinkError(f"{description}: nothing was attached")
        self.links = list(links)
        super().__init__(fd=None, program=program, description=description, reattach=reattach)

    def info(self) -> LinkInfo:
        """The info of the first member link."""
        return self.links[0].info()

    def infos(self) -> list[LinkInfo]:
        """The info of each member link."""
        return [member.info() for member in self.links]

    def update(self, prog: Program) -> None:
        """Attach a new group for ``prog`` and release this one's members, or update each member."""
        if self.closed:
            raise LinkError(f"update(): the link ({self.description}) is already detached")
        if self._reattach is not None and not any(m._pins for m in self.links):
            new = self._reattach(prog)
            old, self.links = self.links, (new.links if isinstance(new, LinkGroup) else [new])
            if isinstance(new, LinkGroup):
                new.links = []
            for member in old:
                member.close()
        else:
            for member in self.links:
                member.update(prog)
        self.program = prog

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin member ``i`` at ``<path>_<i>`` (e.g. one per CPU)."""
        for i, member in enumerate(self.links):
            member.pin(f"{os.fspath(path)}_{i}")

    def unpin(self, path: str | os.PathLike[str] | None = None) -> None:
        for i, member in enumerate(self.links):
            member.unpin(None if path is None else f"{os.fspath(path)}_{i}")

    def detach(self) -> None:
        for member in self.links:
            member.detach()
        self.close()

    def close(self) -> None:
        """Close every member; later calls do nothing."""
        for member in self.links:
            member.close()
        super().close()

    def fileno(self) -> int:
        raise LinkError(f"{self.description} is a group of {len(self.links)} links; use .links[i].fileno()")

    def __len__(self) -> int:
        return len(self.links)


def __getattr__(name: str) -> object:
    if name == "LinkInfo":  # re-exported, imported on first use (see Link.info)
        from .info import LinkInfo

        return LinkInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Closeable", "Link", "LinkError", "LinkGroup", "LinkInfo", "register_link_class"]
