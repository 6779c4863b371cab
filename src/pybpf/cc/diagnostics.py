"""Compiler diagnostics (``file:line:col: severity: message``) parsed into data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Mapping


class Severity(str, Enum):
    """How serious a diagnostic is, as clang names it."""

    FATAL = "fatal error"
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"
    REMARK = "remark"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One compiler message, located in the user's file (source text is reported by its name)."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity in (Severity.ERROR, Severity.FATAL)


_LINE = re.compile(
    r"^(?P<file>[^\n:]+):(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<sev>fatal error|error|warning|note|remark): (?P<msg>.*)$"
)


def parse_diagnostics(text: str, *, rename: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Every ``file:line[:col]: severity: message`` line of clang's output, in order.

    ``rename`` maps a file name as the compiler printed it to the name to report (used to
    show a temporary file that holds source text under the name the user gave it).
    """
    rename = rename or {}
    out = []
    for raw in text.split("\n"):  # not splitlines(): file names may hold \x1c-\x1e, \x85 ...
        raw = raw.removesuffix("\r")
        m = _LINE.match(raw)
        if m is None:
            continue
        out.append(
            Diagnostic(
                file=rename.get(m["file"], m["file"]),
                line=int(m["line"]),
                column=int(m["col"] or 0),
                severity=Severity(m["sev"]),
                message=m["msg"],
            )
        )
    return out


def rename_in_text(text: str, rename: Mapping[str, str]) -> str:
    """``text`` with every file name in ``rename`` replaced by its display name."""
    for old, new in rename.items():
        text = text.replace(old, new)
    return text
