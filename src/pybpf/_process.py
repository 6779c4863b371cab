"""``pid_alive``: whether a process exists (for leftovers of exited tracers, and ``-p PID`` sessions)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (one owned by another user counts: signal 0 answers EPERM)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
