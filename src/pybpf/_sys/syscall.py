"""The one syscall seam: every bpf() and perf_event_open() call goes through here.

``current()`` returns the active :class:`Syscalls` object (the real kernel by default);
``override(fake)`` swaps it for a test double. :func:`bpf` is the only way call sites
reach the kernel: it passes a typed attr structure, retries where the kernel asks for it,
and turns errno into an exception that names the command and says what to do.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from .._log import get_logger
from ..enums import MapType, ProgramType
from ..errors import MissingPrivilegeError, SyscallError
from .abi import Command, PerfFlags
from .attrs import Attr, MapCreateAttr
from .fd import FD
from .perf_attr import PerfEventAttr
from .raw import RawSyscalls, syscall_numbers

log = get_logger("pybpf._sys")


class Syscalls(Protocol):
    """What the seam must provide. Each method raises ``OSError`` (with ``errno``) on failure."""

    def bpf(self, cmd: Command, attr: Attr) -> int:
        """bpf(cmd, &attr, sizeof(attr)); returns the syscall's result."""
        ...

    def perf_event_open(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        """perf_event_open(&attr, pid, cpu, group_fd, flags); returns the new fd."""
        ...

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        """ioctl(fd, request, arg) with an integer argument."""
        ...

    def close(self, fd: int) -> None:
        """close(fd)."""
        ...

    def dup(self, fd: int) -> int:
        """fcntl(fd, F_DUPFD_CLOEXEC, 0)."""
        ...


#: Commands that charge kernel memory (and so may need RLIMIT_MEMLOCK on old kernels).
_CHARGING = frozenset({Command.MAP_CREATE, Command.PROG_LOAD, Command.BTF_LOAD})


class LinuxSyscalls:
    """The real kernel, through libc's ``syscall(2)``."""

    def __init__(self, machine: str | None = None) -> None:
        syscall_numbers(machine)  # an unknown architecture fails here, not at the first call
        self._machine = machine
        self._raw: RawSyscalls | None = None
        self._memlock_lock = threading.Lock()
        self.memlock_accounting: bool | None = None  # None: not probed yet

    def _libc(self) -> RawSyscalls:
        if self._raw is None:
            self._raw = RawSyscalls(self._machine)
        return self._raw

    def _raw_bpf(self, cmd: int, attr: Attr) -> int:
        return self._libc().bpf(cmd, ctypes.addressof(attr), ctypes.sizeof(attr))

    def bpf(self, cmd: Command, attr: Attr) -> int:
        if self.memlock_accounting is None and cmd in _CHARGING:
            self._probe_memlock()
        return self._raw_bpf(cmd, attr)

    def perf_event_open(self, attr: PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        if not attr.size:
            attr.size = ctypes.sizeof(attr)
        return self._libc().perf_event_open(ctypes.addressof(attr), pid, cpu, group_fd, flags)

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        return self._libc().ioctl(fd, request, arg)

    def close(self, fd: int) -> None:
        os.close(fd)

    def dup(self, fd: int) -> int:
        return self._libc().dup(fd)

    def _probe_memlock(self) -> None:
        """Decide once whether this kernel charges bpf memory to RLIMIT_MEMLOCK.

        Kernels before 5.11 do; later ones charge the memory cgroup. The probe creates a
        one-entry array with the soft limit briefly at 0: success means memcg accounting
        (the limit is left alone); EPERM means memlock accounting, and the limit is raised
        to infinity, as every bpf loader on such kernels must.
        """
        with self._memlock_lock:
            if self.memlock_accounting is not None:
                return
            soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
            if soft == resource.RLIM_INFINITY:
                self.memlock_accounting = False
                return
            attr = MapCreateAttr(map_type=MapType.ARRAY, key_size=4, value_size=4, max_entries=1)
            try:
                resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, hard))
                try:
                    fd = self._raw_bpf(int(Command.MAP_CREATE), attr)
                finally:
                    resource.setrlimit(resource.RLIMIT_MEMLOCK, (soft, hard))
            except OSError as exc:
                self.memlock_accounting = exc.errno == errno.EPERM
            else:
                os.close(fd)
                self.memlock_accounting = False
            if self.memlock_accounting:
                try:
                    resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                    log.debug("kernel accounts bpf memory with RLIMIT_MEMLOCK: raised it to infinity")
                except (OSError, ValueError) as exc:
                    log.warning(
                        "kernel accounts bpf memory with RLIMIT_MEMLOCK and raising it failed (%s); "
                        "map and program creation may fail with EPERM (run as root or `ulimit -l unlimited`)",
                        exc,
                    )


