"""Errors of the bpftrace-language front end, shown the way bpftrace shows them::

    stdin:1:21-22: ERROR: syntax error, unexpected }, expecting ) or ","
    BEGIN { printf("hi" }
                        ~
"""

from __future__ import annotations

from ..errors import BPFError
from .points import NO_SPAN, Span


def render(message: str, span: Span, source: str, filename: str) -> str:
    """``file:line:col-end: ERROR: message``, the source line and a ``~`` underline."""
    if span == NO_SPAN or span.line <= 0:
        return f"{filename}: ERROR: {message}"
    lines = source.splitlines()
    text = lines[span.line - 1] if span.line <= len(lines) else ""
    end = span.end_col if span.end_line == span.line else len(text) + 1
    end = max(end, span.col + 1)
    head = f"{filename}:{span.line}:{span.col}-{end}: ERROR: {message}"
    marker = " " * (span.col - 1) + "~" * (end - span.col)
    return f"{head}\n{text}\n{marker}"


class TraceError(BPFError):
    """A bpftrace-language program is wrong; ``span`` says where, ``message`` says what."""

    def __init__(self, message: str, span: Span = NO_SPAN, *, source: str = "", filename: str = "stdin") -> None:
        self.message = message
        self.span = span
        self.source = source
        self.filename = filename
        super().__init__(render(message, span, source, filename))

    @property
    def line(self) -> int:
        """1-based line of the error (0 when unknown)."""
        return self.span.line

    @property
    def col(self) -> int:
        """1-based column of the error (0 when unknown)."""
        return self.span.col


class TraceSyntaxError(TraceError):
    """The program cannot be tokenized or parsed."""


class TraceSemanticError(TraceError):
    """The program parses but is invalid: unknown builtin, type mismatch, wrong arguments..."""
