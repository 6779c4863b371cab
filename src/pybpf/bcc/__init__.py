"""``from pybpf.bcc import BPF``: bcc's Python API with no libbcc, no LLVM install and no kernel headers.

    >>> from pybpf.bcc import BPF                                              # doctest: +SKIP
    >>> BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\\\n"); return 0; }').trace_print()

Programs are written in bcc's C dialect (:mod:`pybpf.bcc.dialect`); tables are bcc-style
(:mod:`pybpf.bcc.tables`); ``python -m pybpf.bcc script.py`` runs a script written for bcc
(``from bcc import BPF``) unmodified.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BPF": ("pybpf.bcc.bpf", "BPF"),
    "Function": ("pybpf.bcc.bpf", "Function"),
    "USDT": ("pybpf.bcc.usdt", "USDT"),
    "USDTError": ("pybpf.bcc.usdt", "USDTError"),
    "printb": ("pybpf.bcc.utils", "printb"),
    "TableError": ("pybpf.bcc.tables", "TableError"),
    "RewriteError": ("pybpf.bcc.dialect", "RewriteError"),
}
#: submodules reachable as attributes (``import bcc.table`` then ``bcc.table.HashTable``)
_SUBMODULES = {"table": "pybpf.bcc.tables", "tables": "pybpf.bcc.tables", "utils": "pybpf.bcc.utils",
               "syscall": "pybpf.bcc.syscall", "usdt": "pybpf.bcc.usdt", "dialect": "pybpf.bcc.dialect"}

#: bcc's log2/linear histogram sizes and the bar width
LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025
STARS_MAX = 40

__all__ = ["BPF", "Function", "LINEAR_INDEX_MAX", "LOG2_INDEX_MAX", "RewriteError", "STARS_MAX", "TableError", "USDT",
           "USDTError", "printb"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    elif name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
    else:
        raise AttributeError(f"module 'pybpf.bcc' has no attribute {name!r}")
    globals()[name] = value
    return value
