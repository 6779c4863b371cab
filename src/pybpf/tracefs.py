"""tracefs: where it is mounted, tracepoint ids and formats, dynamic probe events.

tracefs is found through /proc/mounts (tracefs itself, or ``tracing/`` in a mounted debugfs).
When it is not mounted, :func:`root` mounts it at ``/sys/kernel/tracing`` (needs root, kernel
>= 4.1; the mount point always exists there when the kernel has tracefs).

    >>> tracepoint_id("syscalls", "sys_enter_openat")          # doctest: +SKIP
    782
    >>> [f.name for f in tracepoint_format("syscalls", "sys_enter_openat").fields][:3]  # doctest: +SKIP
    ['common_type', 'common_flags', 'common_preempt_count']
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._log import get_logger
from ._sys.mounts import mount_dirs
from .errors import BPFError, NotSupportedError

if TYPE_CHECKING:
    from pathlib import Path

log = get_logger("pybpf.tracefs")

#: Where tracefs is mounted when nothing mounted it yet (``DEFAULT_MOUNT``, a Path, below).
_DEFAULT_MOUNT = "/sys/kernel/tracing"


def __getattr__(name: str) -> Any:
    # the paths are kept as strings: looking up a tracepoint id (a ``pybpf trace`` launch) does
    # not import pathlib (with urllib.parse and ipaddress, ~2.5 ms); root() and the rest give Paths
    if name == "DEFAULT_MOUNT":
        from pathlib import Path

        return Path(_DEFAULT_MOUNT)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class TracefsError(BPFError):
    """tracefs cannot be used as asked (no such tracepoint, a write refused, ...)."""


def mounted_dir() -> Path | None:
    """Where tracefs is mounted (tracefs itself, or ``tracing/`` in a mounted debugfs), or None."""
    from pathlib import Path

    found = _mounted_dir()
    return None if found is None else Path(found)


def _mounted_dir() -> str | None:
    try:
        by_fs = mount_dirs()
    except OSError:
        return None
    if "tracefs" in by_fs:
        return by_fs["tracefs"]
    debug = by_fs.get("debugfs")
    if debug is not None and os.path.isdir(os.path.join(debug, "tracing", "events")):
        return os.path.join(debug, "tracing")
    return None


def _mount_tracefs(where: str) -> None:
    import ctypes.util  # here only: it imports subprocess and tempfile

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.mount(b"nodev", os.fsencode(where), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        if err == errno.ENODEV:
            raise NotSupportedError("tracefs", reason="the kernel has no tracefs (CONFIG_TRACING is off)",
                                    alternative="use raw tracepoints (pybpf.link.raw_tracepoint), which need no tracefs")
        raise TracefsError(f"mounting tracefs at {where} failed: {os.strerror(err)}; "
                           f"run as root or mount it yourself: mount -t tracefs nodev {where}")
    log.info("mounted tracefs at %s", where)


_root_cache: list[str] = []


def root(*, mount: bool = True) -> Path:
    """The tracefs directory; mounts it at :data:`DEFAULT_MOUNT` when missing and ``mount``."""
    from pathlib import Path

    return Path(_root_dir(mount=mount))


def _root_dir(*, mount: bool = True) -> str:
    if _root_cache and os.path.isdir(os.path.join(_root_cache[0], "events")):
        return _root_cache[0]
    found = _mounted_dir()
    if found is None:
        if not mount:
            raise TracefsError(f"tracefs is not mounted; mount it: mount -t tracefs nodev {_DEFAULT_MOUNT}")
        _mount_tracefs(_DEFAULT_MOUNT)
        found = _DEFAULT_MOUNT
    _root_cache[:] = [found]
    return found


def root_name() -> str:
    """Where tracefs is mounted, as a string (mounted first if it is not)."""
    return _root_dir()


def _event_dir(category: str, name: str) -> str:
    if not category or not name or "/" in category or "/" in name or ".." in (category, name):
        raise ValueError(f"not a tracepoint name: {category!r}:{name!r}")
    return os.path.join(_root_dir(), "events", category, name)


def tracepoint_id(category: str, name: str) -> int:
    """The perf ``config`` of tracepoint ``category:name`` (``events/<cat>/<name>/id``)."""
    path = os.path.join(_event_dir(category, name), "id")
    try:
        with open(path) as f:
            tp_id = int(f.read().strip())
    except FileNotFoundError:
        near = similar_tracepoints(category, name)
        hint = f"; similar: {', '.join(near)}" if near else ""
        raise TracefsError(f"no tracepoint {category}:{name} ({path} does not exist){hint}") from None
    _NAMES_BY_ID[tp_id] = (category, name)
    return tp_id


#: the tracepoints :func:`tracepoint_id` has read, by id (a recorded attach names them: ids are
#: given out as tracepoints register, so a module loaded again gives its tracepoints new ones)
_NAMES_BY_ID: dict[int, tuple[str, str]] = {}


def tracepoint_name(tp_id: int) -> tuple[str, str] | None:
    """(category, name) of a tracepoint id this process has looked up with :func:`tracepoint_id`."""
    return _NAMES_BY_ID.get(tp_id)


def tracepoint_exists(category: str, name: str) -> bool:
    """Does tracepoint ``category:name`` exist?"""
    try:
        return os.path.exists(os.path.join(_event_dir(category, name), "id"))
    except (ValueError, BPFError):
        return False


def categories() -> list[str]:
    """Every tracepoint category (subsystem), sorted."""
    events = root() / "events"
    return sorted(p.name for p in events.iterdir() if p.is_dir())


def tracepoints(category: str) -> list[str]:
    """The tracepoint names of ``category``, sorted (empty for an unknown category)."""
    d = root() / "events" / category
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if (p / "id").exists())


@functools.lru_cache(maxsize=1)
def _all_events() -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    try:
        text = (root() / "available_events").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        cat, _, name = line.partition(":")
        if name:
            out.append((cat, name))
    return tuple(out)


def all_tracepoints() -> list[tuple[str, str]]:
    """Every ``(category, name)`` the kernel lists in ``available_events``."""
    return list(_all_events())


def similar_tracepoints(category: str, name: str, *, limit: int = 8) -> list[str]:
    """Tracepoints whose name shares the longest ``_``-separated prefix with ``name``
    (those of ``category`` first), as ``"cat:name"``."""
    words = name.split("_")
    events = _all_events()
    for n in range(len(words), 0, -1):
        prefix = "_".join(words[:n])
        if len(prefix) < 3:
            break
        hits = [f"{c}:{e}" for c, e in events if e.startswith(prefix)]
        if hits:
            hits.sort(key=lambda s: (not s.startswith(category + ":"), s))
            return hits[:limit]
    return []


@dataclass(frozen=True)
class FormatField:
    """One field of a tracepoint record (``events/<cat>/<name>/format``)."""

    declaration: str  # "const char * filename"
    name: str
    offset: int
    size: int
    signed: bool


@dataclass(frozen=True)
class TracepointFormat:
    """The record layout of a tracepoint: what a ``SEC("tracepoint/...")`` program's ctx points at."""

    name: str
    id: int
    fields: tuple[FormatField, ...]
    print_fmt: str

    def field(self, name: str) -> FormatField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"tracepoint {self.name} has no field {name!r} (it has: {', '.join(f.name for f in self.fields)})")


