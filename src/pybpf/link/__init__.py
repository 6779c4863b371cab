"""``pybpf.link``: attach loaded programs to their hooks, one module per hook family.

Every attach function takes the program and the required target positionally and options
as keywords, and returns a :class:`Link` (a context manager that detaches on close).
"""

from __future__ import annotations

from .base import Closeable, Link, LinkError
from .info import LinkInfo, PerfEventLinkType

__all__ = ["Closeable", "Link", "LinkError", "LinkInfo", "PerfEventLinkType"]
