"""``pybpf.stacks``: stack trace maps, kernel and user symbols, folded stacks for flame graphs.

>>> from pybpf.stacks import StackTraceMap, ProcessSymbols, ksym, folded_counts  # doctest: +SKIP
>>> stacks = StackTraceMap(obj.maps["stacks"])  # doctest: +SKIP
>>> [str(s) for s in stacks.kernel_stack(kstack_id)]          # kallsyms  # doctest: +SKIP
['bpf_prog_6bd0381c400d7507_on_sys_enter+0x51 [bpf]', 'bpf_trace_run2+0xf2', '__bpf_trace_sys_enter+0xc',
 'syscall_trace_enter+0x180', 'do_syscall_64+0x1fa', 'entry_SYSCALL_64_after_hwframe+0x76']
>>> snapshot = ProcessSymbols(pid)                             # /proc/PID/maps, now  # doctest: +SKIP
>>> [s.name for s in stacks.user_stack(ustack_id, snapshot)]   # ELF .symtab/.dynsym  # doctest: +SKIP
['level3', 'level2', 'level1', 'main', '__libc_start_call_main']
>>> open("out.folded", "w").write(folded_counts(obj.maps["counts"], stacks))  # doctest: +SKIP

Modules: :mod:`.stackmap` (StackTraceMap, build ids, stack id errors), :mod:`.ksyms`
(kallsyms), :mod:`.usyms` (processes), :mod:`.elfsyms` (ELF files), :mod:`.folded`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._symbol import UNKNOWN, KallsymsRestrictedError, StackError, Symbol
from .folded import StackKey, folded, folded_counts, stack_key
from .ksyms import KernelSymbols, kernel_symbols, ksym, ksym_reload, ksymname
from .stackmap import (
    BuildIdFrame, BuildIdIndex, BuildIdStatus, StackIdError, StackTraceMap, check_stack_id, stack_id_error,
)

if TYPE_CHECKING:
    from .elfsyms import ElfSymbols, elf_symbols, read_build_id
    from .usyms import Mapping, ProcessSymbols, parse_maps, process_symbols, sym, usym

#: name -> submodule, imported on first use: ELF symbols need pyelftools, which a tracer that
#: reads only kernel stacks (or none) does not pay for
_LAZY = {
    **dict.fromkeys(("ElfSymbols", "elf_symbols", "read_build_id"), ".elfsyms"),
    **dict.fromkeys(("Mapping", "ProcessSymbols", "parse_maps", "process_symbols", "sym", "usym"), ".usyms"),
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "UNKNOWN", "BuildIdFrame", "BuildIdIndex", "BuildIdStatus", "ElfSymbols", "KallsymsRestrictedError",
    "KernelSymbols", "Mapping", "ProcessSymbols", "StackError", "StackIdError", "StackKey", "StackTraceMap", "Symbol",
    "check_stack_id", "elf_symbols", "folded", "folded_counts", "kernel_symbols", "ksym", "ksym_reload", "ksymname",
    "parse_maps", "process_symbols", "read_build_id", "stack_id_error", "stack_key", "sym", "usym",
]
