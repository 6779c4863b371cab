"""Kernel symbols from ``/proc/kallsyms``: address -> :class:`Symbol`, name -> address.

>>> from pybpf.stacks import ksym, ksymname  # doctest: +SKIP
>>> ksym(ksymname("vfs_read") + 0x12)  # doctest: +SKIP
Symbol(name='vfs_read', offset=18, module=None, address=...)

The table is read once, sorted by address, and searched with :mod:`bisect`; call
:meth:`KernelSymbols.reload` (or :func:`ksym_reload`) after a module or BPF program was
loaded. Real addresses need root (CAP_SYSLOG): otherwise, or with ``kernel.kptr_restrict=2``,
kallsyms shows zeros and the lookups raise :class:`KallsymsRestrictedError` saying so.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
import threading
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from ._symbol import UNKNOWN, KallsymsRestrictedError, StackError, Symbol

log = logging.getLogger("pybpf.stacks")

KALLSYMS = Path("/proc/kallsyms")
KPTR_RESTRICT = Path("/proc/sys/kernel/kptr_restrict")

#: kallsyms type letters of code (text, weak): the only ones an instruction pointer can be in.
TEXT_TYPES = frozenset("tTwW")
#: prefix of the position-independent aliases the kernel's early boot code is linked with
#: (``__pi__text`` is ``_text``, ``__pi_memset`` is ``memset``)
_ALIAS_PREFIX = "__pi_"


class KernelSymbol(NamedTuple):
    """One line of kallsyms: ``address``, ``type`` letter, ``name`` and ``module`` (None: vmlinux)."""

    address: int
    type: str
    name: str
    module: str | None = None


#: one kallsyms line: ``address type name`` and an optional ``[module]``
_LINE = re.compile(r"^([0-9a-fA-F]+)\s+(\S)\s+(\S+)(?:\s+\[([^\]\s]+)\])?[ \t]*$", re.M)


def parse_kallsyms(text: str) -> list[KernelSymbol]:
    """The entries of kallsyms text (``ffffffff81000000 T _stext`` / ``... t name\\t[mod]``);
    malformed lines are skipped."""
    return [KernelSymbol(int(a, 16), t, n, m or None) for a, t, n, m in _LINE.findall(text)]


class KernelSymbols:
    """The kernel's symbol table, loaded lazily from ``path`` (``/proc/kallsyms``).

    >>> ks = KernelSymbols("/proc/kallsyms")  # doctest: +SKIP
    >>> ks.lookup(ks.address_of("do_sys_openat2") + 4).format()  # doctest: +SKIP
    'do_sys_openat2+0x4'
    """

    def __init__(self, path: str | os.PathLike[str] = KALLSYMS) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, str, str]] = []
        self._addresses: list[int] = []  # text symbols, sorted
        self._text: list[tuple[str, str | None]] = []  # (name, module) of each of those
        self._by_name: dict[str, list[tuple[str, str, str, str]]] | None = None
        self._loaded = False
        self._restricted = False

    # ---- loading ---------------------------------------------------------------------

    def reload(self) -> None:
        """Read the file again (after a module or a BPF program was loaded)."""
        rows = _LINE.findall(self.path.read_text(errors="replace"))  # (hex, type, name, module) strings
        text = sorted(((int(a, 16), n, m or None) for a, t, n, m in rows if t in TEXT_TYPES), key=itemgetter(0))
        with self._lock:
            self._rows = rows
            self._text = [(n, m) for _, n, m in text]
            self._addresses = [a for a, _, _ in text]
            self._by_name = None  # built on the first name lookup
            self._restricted = bool(rows) and not any(int(a, 16) for a, _, _, _ in rows)
            self._loaded = True
        log.debug("%s: %d symbols, %d text", self.path, len(rows), len(text))

    def _named(self, name: str) -> list[KernelSymbol]:
        with self._lock:
            if self._by_name is None:
                by_name: dict[str, list[tuple[str, str, str, str]]] = {}
                for row in self._rows:
                    by_name.setdefault(row[2], []).append(row)
                self._by_name = by_name
            return [KernelSymbol(int(a, 16), t, n, m or None) for a, t, n, m in self._by_name.get(name, [])]

    def _ensure(self) -> None:
        if not self._loaded:
            self.reload()
        if self._restricted:
            raise KallsymsRestrictedError(self._restricted_message())

    def _restricted_message(self) -> str:
        try:
            level = KPTR_RESTRICT.read_text().strip()
        except OSError:
            level = "?"
        who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
        return (f"{self.path} shows only zero addresses to this process ({who}, kernel.kptr_restrict={level}): "
                "kernel addresses cannot be symbolised. Run as root (CAP_SYSLOG) with kernel.kptr_restrict <= 1 "
                "(sysctl -w kernel.kptr_restrict=1)")

    @property
    def restricted(self) -> bool:
        """True when kallsyms hides the addresses (every address reads as zero)."""
        if not self._loaded:
            self.reload()
        return self._restricted

    def __len__(self) -> int:
        self._ensure()
        return len(self._text)

    # ---- lookups ---------------------------------------------------------------------

    def lookup(self, address: int) -> Symbol:
        """The text symbol at or below ``address`` (``[unknown]`` below the first one).

        kallsyms has no sizes: an address past the end of the last function of a region
        still resolves to that function, as in bcc and perf.
        """
        self._ensure()
        i = bisect.bisect_right(self._addresses, address) - 1
        if i < 0:
            return Symbol(UNKNOWN, address, None, address)
        name, module = self._text[i]
        if name.startswith(_ALIAS_PREFIX):
            name, module = self._canonical(i)
        return Symbol(name, address - self._addresses[i], module, address)

    def _canonical(self, i: int) -> tuple[str, str | None]:
        """Symbol ``i`` is a ``__pi_`` alias: the last other name at its address, if there is one.

        Of several names at one address lookups answer the last in kallsyms order (as bcc's
        upper-bound search over an address-sorted table mostly does), except that the kernel's
        position-independent aliases (``__pi__text`` for ``_text``) give way to the real name.
        bcc, and so bpftrace, orders equal addresses with an unstable sort of the whole table, so
        its choice among aliases changes whenever any kallsyms line does (a BPF program loaded);
        only the preference for real names is reproducible.
        """
        at = self._addresses[i]
        j = i
        while j > 0 and self._addresses[j - 1] == at:
            j -= 1
            if not self._text[j][0].startswith(_ALIAS_PREFIX):
                return self._text[j]
        return self._text[i]

    def address_of(self, name: str, module: str | None = None) -> int:
        """The address of symbol ``name`` (any type); ``module`` picks one when several have it.

        Raises :class:`StackError` when no symbol has that name.
        """
        self._ensure()
        entries = self._named(name)
        if module is not None:
            entries = [e for e in entries if e.module == module]
        if not entries:
            where = f" in module {module}" if module else ""
            raise StackError(f"no kernel symbol named {name!r}{where} in {self.path}; "
                             "check the spelling, or reload() if the module was loaded since")
        text = [e for e in entries if e.type in TEXT_TYPES]
        return (text or entries)[0].address

    def symbols(self, name: str) -> list[KernelSymbol]:
        """Every entry named ``name`` (static functions may exist several times)."""
        self._ensure()
        return self._named(name)


_default: KernelSymbols | None = None
_default_lock = threading.Lock()


def kernel_symbols() -> KernelSymbols:
    """The shared table of ``/proc/kallsyms`` (read on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = KernelSymbols()
        return _default


def ksym(address: int) -> Symbol:
    """The kernel symbol of ``address``: ``Symbol(name, offset, module)``.

    >>> ksym(ksymname("vfs_read")).name  # doctest: +SKIP
    'vfs_read'
    """
    return kernel_symbols().lookup(address)


def ksymname(name: str, module: str | None = None) -> int:
    """The address of kernel symbol ``name`` (:class:`StackError` if there is none)."""
    return kernel_symbols().address_of(name, module)


def ksym_reload() -> None:
    """Read /proc/kallsyms again (new modules, new BPF programs)."""
    kernel_symbols().reload()


__all__ = ["KALLSYMS", "KernelSymbol", "KernelSymbols", "kernel_symbols", "ksym", "ksym_reload", "ksymname",
           "parse_kallsyms"]
