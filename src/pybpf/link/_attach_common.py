"""Steps the hook families share: the section a program came from, the attach type to use,
and undoing a BPF_PROG_ATTACH attachment (cgroup, sockmap)."""

from __future__ import annotations

import errno
import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from .. import _sys
from ..elf.sections import SectionDef, parse_section_name
from ..enums import AttachType, ProgramType
from ..errors import BPFError, SyscallError

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")


def program_section(prog: Program) -> SectionDef | None:
    """What the program's ELF section names (``SEC("cgroup/connect4")`` ...), or None when unknown."""
    spec = getattr(prog, "spec", None)
    return parse_section_name(spec.section) if spec is not None else None


def choose_attach_type(prog: Program, attach_type: AttachType | None, hooks: Mapping[AttachType, ProgramType],
                       defaults: Mapping[ProgramType, AttachType], *, hook: str, example: str) -> AttachType:
    """``attach_type`` when given; else the section's when it is one of ``hooks``; else the
    default for the program's type. Raises :class:`BPFError` asking for it (``example``) when
    none of these says which ``hook`` to use."""
    if attach_type is not None:
        return AttachType(attach_type)
    sec = program_section(prog)
    if sec is not None and sec.attach_type is not None and sec.attach_type in hooks:
        return sec.attach_type
    default = defaults.get(prog.type)
    if default is None:
        raise BPFError(f"program {prog.name} ({prog.type.name}): say which {hook} hook, e.g. {example}")
    return default


def prog_detach_quietly(target_fd: _sys.FD, attach_type: AttachType, prog_fd: _sys.FD, *,
                        gone: Collection[int] = (errno.ENOENT,), what: str) -> None:
    """BPF_PROG_DETACH ``prog_fd`` from ``target_fd``, then close both fds.

    An errno in ``gone`` means someone else already detached or replaced it: logged, not raised.
    """
    try:
        _sys.prog_detach(target_fd, attach_type, prog_fd=prog_fd)
    except SyscallError as exc:
        if exc.errno not in gone:
            raise
        log.debug("%s program already detached: %s", what, exc)
    finally:
        prog_fd.close()
        target_fd.close()
