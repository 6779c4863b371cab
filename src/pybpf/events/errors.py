"""Errors of the event readers."""

from __future__ import annotations

from ..errors import BPFError


class EventsError(BPFError):
    """An event reader cannot be set up or used as asked; the message says what to do."""


class RecordTypeError(EventsError, TypeError):
    """A record type cannot be turned into a numpy dtype, or a record does not match it."""


class RingBufferFullError(EventsError):
    """A user ring buffer has no room for the record; let the BPF side drain it and retry."""