_current: Syscalls | None = None
_S = TypeVar("_S", bound=Syscalls)


def current() -> Syscalls:
    """The active seam (the real kernel unless :func:`override` is in effect)."""
    global _current
    if _current is None:
        _current = LinuxSyscalls()
    return _current


@contextmanager
def override(fake: _S) -> Iterator[_S]:
    """Route every bpf()/perf_event_open() through ``fake`` inside the ``with`` block."""
    global _current
    previous = _current
    _current = fake
    try:
        yield fake
    finally:
        _current = previous


# ---- errno -> exception ---------------------------------------------------------------------

_PERFMON_PROGS = frozenset({
    ProgramType.KPROBE, ProgramType.TRACEPOINT, ProgramType.PERF_EVENT, ProgramType.RAW_TRACEPOINT,
    ProgramType.RAW_TRACEPOINT_WRITABLE, ProgramType.TRACING, ProgramType.LSM, ProgramType.STRUCT_OPS,
    ProgramType.EXT,
})
_NET_ADMIN_PROGS = frozenset({
    ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.XDP, ProgramType.LWT_IN,
    ProgramType.LWT_OUT, ProgramType.LWT_XMIT, ProgramType.LWT_SEG6LOCAL, ProgramType.SOCK_OPS,
    ProgramType.SK_SKB, ProgramType.SK_MSG, ProgramType.FLOW_DISSECTOR, ProgramType.CGROUP_DEVICE,
    ProgramType.CGROUP_SOCK, ProgramType.CGROUP_SOCK_ADDR, ProgramType.CGROUP_SOCKOPT,
    ProgramType.CGROUP_SYSCTL, ProgramType.SK_LOOKUP, ProgramType.NETFILTER,
})
_NET_ADMIN_MAPS = frozenset({
    MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.SOCKMAP, MapType.SOCKHASH, MapType.CPUMAP,
    MapType.XSKMAP, MapType.REUSEPORT_SOCKARRAY,
})


def _prog_load_caps(attr: Attr) -> tuple[str, ...]:
    prog_type = getattr(attr, "prog_type", 0)
    if prog_type in _PERFMON_PROGS:
        return ("CAP_BPF", "CAP_PERFMON")
    if prog_type in _NET_ADMIN_PROGS:
        return ("CAP_BPF", "CAP_NET_ADMIN")
    return ("CAP_BPF",)


def _map_create_caps(attr: Attr) -> tuple[str, ...]:
    if getattr(attr, "map_type", 0) in _NET_ADMIN_MAPS:
        return ("CAP_BPF", "CAP_NET_ADMIN")
    return ("CAP_BPF",)


def _caps(*names: str) -> Callable[[Attr], tuple[str, ...]]:
    return lambda _attr: names


#: Command -> the capabilities it needs (given its attr); CAP_SYS_ADMIN always suffices.
_CAPABILITIES: dict[Command, Callable[[Attr], tuple[str, ...]]] = {
    Command.PROG_LOAD: _prog_load_caps,
    Command.MAP_CREATE: _map_create_caps,
    Command.RAW_TRACEPOINT_OPEN: _caps("CAP_BPF", "CAP_PERFMON"),
    Command.PROG_ATTACH: _caps("CAP_NET_ADMIN"),
    Command.PROG_DETACH: _caps("CAP_NET_ADMIN"),
    Command.PROG_QUERY: _caps("CAP_NET_ADMIN"),
    Command.LINK_CREATE: _caps("CAP_BPF", "CAP_NET_ADMIN (network hooks) or CAP_PERFMON (tracing hooks)"),
    Command.PROG_GET_NEXT_ID: _caps("CAP_SYS_ADMIN"),
    Command.MAP_GET_NEXT_ID: _caps("CAP_SYS_ADMIN"),
    Command.BTF_GET_NEXT_ID: _caps("CAP_SYS_ADMIN"),
    Command.LINK_GET_NEXT_ID: _caps("CAP_SYS_ADMIN"),
    Command.PROG_GET_FD_BY_ID: _caps("CAP_SYS_ADMIN"),
    Command.MAP_GET_FD_BY_ID: _caps("CAP_SYS_ADMIN"),
    Command.BTF_GET_FD_BY_ID: _caps("CAP_SYS_ADMIN"),
    Command.LINK_GET_FD_BY_ID: _caps("CAP_SYS_ADMIN"),
    Command.ENABLE_STATS: _caps("CAP_SYS_ADMIN"),
    Command.TASK_FD_QUERY: _caps("CAP_SYS_ADMIN"),
}

