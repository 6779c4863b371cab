"""CPU counts the bpf() ABI depends on (per-CPU map value sizes)."""

from __future__ import annotations

import functools

from ..errors import BPFError

_POSSIBLE = "/sys/devices/system/cpu/possible"


def parse_cpu_list(text: str) -> list[int]:
    """Parse a kernel CPU list such as ``"0-3,8,10-11"``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


@functools.cache
def possible_cpus() -> int:
    """Number of possible CPUs: per-CPU map values hold one slot per possible CPU."""
    try:
        with open(_POSSIBLE) as f:
            return max(parse_cpu_list(f.read())) + 1
    except (OSError, ValueError) as exc:
        raise BPFError(f"cannot read {_POSSIBLE} ({exc}); is /sys mounted?") from exc


def percpu_value_size(value_size: int) -> int:
    """Bytes a per-CPU lookup returns for a ``value_size`` value: each CPU slot is 8-aligned."""
    return ((value_size + 7) & ~7) * possible_cpus()
