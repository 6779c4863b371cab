"""Where the runtime's output goes: text as bpftrace prints it, or ``-f json`` NDJSON records.

Both printers take the same calls, in the order events arrive; the session never formats text
itself.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from .formatting import format_printf

if TYPE_CHECKING:  # maps and values are formatted (and -f json records made) on first use:
    from .aggregations import MapData  # start-up of a trace imports neither module


class Printer(Protocol):
    """What the session calls; :class:`TextPrinter` and :class:`JsonPrinter` implement it."""

    def attached(self, probes: int) -> None: ...
    def printf(self, fmt: str, args: Sequence[Any]) -> None: ...
    def printf_texts(self, texts: Sequence[str]) -> None: ...
    def text(self, kind: str, text: str) -> None: ...
    def time(self, fmt: str) -> None: ...
    def join(self, parts: Sequence[bytes | str], sep: str) -> None: ...
    def value(self, v: Any) -> None: ...
    def map(self, m: MapData, *, top: int = 0, div: int = 1) -> None: ...
    def exit_maps(self, maps: Sequence[MapData]) -> None: ...
    def lost(self, n: int) -> None: ...
    def warning(self, message: str) -> None: ...
    def flush(self) -> None: ...


def _now(fmt: str) -> str:
    return _time.strftime(fmt, _time.localtime())


def _join(parts: Sequence[bytes | str], sep: str) -> str:
    from .aggregations import format_value

    return sep.join(format_value(p) for p in parts)


class TextPrinter:
    """bpftrace's default output. ``quiet`` (``-q``) drops the "Attaching N probes..." line."""

    def __init__(self, out: TextIO, *, err: TextIO | None = None, quiet: bool = False,
                 terminal: TextIO | None = None) -> None:
        self.out = out
        self.err = err if err is not None else out
        self.quiet = quiet
        #: where the two empty lines before the exit maps go: bpftrace writes them to stdout even
        #: under ``-o FILE`` (everything else goes to the file)
        self.terminal = terminal if terminal is not None else out

    def _exit_prefix(self) -> None:
        self.flush()
        self.terminal.write("\n\n")
        self.terminal.flush()

    def _write(self, s: str) -> None:
        self.out.write(s)

    def flush(self) -> None:
        """Push what was written so far (the session calls this after each batch of events)."""
        self.out.flush()
        if self.err is not self.out:
            self.err.flush()

    def attached(self, probes: int) -> None:
        if not self.quiet:
            self._write(f"Attaching {probes} probe{'' if probes == 1 else 's'}...\n")

    def printf(self, fmt: str, args: Sequence[Any]) -> None:
        self._write(format_printf(fmt, args))

    def printf_texts(self, texts: Sequence[str]) -> None:
        """The text of printf calls already formatted, in order (one write for all of them)."""
        self._write("".join(texts))

    def text(self, kind: str, text: str) -> None:
        self._write(text)

    def time(self, fmt: str) -> None:
        self._write(_now(fmt))

    def join(self, parts: Sequence[bytes | str], sep: str) -> None:
        self._write(_join(parts, sep) + "\n")

    def value(self, v: Any) -> None:
        from .aggregations import format_value

        self._write(format_value(v) + "\n")

    def map(self, m: MapData, *, top: int = 0, div: int = 1) -> None:
        from .aggregations import map_text

        self._write(map_text(m, top=top, div=div))

    def exit_maps(self, maps: Sequence[MapData]) -> None:
        from .aggregations import maps_text

        self._exit_prefix()
        self._write(maps_text(maps))

    def lost(self, n: int) -> None:
        # bpftrace's text output writes this line with the rest of the program's output
        self._write(f"Lost {n} events\n")

    def warning(self, message: str) -> None:
        self.err.write(f"WARNING: {message}\n")
        self.err.flush()


class JsonPrinter(TextPrinter):
    """``-f json``: one record per line (see :mod:`.json`)."""

    def __init__(self, out: TextIO, *, err: TextIO | None = None, quiet: bool = False,
                 terminal: TextIO | None = None) -> None:
        super().__init__(out, err=err, quiet=quiet, terminal=terminal)
        from . import json

        self._json = json

    def attached(self, probes: int) -> None:
        if not self.quiet:
            self._write(self._json.attached_probes(probes))

    def printf(self, fmt: str, args: Sequence[Any]) -> None:
        self._write(self._json.text_record("printf", format_printf(fmt, args)))

    def printf_texts(self, texts: Sequence[str]) -> None:
        self._write("".join([self._json.text_record("printf", t) for t in texts]))

    def text(self, kind: str, text: str) -> None:
        self._write(self._json.text_record(kind, text))

    def time(self, fmt: str) -> None:
        self._write(self._json.text_record("time", _now(fmt)))

    def join(self, parts: Sequence[bytes | str], sep: str) -> None:
        self._write(self._json.text_record("join", _join(parts, sep)))

    def value(self, v: Any) -> None:
        self._write(self._json.value_record(v))

    def map(self, m: MapData, *, top: int = 0, div: int = 1) -> None:
        self._write(self._json.map_record(m, top=top, div=div))

    def exit_maps(self, maps: Sequence[MapData]) -> None:
        self._exit_prefix()
        self._write("".join(self._json.map_record(m) for m in sorted(maps, key=lambda m: m.name)))

    def lost(self, n: int) -> None:
        self._write(self._json.lost_events(n))


def make_printer(out: TextIO, *, fmt: str = "text", quiet: bool = False, err: TextIO | None = None,
                 terminal: TextIO | None = None) -> Printer:
    """The printer for ``-f text|json``; ``terminal`` is stdout when ``out`` is a ``-o`` file."""
    table: dict[str, type[TextPrinter]] = {"text": TextPrinter, "json": JsonPrinter}
    return table[fmt](out, err=err, quiet=quiet, terminal=terminal)
