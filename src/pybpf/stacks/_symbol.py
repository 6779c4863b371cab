"""The :class:`Symbol` record shared by kernel and user symbolisation, and the stack errors."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BPFError

#: The name given to an address no symbol covers (the spelling bcc and perf use).
UNKNOWN = "[unknown]"


@dataclass(frozen=True)
class Symbol:
    """What an address resolves to: ``name`` + ``offset`` bytes, in ``module``.

    ``module`` is a kernel module name (``"ext4"``; ``None`` for the kernel image itself) or,
    for user addresses, the path of the mapped file (``"[vdso]"``, ``"[anon]"`` for others).
    ``address`` is the address that was looked up. An unresolved address has ``name``
    ``"[unknown]"`` and ``offset`` relative to the start of its module's mapping (its file
    offset for a mapped file), so it can still be found later with ``addr2line``.

    >>> str(Symbol("vfs_read", 0x12, "ext4", 0xffffffff81234567))
    'vfs_read+0x12 [ext4]'
    >>> Symbol("main", 0, "/usr/bin/true", 0x1040).format(module=False)
    'main'
    """

    name: str
    offset: int = 0
    module: str | None = None
    address: int = 0

    @property
    def known(self) -> bool:
        """False for ``[unknown]`` (no symbol covers the address)."""
        return self.name != UNKNOWN

    def format(self, *, offset: bool = True, module: bool = True) -> str:
        """``name+0x12 [module]`` like bcc prints it; parts left out on request.

        The offset is shown only for known symbols with a non-zero offset; a special module
        already in brackets (``[vdso]``) is not bracketed again.
        """
        text = self.name
        if offset and self.known and self.offset:
            text += f"+{self.offset:#x}"
        if module and self.module:
            bracketed = self.module.startswith("[") and self.module.endswith("]")  # [vdso], [stack]
            text += f" {self.module}" if bracketed else f" [{self.module}]"
        return text

    def __str__(self) -> str:
        return self.format()


class StackError(BPFError):
    """A stack or symbol cannot be read as asked; the message says why and what to do."""


class KallsymsRestrictedError(StackError, PermissionError):
    """/proc/kallsyms shows only zero addresses (kptr_restrict, or not root)."""
