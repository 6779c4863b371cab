"""Folded stacks: the one-line-per-stack text that flame graph tools read.

Each line is ``frame;frame;frame count``, root first (the format of Brendan Gregg's
``stackcollapse`` scripts, read by ``flamegraph.pl``, speedscope, inferno...). Lines are
merged (counts of equal stacks added) and sorted.

>>> print(folded([(["bash", "main", "read"], 3), (["bash", "main"], 1), (["bash", "main", "read"], 2)]), end="")
bash;main 1
bash;main;read 5

:func:`folded_counts` builds those lines from what a profiler's BPF program counts: a map
keyed by (pid, kernel stack id, user stack id, comm) with a count per key, plus the stack map.
"""

from __future__ import annotations

import errno
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._symbol import UNKNOWN, StackError, Symbol
from .ksyms import KernelSymbols, kernel_symbols
from .stackmap import StackIdError, StackTraceMap, normalize_stack_id

if TYPE_CHECKING:
    from .usyms import ProcessSymbols

log = logging.getLogger("pybpf.stacks")

MISSED_USER = "[missed user stack]"
MISSED_KERNEL = "[missed kernel stack]"


def _clean(frame: str) -> str:
    # ';' separates frames and the last ' ' the count: neither may end up in the wrong place
    frame = frame.replace(";", ":").replace("\n", " ").replace("\r", " ").strip()
    return frame or UNKNOWN


def folded(stacks: Iterable[tuple[list[str], int]]) -> str:
    """Folded text of ``(frames, count)`` pairs; ``frames`` root first (``[comm, main, ..., leaf]``).

    Equal stacks are summed, lines sorted, each ends with a newline; counts <= 0 are left out.
    ``;`` inside a frame becomes ``:`` (it is the separator).
    """
    totals: Counter[str] = Counter()
    for frames, count in stacks:
        if count <= 0:
            continue
        totals[";".join(_clean(f) for f in frames)] += int(count)
    return "".join(f"{line} {totals[line]}\n" for line in sorted(totals))


@dataclass(frozen=True)
class StackKey:
    """What a profiler counts per sample: the process, its two stack ids and its name."""

    pid: int
    kernel_stack_id: int
    user_stack_id: int
    comm: str


_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "pid": ("pid", "tgid"),
    "kernel_stack_id": ("kernel_stack_id", "kern_stack_id", "kernstack", "kstack", "kstack_id", "kernel_stack"),
    "user_stack_id": ("user_stack_id", "ustack", "userstack", "ustack_id", "user_stack"),
    "comm": ("comm", "name", "task"),
}


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).split(b"\0", 1)[0].decode(errors="replace")
    if isinstance(value, (list, tuple)):  # char[16] decoded as a list of ints
        return _text(bytes(int(c) & 0xFF for c in value))
    return str(value)


def stack_key(key: Any) -> StackKey:
    """A count map's key as a :class:`StackKey`: a ``(pid, kstack, ustack, comm)`` tuple, or an
    object (a BTF-decoded struct) with fields named like ``pid``/``tgid``, ``kern_stack_id``/
    ``kernstack``, ``user_stack_id``/``userstack`` and ``comm``."""
    if isinstance(key, StackKey):
        return key
    if isinstance(key, tuple) and len(key) == 4:
        pid, kstack, ustack, comm = key
        return StackKey(int(pid), normalize_stack_id(kstack), normalize_stack_id(ustack), _text(comm))
    values: dict[str, Any] = {}
    for field, names in _FIELD_NAMES.items():
        for name in names:
            if isinstance(key, Mapping) and name in key:
                values[field] = key[name]
                break
            if hasattr(key, name):
                values[field] = getattr(key, name)
                break
        else:
            raise StackError(f"cannot find the {field} field in the count map's key {key!r}: name it one of "
                             f"{', '.join(names)}, or pass key=<function returning a StackKey>")
    return StackKey(int(values["pid"]), normalize_stack_id(values["kernel_stack_id"]),
                    normalize_stack_id(values["user_stack_id"]), _text(values["comm"]))