#: The kernel-internal ENOTSUPP that leaks out of some bpf() paths (not in errno).
ENOTSUPP = 524

#: (command, errno) -> what it usually means and what to do. ``None`` matches any command.
_HINTS: dict[tuple[Command | None, int], str] = {
    (None, errno.ENOSYS): "this kernel has no bpf() syscall (CONFIG_BPF_SYSCALL); use pybpf.vm to run programs in userspace",
    (None, errno.EBADF): "a file descriptor passed to the kernel is closed or is not a bpf object",
    (Command.MAP_CREATE, errno.EINVAL): "the kernel rejected the map definition (map type, flags, key/value size or max_entries); check pybpf.features for the map type",
    (Command.MAP_CREATE, errno.ENOMEM): "not enough kernel memory for this map; lower max_entries",
    (Command.MAP_CREATE, errno.E2BIG): "the map is too large; lower max_entries or the value size",
    (Command.MAP_UPDATE_ELEM, errno.E2BIG): "the map is full (max_entries reached); delete entries or create a larger map",
    (Command.MAP_UPDATE_ELEM, errno.EEXIST): "the key exists and NOEXIST was requested",
    (Command.MAP_UPDATE_ELEM, errno.ENOENT): "the key does not exist and EXIST was requested",
    (Command.OBJ_PIN, errno.EEXIST): "a file already exists at that path; unlink it or choose another path",
    (Command.OBJ_PIN, errno.ENOENT): "the directory does not exist; is bpffs mounted (mount -t bpf bpf /sys/fs/bpf)?",
    (Command.OBJ_GET, errno.ENOENT): "nothing is pinned at that path",
    (Command.BTF_LOAD, errno.EINVAL): "the kernel rejected the BTF; load it with a log level to see why",
    (Command.PROG_TEST_RUN, ENOTSUPP): "this program type cannot be test-run on this kernel",
    (Command.LINK_CREATE, ENOTSUPP): "this attach type is not supported for this program on this kernel",
    (Command.PROG_TEST_RUN, errno.ENOSPC): "the output buffer is too small for the data the program returned",
}

#: (command, errno) pairs where EPERM/EACCES is not about capabilities.
_NOT_CAPABILITY: dict[tuple[Command, int], str] = {
    (Command.OBJ_PIN, errno.EPERM): "the path must be inside a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)",
    (Command.OBJ_PIN, errno.EACCES): "no permission to create the pin file (check the bpffs directory's owner and mode)",
    (Command.OBJ_GET, errno.EACCES): "no permission to open the pinned object, or it is not a bpf object",
    (Command.OBJ_GET, errno.EPERM): "no permission to open the pinned object (check the pin file's owner and mode)",
    (Command.MAP_UPDATE_ELEM, errno.EPERM): "the map is frozen or read-only for user space",
    (Command.MAP_DELETE_ELEM, errno.EPERM): "the map is frozen or read-only for user space",
    (Command.MAP_LOOKUP_AND_DELETE_ELEM, errno.EPERM): "the map is frozen or read-only for user space",
}


#: Which errnos mean "missing privilege" per command (default EPERM and EACCES). For
#: PROG_LOAD, EACCES is the verifier refusing a memory access, not a missing capability.
_PRIVILEGE_ERRNOS: dict[Command, tuple[int, ...]] = {
    Command.PROG_LOAD: (errno.EPERM,),
}


def _privilege_error(name: str, err: int, caps: tuple[str, ...]) -> MissingPrivilegeError:
    needed = " and ".join(caps)
    return MissingPrivilegeError(
        name, err,
        f"needs {needed} (or CAP_SYS_ADMIN); run as root or grant the capabilities "
        f"(setcap {','.join(c.split()[0].lower() for c in caps if c.startswith('CAP_'))}+ep on the interpreter)",
        capabilities=caps,
    )