_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d+);")


def _field_name(decl: str) -> str:
    """The member name of a declaration: ``__data_loc char[] filename`` -> ``filename``."""
    words = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[[^\]]*\]", " ", decl))
    return words[-1] if words else ""


def parse_format(text: str) -> TracepointFormat:
    """Parse the text of a tracefs ``format`` file."""
    name, tp_id, print_fmt = "", 0, ""
    fields: list[FormatField] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("name:"):
            name = stripped[5:].strip()
        elif stripped.startswith("ID:"):
            tp_id = int(stripped[3:].strip())
        elif stripped.startswith("print fmt:"):
            print_fmt = stripped[len("print fmt:"):].strip()
        elif (m := _FIELD.search(stripped)) is not None:
            decl = m["decl"].strip()
            fields.append(FormatField(decl, _field_name(decl), int(m["off"]), int(m["size"]), m["signed"] == "1"))
    return TracepointFormat(name, tp_id, tuple(fields), print_fmt)


def tracepoint_format(category: str, name: str) -> TracepointFormat:
    """The parsed ``format`` of tracepoint ``category:name``."""
    path = os.path.join(_event_dir(category, name), "format")
    try:
        with open(path) as f:
            return parse_format(f.read())
    except FileNotFoundError:
        raise TracefsError(f"no tracepoint {category}:{name} ({path} does not exist)") from None


# -- dynamic probe events (kprobe_events / uprobe_events) ----------------------------------


def write_dynamic_event(control: str, line: str) -> None:
    """Append ``line`` to ``<tracefs>/<control>`` (``kprobe_events``, ``uprobe_events``)."""
    path = root() / control
    try:
        # os.open, not open(path, "a"): Python's append mode seeks to the end, which tracefs
        # control files refuse with EINVAL.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise NotSupportedError(f"tracefs {control}", reason=f"{path} does not exist") from None
    except OSError as exc:
        raise TracefsError(f"writing {line!r} to {path} failed: {exc.strerror}; see {root() / 'error_log'}") from None


def dynamic_events(control: str) -> list[str]:
    """The lines of ``<tracefs>/<control>`` (one defined probe each)."""
    try:
        return (root() / control).read_text().splitlines()
    except FileNotFoundError:
        return []


__all__ = [
    "DEFAULT_MOUNT", "FormatField", "TracefsError", "TracepointFormat", "all_tracepoints", "categories",
    "dynamic_events", "parse_format", "root", "root_name", "similar_tracepoints", "tracepoint_exists", "tracepoint_format",
    "tracepoint_id", "tracepoint_name", "tracepoints", "write_dynamic_event",
]
