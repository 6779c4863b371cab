"""``.kconfig`` externs: values from the running kernel's build configuration.

``extern int CONFIG_HZ __kconfig;`` is filled from ``/proc/config.gz`` (or
``/boot/config-$(uname -r)``); a few names are computed by the loader, as libbpf does:
``LINUX_KERNEL_VERSION`` (``KERNEL_VERSION(a, b, c)`` of the running kernel),
``LINUX_HAS_SYSCALL_WRAPPER`` and ``LINUX_HAS_BPF_COOKIE``. A ``kconfig=`` mapping given to
:func:`pybpf.load` overrides anything read from the system.

Values are encoded by the extern's BTF type: ``bool``/``char`` for tristates (``y`` -> 1,
``m`` -> 2, ``n`` -> 0), integers of any size, and char arrays for strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from .._log import get_logger
from ..errors import BPFError
from ..spec import ExternKind, ExternSpec, MapSpec

if TYPE_CHECKING:
    from ..btf import BTF

log = get_logger("pybpf.loader")

#: Where the kernel configuration is looked for, in order ("{release}" is ``uname -r``).
CONFIG_PATHS = ("/proc/config.gz", "/boot/config-{release}")

_TRISTATE = {"y": 1, "m": 2, "n": 0}
_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


class KconfigError(BPFError):
    """A ``__kconfig`` extern cannot be given a value."""


def parse_config(text: str) -> dict[str, str]:
    """``CONFIG_X=value`` lines (and ``# CONFIG_X is not set`` as ``n``) of a kernel .config."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if m := _LINE.match(line):
            out[m.group(1)] = m.group(2)
        elif m := _UNSET.match(line):
            out[m.group(1)] = "n"
    return out


@lru_cache(maxsize=1)
def system_config() -> dict[str, str]:
    """The running kernel's configuration (empty, with a debug message, when none is found)."""
    release = os.uname().release
    for pattern in CONFIG_PATHS:
        path = pattern.format(release=release)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if path.endswith(".gz"):
            import gzip

            raw = gzip.decompress(raw)
        return parse_config(raw.decode(errors="replace"))
    log.debug("no kernel configuration found in %s", ", ".join(CONFIG_PATHS))
    return {}


def kernel_version_code(release: str | None = None) -> int:
    """``KERNEL_VERSION(a, b, c)`` of ``release`` (default: the running kernel); c saturates at 255."""
    release = release if release is not None else os.uname().release
    nums = [int(x) for x in re.findall(r"\d+", release.split("-", 1)[0])[:3]]
    a, b, c = (nums + [0, 0, 0])[:3]
    return (a << 16) + (b << 8) + min(c, 255)


def _has_syscall_wrapper() -> str:
    from ..btf import Kind, kernel_btf

    try:
        found = kernel_btf().find("__x64_sys_getpid", Kind.FUNC) or kernel_btf().find("__arm64_sys_getpid", Kind.FUNC)
    except BPFError:
        return "y"
    return "y" if found else "n"


#: Values the loader computes itself (name -> function of nothing).
COMPUTED: dict[str, Callable[[], str]] = {
    "LINUX_KERNEL_VERSION": lambda: str(kernel_version_code()),
    "LINUX_HAS_SYSCALL_WRAPPER": _has_syscall_wrapper,
    "LINUX_HAS_BPF_COOKIE": lambda: "y",
}


def _encode(btf: BTF, ext: ExternSpec, raw: str) -> bytes:
    """The bytes of one kconfig value as the extern's type lays it out."""
    from ..btf import Array, Enum, Enum64, Int, IntEncoding  # kernel_version_code's users need none of it

    tid = btf.resolve(ext.type_id)
    t = btf[tid]
    size = ext.size
    if isinstance(t, Array):
        text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
        data = text.encode()[: size - 1]
        return data + bytes(size - len(data))
    if raw in _TRISTATE:
        value = _TRISTATE[raw]
        if isinstance(t, Int) and t.encoding & IntEncoding.BOOL and value == 2:
            raise KconfigError(f"{ext.name} is 'm' (a module), which a bool extern cannot hold; declare it "
                               "as enum libbpf_tristate or char")
        return value.to_bytes(size, "little")
    if raw.startswith('"'):
        raise KconfigError(f"{ext.name} is the string {raw}; declare the extern as a char array")
    try:
        value = int(raw, 0)
    except ValueError:
        raise KconfigError(f"{ext.name}={raw} is not a number, tristate or string") from None
    signed = isinstance(t, (Int, Enum, Enum64)) and bool(getattr(t, "signed", False))
    try:
        return value.to_bytes(size, "little", signed=signed or value < 0)
    except OverflowError:
        raise KconfigError(f"{ext.name}={raw} does not fit in the extern's {size} bytes") from None


def fill_kconfig(kmap: MapSpec, externs: Mapping[str, ExternSpec], btf: BTF,
                 config: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None) -> MapSpec:
    """A copy of the ``.kconfig`` map spec with every ``__kconfig`` extern's value written in.

    A value missing from the configuration is an error for a strong extern and 0 for a
    ``__weak`` one.
    """
    config = system_config() if config is None else config
    out = kmap.copy()
    data = bytearray(kmap.value_size)
    for ext in externs.values():
        if ext.kind != ExternKind.KCONFIG:
            continue
        raw: str | None
        if overrides and ext.name in overrides:
            v = overrides[ext.name]
            raw = ("y" if v else "n") if isinstance(v, bool) else str(v)
        elif ext.name in COMPUTED:
            raw = COMPUTED[ext.name]()
        else:
            raw = config.get(ext.name)
        if raw is None:
            if not ext.weak:
                raise KconfigError(
                    f"the kernel configuration has no {ext.name}; declare the extern __weak to get 0, "
                    f"or pass kconfig={{{ext.name!r}: ...}} to pybpf.load")
            continue
        data[ext.offset:ext.offset + ext.size] = _encode(btf, ext, raw)
    out.data = data
    return out