class _Frames:
    """Symbolises stack ids into frame names (root first), remembering per-stack results."""

    def __init__(self, stacks: StackTraceMap, ksyms: KernelSymbols | None,
                 processes: Mapping[int, ProcessSymbols], fmt: Callable[[Symbol], str]) -> None:
        self.stacks = stacks
        self.ksyms = ksyms
        self.processes = processes
        self.fmt = fmt
        self._kernel: dict[int, list[str]] = {}

    def _missing(self, stack_id: int, missed: str) -> list[str]:
        # -EFAULT means there was no such stack (a user-mode sample has no kernel stack, a kernel
        # thread no user stack): nothing to show. Other errors lost a stack that existed.
        return [] if stack_id == -errno.EFAULT else [missed]

    def kernel(self, stack_id: int) -> list[str]:
        if stack_id < 0:
            return self._missing(stack_id, MISSED_KERNEL)
        if stack_id not in self._kernel:
            try:
                ks = self.ksyms if self.ksyms is not None else kernel_symbols()
                names = [self.fmt(s) for s in self.stacks.kernel_stack(stack_id, symbols=ks)]
            except StackIdError:
                names = [MISSED_KERNEL]
            self._kernel[stack_id] = names[::-1]
        return self._kernel[stack_id]

    def user(self, stack_id: int, pid: int) -> list[str]:
        if stack_id < 0:
            return self._missing(stack_id, MISSED_USER)
        try:
            addresses = self.stacks.stack(stack_id)
        except StackIdError:
            return [MISSED_USER]
        try:
            from .usyms import process_symbols  # pyelftools: only for user stacks

            syms = self.processes.get(pid) or process_symbols(pid)
        except StackError as exc:
            log.debug("user stack of pid %d: %s", pid, exc)
            return [UNKNOWN] * len(addresses)
        return [self.fmt(s) for s in syms.symbolize(addresses)][::-1]


def folded_counts(
    counts: Mapping[Any, int] | Iterable[tuple[Any, int]],
    stacks: StackTraceMap,
    *,
    key: Callable[[Any], StackKey] = stack_key,
    kernel: bool = True,
    user: bool = True,
    processes: Mapping[int, ProcessSymbols] | None = None,
    kernel_symbols: KernelSymbols | None = None,
    offsets: bool = False,
    modules: bool = False,
    kernel_suffix: str = "",
    delimiter: str | None = None,
) -> str:
    """Folded lines of a profiler's counts: ``comm;user frames;kernel frames count``.

    ``counts`` maps (or yields pairs of) keys like ``(pid, kernel stack id, user stack id,
    comm)`` -- see :func:`stack_key` -- to sample counts; ``stacks`` is the stack map the ids
    refer to. ``processes`` gives :class:`ProcessSymbols` snapshots for pids that may have
    exited (others are read now). ``kernel_suffix="_[k]"`` marks kernel frames the way
    ``stackcollapse-perf --all`` does, ``delimiter="-"`` puts a frame between user and kernel
    frames as bcc's ``profile -d`` does. A stack lost by the helper (-EEXIST, -ENOMEM) shows
    as ``[missed user stack]`` / ``[missed kernel stack]``.

        >>> print(folded_counts(obj.maps["counts"], StackTraceMap(obj.maps["stacks"])))  # doctest: +SKIP
        target;main;level1;level2;level3;entry_SYSCALL_64_after_hwframe;do_syscall_64;... 42
    """
    def fmt(sym: Symbol) -> str:
        return sym.format(offset=offsets, module=modules)

    frames = _Frames(stacks, kernel_symbols, processes or {}, fmt)
    items = counts.items() if isinstance(counts, Mapping) else counts
    lines: list[tuple[list[str], int]] = []
    for raw_key, count in items:
        k = key(raw_key)
        line = [k.comm]
        if user:
            line.extend(frames.user(k.user_stack_id, k.pid))
        if kernel:
            kframes = frames.kernel(k.kernel_stack_id)
            if delimiter is not None and kframes and len(line) > 1:
                line.append(delimiter)
            line.extend(f + kernel_suffix for f in kframes)
        lines.append((line, int(count)))
    return folded(lines)


__all__ = ["MISSED_KERNEL", "MISSED_USER", "StackKey", "folded", "folded_counts", "stack_key"]
