"""IFUNC symbols (glibc's ``strlen``, ``memcpy``...): a uprobe on the symbol would sit on its
resolver, which runs once at load time. Like bcc, probe the implementation the resolver picks
on this machine instead: ``dlsym`` in this process returns it; ``dladdr`` turns it back into an
address in the library file."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

log = logging.getLogger("pybpf.bcc")


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


class _QuietIfunc(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is an IFUNC" not in record.getMessage()


def _symbol(path: str, name: str) -> Any:
    from ..link._uprobe_resolve import BinaryImage

    quiet = _QuietIfunc()
    link_log = logging.getLogger("pybpf.link")
    link_log.addFilter(quiet)
    try:
        return BinaryImage.open(path).lookup(name)
    finally:
        link_log.removeFilter(quiet)


def resolve_ifunc(binary: str, name: str) -> int | None:
    """The address in ``binary`` (a shared library) of the implementation IFUNC ``name``
    resolves to here; None when ``name`` is not an IFUNC (or cannot be resolved)."""
    from ..errors import BPFError
    from ..link._uprobe_resolve import find_library

    try:
        path = find_library(binary)
        sym = _symbol(path, name)
    except (BPFError, OSError):
        return None
    if not sym.ifunc or ".so" not in path.rsplit("/", 1)[-1]:
        return None
    try:
        lib = ctypes.CDLL(path)
        impl = ctypes.cast(getattr(lib, sym.name), ctypes.c_void_p).value
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        info = _DlInfo()
        if not impl or not libc.dladdr(ctypes.c_void_p(impl), ctypes.byref(info)) or not info.dli_fbase:
            return None
    except (OSError, AttributeError):
        return None
    address = impl - int(info.dli_fbase)
    impl_name = info.dli_sname.decode() if info.dli_sname else f"{address:#x}"
    log.info("%s: %s is an IFUNC: probing the implementation it resolves to here, %s at %#x",
             path, name, impl_name, address)
    return address


__all__ = ["resolve_ifunc"]
