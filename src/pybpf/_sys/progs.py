"""Typed wrappers for the program commands of bpf(): load (with the verifier log), test run."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec

from .._log import get_logger
from ..enums import AttachType, ProgramFlags, ProgramType
from ..errors import SyscallError, VerifierError
from .abi import Command, TestRunFlags
from .attrs import ProgBindMapAttr, ProgLoadAttr, TestRunAttr
from .buffers import Buffer, OutBuffer, Pinned, c_string, object_name
from .fd import FD, FdLike, fdno
from .syscall import bpf, bpf_fd

log = get_logger("pybpf._sys")

#: First verifier log buffer size; grown on ENOSPC.
DEFAULT_LOG_SIZE = 1 << 18
#: Largest log buffer every kernel accepts (UINT_MAX >> 8; newer kernels allow UINT_MAX >> 2).
MAX_LOG_SIZE = (1 << 32) - 1 >> 8
_NEWER_MAX_LOG_SIZE = (1 << 32) - 1 >> 2
INSN_SIZE = 8
_P = ParamSpec("_P")


@dataclass(frozen=True)
class LoadedProgram:
    """An owned program fd and the verifier log (empty unless a log level was asked for)."""

    fd: FD
    log: str


def _log_text(buf: OutBuffer | None) -> str:
    if buf is None:
        return ""
    raw = buf.read()
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def prog_load_logged(
    prog_type: ProgramType,
    insns: Buffer,
    license: str = "GPL",
    *,
    name: str = "",
    log_level: int = 0,
    log_size: int = DEFAULT_LOG_SIZE,
    kern_version: int = 0,
    flags: ProgramFlags = ProgramFlags.NONE,
    expected_attach_type: AttachType | int = 0,
    ifindex: int = 0,
    btf_fd: FdLike | None = None,
    func_info: Buffer | None = None,
    func_info_rec_size: int = 0,
    line_info: Buffer | None = None,
    line_info_rec_size: int = 0,
    attach_btf_id: int = 0,
    attach_prog_fd: FdLike | None = None,
    attach_btf_obj_fd: FdLike | None = None,
    fd_array: Sequence[int] | None = None,
    token_fd: FdLike | None = None,
) -> LoadedProgram:
    """BPF_PROG_LOAD returning the fd and the verifier log.

    ``insns`` are raw instruction bytes (8 bytes per slot). With ``log_level=0`` a failed load
    is repeated once at level 1 to collect the log. A rejection with a log raises
    :class:`VerifierError` (whole log in ``.log``); the log buffer grows on ENOSPC. EAGAIN
    is retried by the seam. Missing capabilities raise ``MissingPrivilegeError``.
    """
    if len(insns) % INSN_SIZE:
        raise ValueError(f"instruction bytes must be a multiple of {INSN_SIZE}, got {len(insns)}")
    code = Pinned(insns)
    lic = c_string(license)
    finfo = Pinned(func_info)
    linfo = Pinned(line_info)
    fds = None
    if fd_array:
        fds = Pinned(b"".join(int(x).to_bytes(4, "little", signed=True) for x in fd_array))
    attr = ProgLoadAttr(
        prog_type=int(prog_type),
        insn_cnt=len(insns) // INSN_SIZE,
        insns=code.address,
        license=lic.address,
        kern_version=kern_version,
        prog_flags=int(flags),
        prog_name=object_name(name),
        prog_ifindex=ifindex,
        expected_attach_type=int(expected_attach_type),
        prog_btf_fd=fdno(btf_fd) if btf_fd is not None else 0,
        func_info_rec_size=func_info_rec_size if func_info else 0,
        func_info=finfo.address,
        func_info_cnt=len(func_info) // func_info_rec_size if func_info and func_info_rec_size else 0,
        line_info_rec_size=line_info_rec_size if line_info else 0,
        line_info=linfo.address,
        line_info_cnt=len(line_info) // line_info_rec_size if line_info and line_info_rec_size else 0,
        attach_btf_id=attach_btf_id,
        fd_array=fds.address if fds else 0,
        prog_token_fd=fdno(token_fd) if token_fd is not None else 0,
    )
    if attach_prog_fd is not None:
        attr.attach_prog_fd = fdno(attach_prog_fd)
    elif attach_btf_obj_fd is not None:
        attr.attach_btf_obj_fd = fdno(attach_btf_obj_fd)

    level, size = log_level, max(log_size, 128)
    while True:
        buf = OutBuffer(size) if level else None
        attr.log_level = level
        attr.log_size = size if level else 0
        attr.log_buf = buf.address if buf else 0
        attr.log_true_size = 0
        try:
            fd = bpf_fd(Command.PROG_LOAD, attr, "prog")
        except SyscallError as exc:
            err = exc.errno or errno.EIO
            if level == 0:
                log.debug("BPF_PROG_LOAD failed (%s); reloading with a verifier log", exc)
                level = 1
                continue
            text = _log_text(buf)
            if err == errno.ENOSPC and size < _NEWER_MAX_LOG_SIZE:
                wanted = attr.log_true_size or size * 4
                new_size = min(max(wanted, size * 2), MAX_LOG_SIZE if not attr.log_true_size else _NEWER_MAX_LOG_SIZE)
                if new_size > size:
                    size = new_size
                    continue
            if text and not _is_capability_failure(err, text):
                raise VerifierError(Command.PROG_LOAD.uapi_name, err, text) from None
            raise
        return LoadedProgram(fd, _log_text(buf) if log_level else "")


def _is_capability_failure(err: int, log_text: str) -> bool:
    """EPERM from the capability checks happens before the verifier writes anything."""
    return err == errno.EPERM and not log_text.strip()


def _fd_only(load: Callable[_P, LoadedProgram]) -> Callable[_P, FD]:
    def prog_load(*args: _P.args, **kwargs: _P.kwargs) -> FD:
        return load(*args, **kwargs).fd

    prog_load.__doc__ = "BPF_PROG_LOAD returning only the fd; options as for :func:`prog_load_logged`."
    return prog_load


#: ``prog_load(prog_type, insns, license="GPL", *, name=..., ...) -> FD``: same options as
#: :func:`prog_load_logged`, returning only the fd.
prog_load = _fd_only(prog_load_logged)


@dataclass(frozen=True)
class TestRunResult:
    """What BPF_PROG_TEST_RUN reported."""

    __test__ = False  # not a pytest test class

    retval: int
    data_out: bytes
    ctx_out: bytes
    duration_ns: int


def prog_test_run(
    prog_fd: FdLike,
    *,
    data: Buffer | None = None,
    data_out_size: int | None = None,
    ctx: Buffer | None = None,
    ctx_out_size: int | None = None,
    repeat: int = 1,
    flags: TestRunFlags = TestRunFlags.NONE,
    cpu: int = 0,
    batch_size: int = 0,
) -> TestRunResult:
    """BPF_PROG_TEST_RUN (kernel >= 4.12): run the program on ``data``/``ctx``.

    ``data_out_size`` defaults to ``len(data) + 4096``; if the program's output is larger the
    run is repeated once with a buffer the size the kernel reported. ``duration_ns`` is the
    average time per run.
    """
    din, cin = Pinned(data), Pinned(ctx)
    dsize = data_out_size if data_out_size is not None else (din.size + 4096 if data is not None else 0)
    csize = ctx_out_size if ctx_out_size is not None else cin.size
    for attempt in range(2):
        dout, cout = OutBuffer(dsize), OutBuffer(csize)
        attr = TestRunAttr(
            prog_fd=fdno(prog_fd), data_size_in=din.size, data_size_out=dsize, data_in=din.address,
            data_out=dout.address, repeat=repeat, ctx_size_in=cin.size, ctx_size_out=csize,
            ctx_in=cin.address, ctx_out=cout.address, flags=int(flags), cpu=cpu, batch_size=batch_size,
        )
        try:
            bpf(Command.PROG_TEST_RUN, attr)
        except SyscallError as exc:
            grown = attr.data_size_out > dsize or attr.ctx_size_out > csize
            if exc.errno == errno.ENOSPC and attempt == 0 and grown:
                dsize, csize = max(dsize, attr.data_size_out), max(csize, attr.ctx_size_out)
                continue
            raise
        return TestRunResult(
            retval=attr.retval,
            data_out=dout.read(attr.data_size_out) if dsize else b"",
            ctx_out=cout.read(attr.ctx_size_out) if csize else b"",
            duration_ns=attr.duration,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def prog_bind_map(prog_fd: FdLike, map_fd: FdLike) -> None:
    """BPF_PROG_BIND_MAP (kernel >= 5.10): keep ``map_fd`` alive as long as the program."""
    bpf(Command.PROG_BIND_MAP, ProgBindMapAttr(prog_fd=fdno(prog_fd), map_fd=fdno(map_fd)))
