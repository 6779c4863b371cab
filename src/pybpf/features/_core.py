"""What every probe shares: the result type, the per-process cache, and the failure classifier.

A probe is a function returning a :class:`FeatureResult`. :func:`cached` runs it at most
once per process for a given key (``clear_cache`` forgets every answer, for tests). The
classifier turns what the kernel said (errno, verifier log, capabilities of this process,
kernel configuration) into the ``reason`` a user reads.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .._sys.syscall import ENOTSUPP as ENOTSUPP  # re-exported to the probes
from ..errors import BPFError, SyscallError, VerifierError

log = logging.getLogger("pybpf.features")



@dataclass(frozen=True)
class FeatureResult:
    """One answer: is it supported, why (not), and the first mainline kernel that has it.

    ``bool(result)`` is ``supported``.
    """

    supported: bool
    reason: str
    min_kernel: str

    def __bool__(self) -> bool:
        return self.supported


class UnknownFeatureError(BPFError, KeyError):
    """A feature, helper or attach kind name pybpf has no probe for."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown feature"


def yes(reason: str, min_kernel: str) -> FeatureResult:
    """A supported result."""
    return FeatureResult(True, reason, min_kernel)


def no(reason: str, min_kernel: str) -> FeatureResult:
    """An unsupported result (``reason`` says why)."""
    return FeatureResult(False, reason, min_kernel)


# --- the cache ------------------------------------------------------------------------------

_lock = threading.RLock()
_cache: dict[Hashable, FeatureResult] = {}


def cached(key: Hashable, probe: Callable[[], FeatureResult], *, min_kernel: str = "") -> FeatureResult:
    """``probe()`` the first time ``key`` is asked for in this process, the stored answer after.

    A probe that raises a :class:`BPFError` or ``OSError`` it did not classify itself becomes
    an unsupported result carrying the error text and ``min_kernel`` (and is cached too: it is
    the kernel's answer).
    """
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
        try:
            result = probe()
        except (BPFError, OSError) as exc:
            log.debug("probe %r raised %r", key, exc)
            result = no(describe_error(exc), min_kernel)
        log.debug("probe %r: %s", key, result)
        _cache[key] = result
        return result


def clear_cache() -> None:
    """Forget every probed answer (the next question probes the kernel again)."""
    with _lock:
        _cache.clear()


def cache_size() -> int:
    """How many answers are cached."""
    with _lock:
        return len(_cache)


# --- describing what the kernel said ---------------------------------------------------------

#: Log lines that carry no reason (statistics the verifier always prints).
_NOISE = re.compile(r"^(processed \d+ insns|verification time|stack depth|\d+: |func#\d+|mark_precise|last_idx)")


def errno_name(err: int) -> str:
    """``EPERM``, ``ENOTSUPP``, ... for an errno value."""
    if err == ENOTSUPP:
        return "ENOTSUPP"
    return errno.errorcode.get(err, f"errno {err}")


def log_reason(text: str) -> str:
    """The verifier log line(s) that say why it refused (statistics and instruction dumps dropped)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln.strip())]
    return "; ".join(lines[-2:])


def capabilities() -> set[str]:
    """The effective capabilities of this process, by name (from /proc/self/status)."""
    names = {21: "CAP_SYS_ADMIN", 38: "CAP_PERFMON", 39: "CAP_BPF", 12: "CAP_NET_ADMIN"}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    mask = int(line.split()[1], 16)
                    return {name for bit, name in names.items() if mask >> bit & 1}
    except OSError:
        pass
    return set()


def eperm_reason(what: str) -> str:
    """Why ``what`` got EPERM: a missing capability, or (when none is missing) the kernel's policy."""
    caps = capabilities()
    missing = sorted({"CAP_BPF", "CAP_PERFMON"} - caps) if "CAP_SYS_ADMIN" not in caps else []
    if missing:
        return f"{what} failed with EPERM: this process lacks {' and '.join(missing)} (run as root)"
    return (
        f"{what} failed with EPERM and an empty verifier log although this process has "
        f"{', '.join(sorted(caps & {'CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN'}))}: the kernel refuses "
        "it before the verifier runs (no BPF trampoline for this kernel, or a security policy such as lockdown)"
    )


def describe_error(exc: BaseException, what: str = "") -> str:
    """A one-line reason from a pybpf or OS error: errno name, and the verifier's words if any."""
    err = getattr(exc, "errno", None) or 0
    prefix = f"{what} failed with " if what else ""
    if isinstance(exc, VerifierError):
        return f"{prefix}{errno_name(err)}; verifier: {log_reason(exc.log) or '(empty log)'}"
    if isinstance(exc, SyscallError) and err == errno.EPERM:
        return eperm_reason(what or exc.args[0].split(" failed", 1)[0])
    if err:
        return f"{prefix}{errno_name(err)} ({os.strerror(err) if err != ENOTSUPP else 'not supported'})"
    return f"{prefix}{exc}"


# --- kernel configuration -------------------------------------------------------------------


def config_note(option: str | None) -> str:
    """``"CONFIG_X is off"`` / ``"CONFIG_X=y"`` from the running kernel's config, or ``""`` if unknown."""
    if not option:
        return ""
    from ..loader.kconfig import system_config  # lazy: the loader may itself ask for features

    try:
        value = system_config().get(option)
    except BPFError:  # pragma: no cover - a corrupt config file
        return ""
    if value is None:
        return f"{option} is off" if system_config() else ""  # absent from .config: not set
    return f"{option} is off" if value == "n" else f"{option}={value}"


def config_off(option: str | None) -> bool:
    """True when the kernel config is known and says ``option`` is not set."""
    if not option:
        return False
    from ..loader.kconfig import system_config

    cfg = system_config()
    return bool(cfg) and cfg.get(option, "n") == "n"
