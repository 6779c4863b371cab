"""The fds this test process has open (for the fd-leak checks of the kernel tests)."""

from __future__ import annotations

import os


def open_fds() -> set[str]:
    """The fd numbers this process has open now."""
    return set(os.listdir("/proc/self/fd"))
