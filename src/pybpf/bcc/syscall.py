"""``bcc.syscall``: syscall numbers and names of this machine's architecture.

>>> syscall_name(0) if target_machine() == "x86_64" else b"read"
b'read'
>>> syscall_name(100000)
b'[unknown: 100000]'
"""

from __future__ import annotations

import platform

from ._syscall_table import AARCH64, X86_64

#: machine name (``uname -m``) -> syscall number -> name
_TABLES: dict[str, dict[int, str]] = {"x86_64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


def target_machine() -> str:
    return platform.machine()


def _table() -> dict[int, str]:
    return _TABLES.get(target_machine(), X86_64)


#: bcc's ``syscalls`` dict: number -> name (bytes), for this architecture
syscalls: dict[int, bytes] = {nr: name.encode() for nr, name in _table().items()}


def syscall_name(syscall_num: int) -> bytes:
    """The name of syscall ``syscall_num`` (bytes, as in bcc), ``b"[unknown: N]"`` if unknown."""
    return syscalls.get(syscall_num, b"[unknown: %d]" % syscall_num)


def syscall_number(name: str | bytes) -> int:
    """The number of syscall ``name`` on this architecture; KeyError if there is none."""
    key = name.encode() if isinstance(name, str) else bytes(name)
    for nr, known in syscalls.items():
        if known == key:
            return nr
    raise KeyError(f"no syscall {key.decode(errors='replace')!r} on {target_machine()}")


__all__ = ["syscall_name", "syscall_number", "syscalls", "target_machine"]
