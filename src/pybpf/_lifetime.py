"""``Finalized``: the close-once lifetime shared by pybpf's resource objects.

A subclass sets ``self._finalizer = weakref.finalize(self, release, ...)`` in ``__init__``; the
mixin gives it ``close()`` (runs the release once), ``closed`` and the context-manager protocol.
The finalizer is also the backstop that releases an object nobody closed (ARCHITECTURE rule 4).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self


def nothing_to_release() -> None:
    """The release of an object that owns no OS resource (a VM's map or program): close() only marks it."""


class Finalized:
    """Mixin for objects whose resources a ``weakref.finalize`` in ``_finalizer`` releases."""

    _finalizer: weakref.finalize[..., Any]

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run (or the finalizer did)."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Release what this object owns (fds, mappings); later calls do nothing."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
