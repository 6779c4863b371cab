"""``Program``: an eBPF program loaded in the kernel, owning its fd.

    >>> with pybpf.load("prog.bpf.o") as obj:                  # doctest: +SKIP
    ...     prog = obj.programs["xdp_pass"]
    ...     prog.test_run(data=bytes(64)).retval
    2
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _sys
from ._lifetime import Finalized
from ._log import get_logger
from .enums import ProgramType
from .errors import BPFError, SyscallError
from .isa import Instruction, decode

if TYPE_CHECKING:
    from ._sys import TestRunResult
    from .link import Link
    from .spec import ProgramSpec

log = get_logger("pybpf.program")


@dataclass(frozen=True)
class ProgramInfo:
    """What the kernel reports about a loaded program (``bpftool prog show``)."""

    id: int
    name: str
    type: ProgramType
    tag: str
    xlated: list[Instruction]  # the instructions after the verifier's rewrites
    jited: bytes  # native code
    map_ids: tuple[int, ...]
    run_count: int  # counted while run-time statistics are enabled (pybpf._sys.enable_stats)
    run_time_ns: int
    verified_insns: int
    btf_id: int
    load_time: int  # ns since boot
    uid: int
    gpl_compatible: bool
    recursion_misses: int

    @property
    def xlated_bytes(self) -> int:
        return sum(i.slots for i in self.xlated) * 8


def _program_type(value: int) -> ProgramType:
    try:
        return ProgramType(value)
    except ValueError:
        return ProgramType.UNSPEC


def info_from_fd(fd: _sys.FdLike, *, instructions: bool = True) -> ProgramInfo:
    """The :class:`ProgramInfo` of a program fd."""
    raw = _sys.prog_info(fd, instructions=instructions)
    i = raw.info
    return ProgramInfo(
        id=int(i.id), name=raw.name, type=_program_type(int(i.type)), tag=raw.tag,
        xlated=decode(raw.xlated) if raw.xlated else [], jited=raw.jited, map_ids=raw.map_ids,
        run_count=int(i.run_cnt), run_time_ns=int(i.run_time_ns), verified_insns=int(i.verified_insns),
        btf_id=int(i.btf_id), load_time=int(i.load_time), uid=int(i.created_by_uid),
        gpl_compatible=bool(i.gpl_compatible), recursion_misses=int(i.recursion_misses),
    )


def _close_program(fd: _sys.FD, links: list[Link]) -> None:
    for link in links:
        link.close()
    fd.close()


#: fdinfo key -> the kind of bpf object it marks
_FDINFO_KINDS = {"prog_type": "program", "map_type": "map", "link_type": "link"}


def _bpf_fd_kind(fd: int) -> str:
    """"program", "map", "link" or "bpf object" from /proc/self/fdinfo (kernel >= 4.10)."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
            keys = {line.split(":", 1)[0] for line in f}
    except OSError:
        return "program"  # no fdinfo: trust the caller
    return next((kind for key, kind in _FDINFO_KINDS.items() if key in keys), "bpf object")


