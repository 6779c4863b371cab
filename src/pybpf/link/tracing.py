"""BPF trampoline programs: fentry, fexit, fmod_ret, LSM, and freplace (BPF_LINK_CREATE).

These programs are bound to their target (a kernel function, an LSM hook, or a function of
another BPF program) when they are loaded, so attaching names nothing but the program.
Each attach probes the kernel first (:mod:`pybpf.features`): a kernel that refuses BPF
trampolines (some refuse every such program with EPERM and an empty verifier log) gets a
:class:`~pybpf.errors.NotSupportedError` that says why and names the tracepoints covering
the same event.

    >>> from pybpf import link                                                   # doctest: +SKIP
    >>> with pybpf.load("fentry.bpf.o") as obj:
    ...     with link.fentry(obj.programs["on_openat2"]):
    ...         open("/etc/hostname").close()
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from .. import _sys
from ..btf import BTF, Kind
from ..enums import AttachType, ProgramType
from ..errors import BPFError, NotSupportedError, SyscallError
from .alternatives import refusal
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")

#: attach type -> (feature name in pybpf.features, label)
_KINDS: dict[AttachType, tuple[str, str]] = {
    AttachType.TRACE_FENTRY: ("fentry", "fentry"),
    AttachType.TRACE_FEXIT: ("fexit", "fexit"),
    AttachType.MODIFY_RETURN: ("fmod_ret", "fmod_ret"),
    AttachType.LSM_MAC: ("lsm", "lsm"),
}

#: errnos that mean "this kernel will not attach trampolines"
_REFUSED = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, _sys.ENOTSUPP})


def _target_of(prog: Program) -> str:
    spec = getattr(prog, "spec", None)
    target = getattr(spec, "attach_to", "") if spec is not None else ""
    return str(target) or prog.name


def require(kind: str, function: str = "") -> None:
    """Raise NotSupportedError if the kernel cannot run ``kind`` programs (``"fentry"``,
    ``"fexit"``, ``"fmod_ret"``, ``"lsm"``) on ``function``; the message names the
    tracepoints that cover the same event.

        >>> require("fentry", "do_sys_openat2")                                 # doctest: +SKIP
        NotSupportedError: fentry (do_sys_openat2) is not supported by this kernel (...); use a tracepoint,
        which covers the same event: syscalls:sys_enter_openat2, syscalls:sys_exit_openat2 (...)
    """
    from .. import features

    result = features.feature(kind)
    if not result.supported:
        raise refusal(kind, function or "?", result.reason, retprobe={"fexit": True, "fentry": False}.get(kind))


def _trampoline(prog: Program, attach_type: AttachType, cookie: int) -> Link:
    feature, label = _KINDS[attach_type]
    function = _target_of(prog)
    require(feature, function)
    try:
        fd = _sys.link_create_tracing(prog.fd, attach_type, cookie=cookie)
    except SyscallError as exc:
        if exc.errno in _REFUSED:
            raise refusal(label, function, f"BPF_LINK_CREATE answered {errno.errorcode.get(exc.errno or 0)}",
                          retprobe=attach_type == AttachType.TRACE_FEXIT) from None
        if exc.errno != errno.EINVAL or cookie:
            raise
        log.debug("LINK_CREATE for %s refused (%s); using BPF_RAW_TRACEPOINT_OPEN", label, exc)
        fd = _sys.raw_tracepoint_open(prog.fd, None)  # kernels 5.5 .. 5.10
    return Link(fd=fd, program=prog, description=f"{label} {function}",
                reattach=lambda new: _trampoline(new, attach_type, cookie))


def fentry(prog: Program, *, cookie: int = 0) -> Link:
    """Attach a ``SEC("fentry/<function>")`` program (kernel >= 5.5; cookie >= 5.19)."""
    return _trampoline(prog, AttachType.TRACE_FENTRY, cookie)


def fexit(prog: Program, *, cookie: int = 0) -> Link:
    """Attach a ``SEC("fexit/<function>")`` program (kernel >= 5.5).

        >>> link.fexit(obj.programs["on_exit"])                                  # doctest: +SKIP
    """
    return _trampoline(prog, AttachType.TRACE_FEXIT, cookie)


def fmod_ret(prog: Program, *, cookie: int = 0) -> Link:
    """Attach a ``SEC("fmod_ret/<function>")`` program (kernel >= 5.7; error-injectable functions only).

        >>> link.fmod_ret(obj.programs["deny"])                                  # doctest: +SKIP
    """
    return _trampoline(prog, AttachType.MODIFY_RETURN, cookie)


def lsm(prog: Program, *, cookie: int = 0) -> Link:
    """Attach a ``SEC("lsm/<hook>")`` program (kernel >= 5.7 with ``bpf`` in the ``lsm=`` list).

        >>> link.lsm(obj.programs["file_open"])                                  # doctest: +SKIP
    """
    return _trampoline(prog, AttachType.LSM_MAC, cookie)


def _btf_func_id(target: Program, function: str) -> int:
    """The BTF id of FUNC ``function`` in the BTF that ``target`` was loaded with."""
    btf_id = int(_sys.prog_info(target.fd, instructions=False).info.btf_id)
    if not btf_id:
        raise BPFError(f"program {target.name} was loaded without BTF; freplace needs its BTF to find {function}")
    with _sys.get_fd_by_id(_sys.ObjectKind.BTF, btf_id) as fd:
        data = _sys.btf_info(fd, data=True).data
    btf = BTF.from_bytes(data)
    return btf.find_one(function, Kind.FUNC)


def freplace(prog: Program, target: Program | None = None, function: str | None = None) -> Link:
    """Attach an EXT (``SEC("freplace/<function>")``) program in place of a global function of
    another loaded program. Without ``target`` it replaces what it was loaded against;
    with ``target`` and ``function`` it replaces that function of ``target`` (kernel >= 5.10).

        >>> link.freplace(obj.programs["new_check"], xdp_prog, "check")          # doctest: +SKIP
    """
    if prog.type != ProgramType.EXT:
        raise BPFError(f"freplace needs an EXT program (SEC(\"freplace/...\")); {prog.name} is {prog.type.name}")
    if (target is None) != (function is None):
        raise ValueError("give both target and function, or neither")
    if target is None:
        fd = _sys.raw_tracepoint_open(prog.fd, None)
        return Link(fd=fd, program=prog, description=f"freplace {_target_of(prog)}")
    assert function is not None
    try:
        fd = _sys.link_create_tracing(prog.fd, AttachType(0), target_fd=target.fd,
                                      target_btf_id=_btf_func_id(target, function))
    except SyscallError as exc:
        if exc.errno in _REFUSED:
            raise NotSupportedError("freplace", reason=f"BPF_LINK_CREATE answered {errno.errorcode.get(exc.errno or 0)}",
                                    alternative="use a prog array and bpf_tail_call to swap the code") from None
        raise
    return Link(fd=fd, program=prog, description=f"freplace {target.name}:{function}")


__all__ = ["fentry", "fexit", "fmod_ret", "freplace", "lsm", "require"]
