"""The running kernel's BTF: ``/sys/kernel/btf/vmlinux`` and the split BTF of its modules."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ..errors import BTFError
from .container import BTF

log = logging.getLogger("pybpf.btf")

SYSFS_BTF = Path("/sys/kernel/btf")

_lock = threading.Lock()
_vmlinux: BTF | None = None
_modules: dict[str, BTF] = {}


def kernel_btf() -> BTF:
    """The running kernel's BTF, read from /sys/kernel/btf/vmlinux once and cached.

    Needs a kernel built with ``CONFIG_DEBUG_INFO_BTF`` (5.4+); raises BTFError otherwise.
    """
    global _vmlinux
    with _lock:
        if _vmlinux is None:
            path = SYSFS_BTF / "vmlinux"
            if not path.exists():
                raise BTFError(
                    f"{path} does not exist: this kernel was built without CONFIG_DEBUG_INFO_BTF; "
                    "pass a BTF file explicitly (BTF.from_file) instead"
                )
            _vmlinux = BTF.from_file(path)
            log.debug("loaded kernel BTF: %d types", len(_vmlinux))
        return _vmlinux


def module_btf(name: str) -> BTF:
    """The split BTF of kernel module ``name`` (from /sys/kernel/btf/<name>) on top of vmlinux."""
    if not name or "/" in name or name in (".", ".."):
        raise BTFError(f"invalid kernel module name {name!r}")
    base = kernel_btf()
    with _lock:
        btf = _modules.get(name)
        if btf is None:
            path = SYSFS_BTF / name
            if not path.exists():
                loaded = sorted(p for p in os.listdir(SYSFS_BTF) if p != "vmlinux") if SYSFS_BTF.exists() else []
                raise BTFError(
                    f"no BTF for kernel module {name!r} ({path} does not exist); is the module loaded? "
                    f"modules with BTF: {', '.join(loaded) or 'none'}"
                )
            btf = _modules[name] = BTF.from_file(path, base=base)
        return btf