class Program(Finalized):
    """A loaded program. Close it (or its :class:`~pybpf.Collection`) to release it.

    ``log`` holds the verifier log when the program was loaded with ``log_level > 0``.
    """

    def __init__(self, fd: _sys.FD, *, name: str, type: ProgramType, log: str = "") -> None:
        self._fd = fd
        self.name = name
        self.type = type
        self.log = log
        #: the spec it was loaded from (its section says where it attaches); None from a pin or an id
        self.spec: ProgramSpec | None = None
        #: links made with :meth:`attach`; closing the program detaches them
        self.links: list[Link] = []
        self._finalizer = weakref.finalize(self, _close_program, fd, self.links)

    @property
    def fd(self) -> _sys.FD:
        """The owned fd (``ClosedFDError`` once closed)."""
        return self._fd

    def fileno(self) -> int:
        return self._fd.fileno()

    @property
    def closed(self) -> bool:
        return self._fd.closed

    @property
    def id(self) -> int:
        """The kernel's id for this program."""
        return self.info(instructions=False).id

    def info(self, *, instructions: bool = True) -> ProgramInfo:
        """Kernel info: xlated/jited code, run count and time, map ids, tag."""
        return info_from_fd(self._fd, instructions=instructions)

    def test_run(self, data: bytes | None = None, *, ctx: bytes | None = None, repeat: int = 1,
                 data_out_size: int | None = None, ctx_out_size: int | None = None,
                 cpu: int | None = None) -> TestRunResult:
        """Run the program once (or ``repeat`` times) on ``data``/``ctx`` with BPF_PROG_TEST_RUN.

        Kernel >= 4.12; which program types support it depends on the kernel (socket filter,
        tc, XDP, raw_tp, syscall, tracing/fentry, flow dissector, sk_lookup, ...). The arguments
        are checked against the type's rules first (:mod:`pybpf.program_run`): RAW_TRACEPOINT
        and SYSCALL programs run once on a ctx only (no data; the default ``repeat=1`` is that
        one run), ``cpu`` runs a RAW_TRACEPOINT program on that CPU (kernel >= 5.10), and a
        SYSCALL program's ctx, which the kernel writes back, is returned as ``ctx_out``.
        An argument the type does not take raises :class:`~pybpf.program_run.TestRunArgumentError`.

            >>> raw_tp.test_run(ctx=struct.pack("<QQ", 0, 39)).retval    # doctest: +SKIP
        """
        from . import program_run  # here: loading and attaching (pybpf trace start-up) do not need it

        request = program_run.check(self.type, self.name, data=data, ctx=ctx, repeat=repeat,
                                    data_out_size=data_out_size, ctx_out_size=ctx_out_size, cpu=cpu)
        try:
            result = _sys.prog_test_run(self._fd, data=request.data, ctx=request.ctx, repeat=request.repeat,
                                        data_out_size=request.data_out_size, ctx_out_size=request.ctx_out_size,
                                        flags=request.flags, cpu=request.cpu)
        except SyscallError as exc:
            raise program_run.explain_failure(self.type, self.name, request, exc) from None
        if isinstance(request.ctx, bytearray):  # written back in place by the kernel
            result = dataclasses.replace(result, ctx_out=bytes(request.ctx))
        return result

    def attach(self, *args: object, **kwargs: object) -> Link:
        """Attach where the program's section says (``SEC("tracepoint/syscalls/sys_enter_openat")``);
        ``args``/``kwargs`` give or override the target (``prog.attach("eth0")`` for XDP).

        The link is detached when it is closed, or when this program (or its Collection) is.
        See :mod:`pybpf.link` for every hook's own attach function.
        """
        from .link.auto import attach

        link = attach(self, *args, **kwargs)
        self.links[:] = [*(old for old in self.links if not old.closed), link]
        return link

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the program in a bpf filesystem (it stays loaded after this process exits)."""
        _sys.obj_pin(self._fd, path)

    @classmethod
    def from_fd(cls, fd: _sys.FD) -> Program:
        """Wrap an owned program fd (name and type come from the kernel)."""
        try:
            what = _bpf_fd_kind(fd.fileno())
            if what != "program":
                raise BPFError(f"the object behind fd {fd.fileno()} is a {what}, not a program; "
                               "open it with Map.from_pin/Map.from_id or the matching class")
            info = info_from_fd(fd, instructions=False)
        except BPFError:
            fd.close()
            raise
        return cls(fd, name=info.name, type=info.type)

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str]) -> Program:
        """Open the program pinned at ``path``."""
        return cls.from_fd(_sys.obj_get(path, kind="prog"))

    @classmethod
    def from_id(cls, prog_id: int) -> Program:
        """Open the loaded program with id ``prog_id`` (see :func:`pybpf.programs`)."""
        return cls.from_fd(_sys.get_fd_by_id(_sys.ObjectKind.PROG, prog_id))

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd.fileno()}"
        return f"<Program {self.name} {self.type.name} {state}>"
