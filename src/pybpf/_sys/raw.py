"""The bottom of the syscall seam: libc's ``syscall(2)`` bound for bpf() and perf_event_open().

Both ways into the kernel stand on this module: :class:`pybpf._sys.LinuxSyscalls` (the typed
attr structures, errno mapping, retries) and :mod:`pybpf._sys.replay` (a recorded load and
attach done again, at the start-up of ``pybpf trace``). It imports only ctypes and os, so a
process that replays a recording does not pay for the typed layers it does not use.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import NotSupportedError

#: ``(bpf, perf_event_open)`` syscall numbers per machine (``os.uname().machine``, what
#: ``platform.machine()`` returns on Linux, without importing ``platform`` at start-up).
#: aarch64, riscv64 and loongarch64 use the asm-generic table.
SYSCALL_NUMBERS: dict[str, tuple[int, int]] = {
    "x86_64": (321, 298),
    "amd64": (321, 298),
    "aarch64": (280, 241),
    "arm64": (280, 241),
    "riscv64": (280, 241),
    "loongarch64": (280, 241),
}


def syscall_numbers(machine: str | None = None) -> tuple[int, int]:
    """Return ``(NR_bpf, NR_perf_event_open)`` for ``machine`` (default: this machine)."""
    machine = (machine or os.uname().machine).lower()
    try:
        return SYSCALL_NUMBERS[machine]
    except KeyError:
        raise NotSupportedError(
            f"bpf() on {machine}",
            reason="pybpf does not know this architecture's syscall numbers",
            alternative="supported architectures: " + ", ".join(sorted(SYSCALL_NUMBERS)),
        ) from None


class RawSyscalls:
    """bpf() and perf_event_open() on attr memory given by address; ``OSError`` (with errno) on failure."""

    def __init__(self, machine: str | None = None) -> None:
        self._nr_bpf, self._nr_perf = syscall_numbers(machine)
        libc = ctypes.CDLL(None, use_errno=True)
        bpf_call, perf_call = libc["syscall"], libc["syscall"]  # [] gives independent handles
        bpf_call.restype = perf_call.restype = ctypes.c_long
        bpf_call.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
        perf_call.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
        self._bpf_call, self._perf_call = bpf_call, perf_call

    def bpf(self, cmd: int, attr_address: int, size: int) -> int:
        """bpf(cmd, attr, size): the syscall's result."""
        res = self._bpf_call(self._nr_bpf, cmd, attr_address, size)
        if res < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return int(res)

    def perf_event_open(self, attr_address: int, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        """perf_event_open(attr, pid, cpu, group_fd, flags): the new fd."""
        res = self._perf_call(self._nr_perf, attr_address, pid, cpu, group_fd, flags)
        if res < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return int(res)

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        """ioctl(fd, request, arg) with an integer argument."""
        import fcntl

        return int(fcntl.ioctl(fd, request, arg))

    def dup(self, fd: int) -> int:
        """fcntl(fd, F_DUPFD_CLOEXEC, 0)."""
        import fcntl

        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)
