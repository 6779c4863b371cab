"""BPF_PROG_LOAD of one relocated program: attrs from the spec, the verifier's verdict."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import _sys
from .._log import get_logger
from ..enums import AttachType, ProgramFlags, ProgramType
from ..errors import BPFError, MissingPrivilegeError, NotSupportedError, VerifierError
from ..isa import Instruction, encode
from ..program import Program
from ..spec import ProgramSpec
from .attach import attach_btf_id, check_loadable
from .source import source_line

if TYPE_CHECKING:
    from ..btf import BTF

log = get_logger("pybpf.loader")

FUNC_INFO_REC_SIZE = 8  # sizeof(struct bpf_func_info)
LINE_INFO_REC_SIZE = 16  # sizeof(struct bpf_line_info)


#: Attach types whose programs run through a BPF trampoline (ftrace direct calls).
TRAMPOLINE_ATTACH = frozenset({
    AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.LSM_MAC,
    AttachType.LSM_CGROUP,
})


class ProgramLoadError(BPFError):
    """A program cannot be handed to the kernel as the object describes it."""


def load_program(
    prog: ProgramSpec,
    insns: list[Instruction],
    *,
    license: str,
    btf: BTF | None,
    btf_fd: _sys.FdLike | None,
    kernel: BTF | Callable[[], BTF],
    fd_array: list[int] | None = None,
    log_level: int = 0,
    attach: tuple[int, int] | None = None,
    packed_info: tuple[bytes, bytes] | None = None,
) -> Program:
    """Load ``prog`` (its already relocated ``insns``) and wrap the fd in a :class:`Program`.

    A rejection raises :class:`VerifierError` whose message names the program and the C
    source line of the failing instruction (from the program's BTF line info). ``attach``
    overrides ``(attach_btf_id, expected_attach_type)`` (struct_ops members). ``packed_info``:
    the program's func and line info records already packed (a prepared BTF, see
    :mod:`.prepared`), used with ``btf_fd`` instead of packing them from ``btf``.
    """
    if prog.type == ProgramType.UNSPEC:
        raise ProgramLoadError(
            f"program {prog.name!r}: section {prog.section!r} does not say what type of program it is; "
            "use a known SEC() name or set spec.programs[name].type before loading")
    check_loadable(prog, attach is not None)
    func_info: bytes | None = None
    line_info: bytes | None = None
    if packed_info is not None:
        with_btf = btf_fd is not None
        func_info, line_info = (packed_info[0] or None, packed_info[1] or None) if with_btf else (None, None)
    else:
        with_btf = btf is not None and btf_fd is not None
        if with_btf and btf is not None and (prog.func_info or prog.line_info):
            from ..btf.ext import pack_func_info, pack_line_info

            func_info = pack_func_info(prog.func_info) if prog.func_info else None
            line_info = pack_line_info(prog.line_info, btf) if prog.line_info else None
    flags = ProgramFlags(prog.flags) | (ProgramFlags.SLEEPABLE if prog.sleepable else ProgramFlags.NONE)
    expected: AttachType | int = prog.expected_attach_type if prog.expected_attach_type is not None else 0
    btf_id = attach_btf_id(prog, kernel)
    if attach is not None:
        btf_id, expected = attach
    from .kconfig import kernel_version_code  # .kconfig support is imported only when used (see pipeline)

    try:
        loaded = _sys.prog_load_logged(
            prog.type, encode(insns), prog.license or license or "",
            name=prog.name, log_level=log_level, kern_version=prog.kernel_version or kernel_version_code(),
            flags=flags, expected_attach_type=expected, btf_fd=btf_fd if with_btf else None,
            func_info=func_info, func_info_rec_size=FUNC_INFO_REC_SIZE,
            line_info=line_info, line_info_rec_size=LINE_INFO_REC_SIZE,
            attach_btf_id=btf_id,
            fd_array=fd_array if fd_array and len(fd_array) > 1 else None,
        )
    except MissingPrivilegeError as exc:
        if prog.expected_attach_type in TRAMPOLINE_ATTACH and os.geteuid() == 0:
            raise NotSupportedError(
                f"{prog.section.split('/')[0]} programs ({prog.name!r})",
                reason="the kernel refused the program with EPERM although we run as root: fentry/fexit/"
                       "LSM programs (BPF trampolines) are not allowed here (by a security module, or the "
                       "kernel lacks CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)",
                alternative=_trampoline_alternative(prog),
            ) from exc
        raise
    except VerifierError as exc:
        where = source_line(exc.log, prog.line_info)
        raise VerifierError(f"BPF_PROG_LOAD {prog.name}", exc.errno or 0, exc.log, source_line=where) from None
    log.debug("loaded program %s (%s, %d insns)", prog.name, prog.type.name, len(insns))
    return Program(loaded.fd, name=prog.name, type=prog.type, log=loaded.log)


def _trampoline_alternative(prog: ProgramSpec) -> str:
    """What to use instead of a refused fentry/fexit/fmod_ret/LSM program: the tracepoints covering it."""
    generic = "use a kprobe, or a tp_btf/raw_tp tracepoint, instead"
    if prog.expected_attach_type == AttachType.LSM_MAC or not prog.attach_to:
        return generic
    from ..link.alternatives import alternative_text  # the error path only: keeps link out of load's imports

    return alternative_text(prog.attach_to, retprobe=prog.expected_attach_type == AttachType.TRACE_FEXIT)
