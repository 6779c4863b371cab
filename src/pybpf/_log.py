"""Loggers that import :mod:`logging` on their first use.

``logging`` brings ``threading``, ``traceback``, ``string`` and ``textwrap`` (~3 ms), and the
modules a ``pybpf trace`` start-up needs only log when something unusual happens; so they hold
a :class:`LazyLogger` instead of the logger itself. It is the same named logger
(``logging.getLogger(name)``): handlers, levels and ``caplog`` see no difference. A debug or
info message logged while nothing has imported ``logging`` is dropped without importing it:
no handler or level can exist yet, and the root logger's default level (WARNING) would drop it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not ``typing``'s: importing it costs ~8 ms of a ``pybpf trace`` start-up
if TYPE_CHECKING:
    from typing import Any

#: the levels the root logger drops until someone sets logging up (its default level is WARNING)
_DROPPED_UNCONFIGURED = frozenset({"debug", "info"})


def _dropped(*args: Any, **kwargs: Any) -> None:
    """A debug or info message while :mod:`logging` is not imported: nothing could show it."""


class LazyLogger:
    """``logging.getLogger(name)``, fetched on the first attribute access; each method looked
    up is then kept on the instance, so later calls cost what a plain logger's do."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        if attr in _DROPPED_UNCONFIGURED and "logging" not in sys.modules:
            return _dropped  # not kept: once logging is imported (and perhaps configured) it decides
        import logging

        value = getattr(logging.getLogger(self.name), attr)
        if callable(value):
            self.__dict__[attr] = value  # bound to the real logger: levels set later still apply
        return value

    def __repr__(self) -> str:
        return f"<LazyLogger {self.name}>"


def get_logger(name: str) -> Any:
    """The logger ``name`` (typed ``Any``: it answers as :class:`logging.Logger` does)."""
    return LazyLogger(name)
