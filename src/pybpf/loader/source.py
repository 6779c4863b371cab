"""Which C source line the verifier rejected: verifier log -> instruction -> BTF line info."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..btf import LineInfo

#: a verifier log line for one instruction: "12: (85) call bpf_map_lookup_elem#1"
_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\)")


def failing_instruction(log: str) -> int | None:
    """The index of the last instruction the verifier printed before it gave up."""
    last = None
    for line in log.splitlines():
        m = _INSN_LINE.match(line)
        if m:
            last = int(m.group(1))
    return last


def line_for(line_info: Sequence[LineInfo], insn: int) -> LineInfo | None:
    """The line info record covering instruction ``insn`` (the last one starting at or before it)."""
    offs = [li.insn_off for li in line_info]
    i = bisect.bisect_right(offs, insn) - 1
    return line_info[i] if i >= 0 else None


def source_line(log: str, line_info: Sequence[LineInfo]) -> str:
    """``"file.c:LINE: <source text>"`` of the instruction the log names, or ``""``."""
    insn = failing_instruction(log)
    if insn is None or not line_info:
        return ""
    li = line_for(sorted(line_info, key=lambda r: r.insn_off), insn)
    if li is None:
        return ""
    from pathlib import PurePath  # here: pathlib is not imported when loading succeeds

    name = PurePath(li.file_name).name if li.file_name else "?"
    text = li.line_text.strip()
    return f"{name}:{li.line}: {text}" if text else f"{name}:{li.line}"
