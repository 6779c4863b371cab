"""What a BPF object has attached: links by (kind, target, function), the open-probe counts
bcc reports, and the hook each auto-attached probe of the dialect goes to."""

from __future__ import annotations

import logging
import re
from enum import Enum
from typing import Callable

from .. import link as _link
from ..errors import BPFError
from ..link import Link
from ..program import Program
from ..tracefs import root as tracefs_root
from .dialect import AutoProbe, Fallback, ProbeKind

log = logging.getLogger("pybpf.bcc")


class Hook(str, Enum):
    """What an attachment was asked for (the bcc method), for counting and detaching."""

    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    TRACEPOINT = "tracepoint"
    RAW_TRACEPOINT = "raw_tracepoint"
    UPROBE = "uprobe"
    URETPROBE = "uretprobe"
    USDT = "usdt"
    PERF_EVENT = "perf_event"
    KFUNC = "kfunc"
    KRETFUNC = "kretfunc"
    LSM = "lsm"


_COUNTED = {
    "kprobes": (Hook.KPROBE, Hook.KRETPROBE),
    "uprobes": (Hook.UPROBE, Hook.URETPROBE, Hook.USDT),
    "tracepoints": (Hook.TRACEPOINT,),
}


class AttachmentError(BPFError):
    """Detaching something that is not attached, or attaching twice."""


class Attachments:
    """The links of one BPF object, keyed ``(hook, target, function)``."""

    def __init__(self) -> None:
        self.links: dict[tuple[Hook, str, str], Link] = {}

    def add(self, hook: Hook, target: str, fn_name: str, made: Link) -> Link:
        key = (hook, target, fn_name)
        if key in self.links:
            made.close()
            raise AttachmentError(f"{fn_name} is already attached to {hook.value} {target}")
        self.links[key] = made
        return made

    def remove(self, hook: Hook, target: str, fn_name: str | None = None) -> int:
        """Detach what ``fn_name`` (any function when None) has on ``hook`` ``target``; the count."""
        keys = [k for k in self.links if k[0] == hook and k[1] == target and (fn_name is None or k[2] == fn_name)]
        if not keys:
            raise AttachmentError(f"nothing is attached to {hook.value} {target}"
                                  + (f" by {fn_name}" if fn_name else ""))
        for k in keys:
            self.links.pop(k).close()
        return len(keys)

    def count(self, what: str) -> int:
        hooks = _COUNTED[what]
        return sum(1 for k in self.links if k[0] in hooks)

    def close(self) -> None:
        while self.links:
            _, made = self.links.popitem()
            try:
                made.close()
            except (BPFError, OSError) as exc:
                log.debug("detaching %r: %s", made, exc)


def attach_fallback(prog: Program, fb: Fallback) -> Link:
    """Attach an adapter program the dialect made for a kprobe to its tracepoint."""
    log.info("%s %s (%s): attached to %s %s instead (%s)", fb.requested.value, fb.function, fb.func_name,
             fb.hook_kind.value, fb.tracepoint if fb.hook_kind is ProbeKind.TRACEPOINT else fb.event, fb.note)
    if fb.hook_kind is ProbeKind.RAW_TRACEPOINT:
        return _link.raw_tracepoint(prog, fb.event)
    return _link.tracepoint(prog, fb.category, fb.event)


def split_tracepoint(target: str) -> tuple[str, str]:
    """``"sched:sched_switch"`` / ``"sched/sched_switch"`` -> ``("sched", "sched_switch")``."""
    from ..link.tracepoint import split_name

    return split_name(target)


#: how each kind of auto-attached probe attaches (no fallback)
_AUTO: dict[ProbeKind, tuple[Hook, Callable[[Program, AutoProbe], Link]]] = {
    ProbeKind.KPROBE: (Hook.KPROBE, lambda p, a: _link.kprobe(p, a.target)),
    ProbeKind.KRETPROBE: (Hook.KRETPROBE, lambda p, a: _link.kprobe(p, a.target, retprobe=True)),
    ProbeKind.TRACEPOINT: (Hook.TRACEPOINT, lambda p, a: _link.tracepoint(p, *split_tracepoint(a.target))),
    ProbeKind.RAW_TRACEPOINT: (Hook.RAW_TRACEPOINT, lambda p, a: _link.raw_tracepoint(p, a.target)),
    ProbeKind.KFUNC: (Hook.KFUNC, lambda p, a: _link.fentry(p)),
    ProbeKind.KRETFUNC: (Hook.KRETFUNC, lambda p, a: _link.fexit(p)),
    ProbeKind.LSM: (Hook.LSM, lambda p, a: _link.lsm(p)),
}
_REQUESTED_HOOK = {ProbeKind.KPROBE: Hook.KPROBE, ProbeKind.KRETPROBE: Hook.KRETPROBE}


def attach_auto(registry: Attachments, prog: Program, probe: AutoProbe) -> Link:
    """Attach a probe the dialect found by name prefix or macro (a fallback when it made one)."""
    if probe.fallback is not None:
        hook = _REQUESTED_HOOK.get(probe.kind, Hook.TRACEPOINT)
        return registry.add(hook, probe.target, probe.func_name, attach_fallback(prog, probe.fallback))
    hook, attach = _AUTO[probe.kind]
    return registry.add(hook, probe.target, probe.func_name, attach(prog, probe))


def tracepoints_matching(pattern: str) -> list[tuple[str, str]]:
    """The ``(category, event)`` tracepoints whose ``category:event`` matches regex ``pattern``."""
    rx = re.compile(pattern)
    events = tracefs_root() / "events"
    found = []
    for cat in sorted(p for p in events.iterdir() if p.is_dir()):
        for ev in sorted(p for p in cat.iterdir() if (p / "id").exists()):
            if rx.match(f"{cat.name}:{ev.name}"):
                found.append((cat.name, ev.name))
    return found


def kernel_functions_matching(pattern: str) -> list[str]:
    """Traceable kernel functions (``available_filter_functions``) matching regex ``pattern``."""
    rx = re.compile(pattern)
    try:
        text = (tracefs_root() / "available_filter_functions").read_text()
    except OSError:
        return []
    return sorted({line.split()[0] for line in text.splitlines() if line and rx.match(line.split()[0])})


__all__ = ["AttachmentError", "Attachments", "Hook", "attach_auto", "attach_fallback", "kernel_functions_matching",
           "split_tracepoint", "tracepoints_matching"]
