"""The pybpf exception hierarchy.

Every error pybpf raises derives from :class:`BPFError`; each says what happened and,
where there is one, what to do about it.
"""

from __future__ import annotations

import errno as _errno
import os


class BPFError(Exception):
    """Root of every pybpf error."""


class FormatError(BPFError, ValueError):
    """Input bytes (ELF, BTF, instructions) are malformed."""


class ELFError(FormatError):
    """An ELF object is malformed or is not an eBPF object."""


class BTFError(FormatError):
    """BTF or .BTF.ext data is malformed, or a type lookup failed."""


class InstructionError(FormatError):
    """Raw instruction bytes cannot be decoded."""


class AssemblerError(BPFError, ValueError):
    """Assembly text cannot be parsed; carries the line number."""

    def __init__(self, message: str, *, line: int | None = None, text: str | None = None) -> None:
        self.line = line
        self.text = text
        where = f"line {line}: " if line is not None else ""
        shown = f"\n    {text.strip()}" if text else ""
        super().__init__(f"{where}{message}{shown}")


class VariableEncodingError(BPFError, TypeError):
    """A global variable cannot be encoded: it has no BTF type, so only bytes can be assigned."""


class CORError(BPFError):
    """A required CO-RE relocation cannot be satisfied against the target BTF."""


class CompileError(BPFError):
    """The C compiler failed; ``diagnostics`` holds its messages (file:line: ...)."""

    def __init__(
        self,
        message: str,
        *,
        diagnostics: str = "",
        command: list[str] | None = None,
        messages: list[object] | None = None,
    ) -> None:
        self.diagnostics = diagnostics
        self.command = command or []
        #: the diagnostics parsed into ``pybpf.cc.Diagnostic`` records (file, line, column, ...)
        self.messages = list(messages or [])
        super().__init__(f"{message}\n{diagnostics}".rstrip())


class CompilerNotFoundError(CompileError):
    """No C compiler with the BPF target is available."""


class NotSupportedError(BPFError):
    """The running kernel lacks a feature; the message names the alternative."""

    def __init__(self, feature: str, *, reason: str = "", alternative: str = "") -> None:
        self.feature = feature
        self.reason = reason
        self.alternative = alternative
        text = f"{feature} is not supported by this kernel"
        if reason:
            text += f" ({reason})"
        if alternative:
            text += f"; {alternative}"
        super().__init__(text)


class SyscallError(BPFError, OSError):
    """A system call failed; names the command and keeps ``errno``."""

    def __init__(self, command: str, err: int, detail: str = "") -> None:
        self.command = command
        name = _errno.errorcode.get(err, str(err))
        text = f"{command} failed: {name} ({os.strerror(err)})"
        if detail:
            text += f": {detail}"
        OSError.__init__(self, err, text)
        self.args = (text,)

    def __str__(self) -> str:
        return str(self.args[0])


class MissingPrivilegeError(SyscallError):
    """EPERM/EACCES: a privilege is missing; the message names the capability."""

    def __init__(self, command: str, err: int, detail: str = "", *, capabilities: tuple[str, ...] = ()) -> None:
        self.capabilities = capabilities
        super().__init__(command, err, detail)


class BTFLoadError(SyscallError):
    """The kernel refused a BTF blob (BPF_BTF_LOAD); keeps the kernel's whole BTF log."""

    def __init__(self, command: str, err: int, log: str, *, tail: int = 10) -> None:
        self.log = log
        lines = [ln for ln in log.splitlines() if ln.strip()]
        super().__init__(command, err, "the kernel rejected the BTF:\n" + "\n".join(lines[-tail:]))


class VerifierError(SyscallError):
    """The kernel verifier rejected a program; keeps the whole log."""

    def __init__(self, command: str, err: int, log: str, *, source_line: str = "", tail: int = 20) -> None:
        self.log = log
        self.source_line = source_line
        lines = [ln for ln in log.splitlines() if ln.strip()]
        shown = "\n".join(lines[-tail:])
        detail = "verifier rejected the program"
        if source_line:
            detail += f" at {source_line}"
        super().__init__(command, err, f"{detail}\n{shown}")


class MapError(BPFError):
    """A map operation cannot be done as asked."""


class MapEncodingError(MapError, ValueError):
    """A key or value does not fit the map: wrong size, or not encodable as its BTF type."""


class MapOperationError(MapError, TypeError):
    """The operation does not exist for this kind of map (e.g. ``del`` on an ARRAY, ``push`` on a HASH)."""


class MapFullError(SyscallError, MapError):
    """E2BIG on insert: the map already holds ``max_entries`` elements."""

    def __init__(self, command: str, err: int, detail: str = "", *, max_entries: int = 0) -> None:
        self.max_entries = max_entries
        super().__init__(command, err, detail)


class PinMismatchError(MapError):
    """A map pinned at ``path`` is not compatible with the map being loaded.

    ``mismatches`` maps each differing property to ``(pinned, wanted)``.
    """

    def __init__(self, path: str, mismatches: dict[str, tuple[object, object]]) -> None:
        self.path = path
        self.mismatches = mismatches
        diffs = ", ".join(f"{k} is {p} but the object wants {w}" for k, (p, w) in mismatches.items())
        super().__init__(
            f"the map pinned at {path} is not compatible: {diffs}; "
            f"remove the pin (rm {path}) or load with a different pin_path"
        )