def error_for(cmd: Command, err: int, attr: Attr | None = None) -> SyscallError:
    """The exception for ``cmd`` failing with ``err`` (``attr`` refines the advice)."""
    name = cmd.uapi_name
    if err in _PRIVILEGE_ERRNOS.get(cmd, (errno.EPERM, errno.EACCES)):
        if (cmd, err) in _NOT_CAPABILITY:
            return SyscallError(name, err, _NOT_CAPABILITY[cmd, err])
        caps = _CAPABILITIES.get(cmd, _caps("CAP_BPF"))(attr if attr is not None else Attr())
        return _privilege_error(name, err, caps)
    hint = _HINTS.get((cmd, err)) or _HINTS.get((None, err), "")
    return SyscallError(name, err, hint)


def perf_error_for(err: int, detail: str = "") -> SyscallError:
    """The exception for perf_event_open failing with ``err``."""
    if err in (errno.EPERM, errno.EACCES):
        return MissingPrivilegeError(
            "perf_event_open", err,
            "needs CAP_PERFMON (or CAP_SYS_ADMIN); run as root, grant it (setcap cap_perfmon+ep on the "
            "interpreter) or lower /proc/sys/kernel/perf_event_paranoid",
            capabilities=("CAP_PERFMON",),
        )
    hints = {
        errno.ENOENT: "this event does not exist on this machine",
        errno.ENODEV: "this event is not supported by this CPU or kernel",
        errno.EINVAL: "the kernel rejected the perf_event_attr (type, config or flags)",
    }
    return SyscallError("perf_event_open", err, detail or hints.get(err, ""))


#: Commands retried on EAGAIN, and how many times (the verifier may ask to be called again).
_EAGAIN_RETRIES: dict[Command, int] = {Command.PROG_LOAD: 5}
_EINTR_RETRIES = 10


def bpf(cmd: Command, attr: Attr) -> int:
    """Run bpf(``cmd``, ``attr``) through the seam; :class:`SyscallError` on failure."""
    eagain = _EAGAIN_RETRIES.get(cmd, 0)
    eintr = _EINTR_RETRIES
    seam = current()
    while True:
        try:
            return seam.bpf(cmd, attr)
        except OSError as exc:
            err = exc.errno or errno.EIO
            if err == errno.EINTR and eintr > 0:
                eintr -= 1
                continue
            if err == errno.EAGAIN and eagain > 0:
                eagain -= 1
                log.debug("%s returned EAGAIN; retrying (%d left)", cmd.uapi_name, eagain)
                continue
            raise error_for(cmd, err, attr) from None


def bpf_fd(cmd: Command, attr: Attr, kind: str) -> FD:
    """Run a command that returns a new fd and wrap the fd in :class:`FD`."""
    seam = current()
    return FD(bpf(cmd, attr), kind=kind, syscalls=seam)


def perf_event_open(
    attr: PerfEventAttr, *, pid: int = -1, cpu: int = 0, group_fd: int = -1,
    flags: PerfFlags = PerfFlags.FD_CLOEXEC,
) -> FD:
    """perf_event_open(2) through the seam, returning an owned :class:`FD`.

    ``pid=-1, cpu=N`` measures all tasks on one CPU (needs CAP_PERFMON); ``pid=0, cpu=-1``
    measures the calling thread on any CPU.
    """
    seam = current()
    if not attr.size:
        attr.size = ctypes.sizeof(attr)
    try:
        fd = seam.perf_event_open(attr, pid, cpu, group_fd, int(flags | PerfFlags.FD_CLOEXEC))
    except OSError as exc:
        raise perf_error_for(exc.errno or errno.EIO) from None
    return FD(fd, kind="perf_event", syscalls=seam)


def ioctl(fd: int, request: int, arg: int = 0, *, what: str = "ioctl") -> int:
    """ioctl through the seam; :class:`SyscallError` naming ``what`` on failure."""
    try:
        return current().ioctl(fd, request, arg)
    except OSError as exc:
        raise SyscallError(what, exc.errno or errno.EIO) from None


__all__ = [
    "LinuxSyscalls", "Syscalls", "bpf", "bpf_fd", "current", "error_for", "ioctl", "override",
    "perf_event_open",
]
