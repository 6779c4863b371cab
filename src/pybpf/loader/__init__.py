"""The kernel load pipeline: an ObjectSpec into live maps and programs (see :mod:`.pipeline`)."""

from __future__ import annotations

from .pipeline import load_spec

__all__ = ["load_spec"]
