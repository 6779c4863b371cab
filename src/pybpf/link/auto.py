"""Attaching by section name: ``Program.attach()`` and ``Collection.attach_all()``.

A program's section (``SEC("tracepoint/syscalls/sys_enter_openat")``) says what kind of hook
it is and often which one. :data:`HANDLERS` maps each section kind to the attach function
that takes it; :func:`fully_named` says whether the section alone names the hook (then
``attach_all`` attaches it); :func:`attach` passes the caller's arguments on for the rest
(``prog.attach("eth0")`` for XDP). Programs opened from a pin or an id have no section and are
dispatched by program type (:data:`BY_TYPE`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..elf.sections import SECTION_DEFS, SectionDef
from ..enums import ProgramType
from ..errors import BPFError, NotSupportedError
from ._attach_common import program_section
from .base import Link

if TYPE_CHECKING:
    from ..program import Program

log = logging.getLogger("pybpf.link")


class AttachError(BPFError):
    """The program does not say where to attach it, and the call did not either."""


@dataclass(frozen=True)
class Handler:
    """How one section kind attaches.

    ``call(prog, target, section, args, kwargs)`` makes the link; ``named`` says whether a
    section of this kind with a non-empty target (or none needed, ``needs_target=False``)
    fully names the hook.
    """

    call: Callable[[Program, str, SectionDef, tuple[Any, ...], dict[str, Any]], Link]
    named: bool = True
    needs_target: bool = True


def _fn(module: str, name: str) -> Callable[..., Link]:
    """``pybpf.link.<module>.<name>``, imported when first used (other modules may not exist yet)."""
    try:
        mod = importlib.import_module(f"pybpf.link.{module}")
    except ImportError as exc:
        raise NotSupportedError(f"attaching through pybpf.link.{module}", reason=f"the module is missing ({exc})",
                                alternative="attach with the kernel API directly") from None
    return getattr(mod, name)  # type: ignore[no-any-return]


def _split_offset(target: str) -> tuple[str, int]:
    name, plus, off = target.partition("+")
    return name, (int(off, 0) if plus else 0)


def _tracepoint(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .tracepoint import split_name, tracepoint

    return tracepoint(prog, *(args or split_name(target)), **kw)


def _raw_tp(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .raw_tracepoint import raw_tracepoint

    return raw_tracepoint(prog, *(args or (target,)), **kw)


def _no_target(module: str, name: str) -> Callable[[Program, str, SectionDef, tuple[Any, ...], dict[str, Any]], Link]:
    def call(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
        return _fn(module, name)(prog, *args, **kw)

    return call


def _kprobe(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .kprobe import kprobe

    if args:
        return kprobe(prog, *args, retprobe=sec.retprobe, **kw)
    function, offset = _split_offset(target)
    return kprobe(prog, function, offset=offset, retprobe=sec.retprobe, **kw)


def _ksyscall(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .kprobe import ksyscall

    return ksyscall(prog, *(args or (target,)), retprobe=sec.retprobe, **kw)


def _kprobe_multi(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .kprobe import kprobe_multi

    return kprobe_multi(prog, *(args or (target,)), retprobe=sec.retprobe, **kw)


def _uprobe(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    uprobe = _fn("uprobe", "uprobe")
    if args:
        return uprobe(prog, *args, retprobe=sec.retprobe, **kw)
    binary, _, where = target.rpartition(":")
    symbol, offset = _split_offset(where)
    return uprobe(prog, binary, symbol, retprobe=sec.retprobe, offset=offset, **kw)


def _uprobe_multi(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    uprobe_multi = _fn("uprobe", "uprobe_multi")
    if args:
        return uprobe_multi(prog, *args, retprobe=sec.retprobe, **kw)
    binary, _, pattern = target.rpartition(":")
    return uprobe_multi(prog, binary, pattern, retprobe=sec.retprobe, **kw)


def _usdt(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    usdt = _fn("usdt", "usdt")
    if args:
        return usdt(prog, *args, **kw)
    binary, provider, name = target.rsplit(":", 2)
    return usdt(prog, binary, provider, name, **kw)


def _with_args(module: str, name: str) -> Callable[[Program, str, SectionDef, tuple[Any, ...], dict[str, Any]], Link]:
    """Hooks the section cannot fully name (an interface, a cgroup): the caller's arguments decide."""

    def call(prog: Program, target: str, sec: SectionDef, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
        if not args and not kw:
            raise AttachError(f"program {prog.name} (section {sec.prefix.rstrip('+/')}) needs a target: "
                              f"call pybpf.link.{module}.{name}(prog, ...) or prog.attach(<target>)")
        if sec.attach_type is not None and module in _PASS_ATTACH_TYPE and "attach_type" not in kw and len(args) < 2:
            return _fn(module, name)(prog, *args, sec.attach_type, **kw)
        return _fn(module, name)(prog, *args, **kw)

    return call


#: modules whose attach function takes the section's attach type as its second positional
_PASS_ATTACH_TYPE = frozenset({"cgroup", "sockmap"})

_H = Handler
#: section kind (``SectionDef.name``) -> how it attaches
HANDLERS: dict[str, Handler] = {
    "tracepoint": _H(_tracepoint), "tp": _H(_tracepoint),
    "raw_tracepoint": _H(_raw_tp), "raw_tp": _H(_raw_tp),
    "raw_tracepoint.w": _H(_raw_tp), "raw_tp.w": _H(_raw_tp),
    "tp_btf": _H(_no_target("raw_tracepoint", "tp_btf"), needs_target=False),
    "fentry": _H(_no_target("tracing", "fentry"), needs_target=False),
    "fentry.s": _H(_no_target("tracing", "fentry"), needs_target=False),
    "fexit": _H(_no_target("tracing", "fexit"), needs_target=False),
    "fexit.s": _H(_no_target("tracing", "fexit"), needs_target=False),
    "fmod_ret": _H(_no_target("tracing", "fmod_ret"), needs_target=False),
    "fmod_ret.s": _H(_no_target("tracing", "fmod_ret"), needs_target=False),
    "lsm": _H(_no_target("tracing", "lsm"), needs_target=False),
    "lsm.s": _H(_no_target("tracing", "lsm"), needs_target=False),
    "freplace": _H(_no_target("tracing", "freplace"), named=False),
    "iter": _H(_no_target("iter", "iter"), needs_target=False),
    "iter.s": _H(_no_target("iter", "iter"), needs_target=False),
    "perf_event": _H(_no_target("perf_event", "perf_event"), named=False),
    "kprobe": _H(_kprobe), "kretprobe": _H(_kprobe),
    "ksyscall": _H(_ksyscall), "kretsyscall": _H(_ksyscall),
    "kprobe.multi": _H(_kprobe_multi), "kretprobe.multi": _H(_kprobe_multi),
    "uprobe": _H(_uprobe), "uprobe.s": _H(_uprobe), "uretprobe": _H(_uprobe), "uretprobe.s": _H(_uprobe),
    "usdt": _H(_usdt), "usdt.s": _H(_usdt),
    "uprobe.multi": _H(_uprobe_multi), "uprobe.multi.s": _H(_uprobe_multi),
    "uretprobe.multi": _H(_uprobe_multi), "uretprobe.multi.s": _H(_uprobe_multi),
    "xdp": _H(_with_args("xdp", "xdp"), named=False), "xdp.frags": _H(_with_args("xdp", "xdp"), named=False),
    "tcx/ingress": _H(_with_args("tc", "tcx"), named=False), "tcx/egress": _H(_with_args("tc", "tcx"), named=False),
    "tc/ingress": _H(_with_args("tc", "tcx"), named=False), "tc/egress": _H(_with_args("tc", "tcx"), named=False),
    "socket": _H(_with_args("socket", "socket_filter"), named=False),
    "sk_lookup": _H(_with_args("sk_lookup", "sk_lookup"), named=False),
    "sockops": _H(_with_args("cgroup", "cgroup"), named=False),
    "sk_msg": _H(_with_args("sockmap", "sockmap"), named=False),
    "sk_skb": _H(_with_args("sockmap", "sockmap"), named=False),
    "sk_skb/stream_parser": _H(_with_args("sockmap", "sockmap"), named=False),
    "sk_skb/stream_verdict": _H(_with_args("sockmap", "sockmap"), named=False),
    "sk_skb/verdict": _H(_with_args("sockmap", "sockmap"), named=False),
    "sk_reuseport": _H(_with_args("socket", "reuseport"), named=False),
    "sk_reuseport/migrate": _H(_with_args("socket", "reuseport"), named=False),
    "netfilter": _H(_with_args("netfilter", "netfilter"), named=False),
}
#: every cgroup section takes its attach type from the section
HANDLERS.update({d.prefix: _H(_with_args("cgroup", "cgroup"), named=False)
                 for d in SECTION_DEFS if d.prefix.startswith(("cgroup", "cgroup_skb")) and d.attach_type is not None})


def _by_type_tracepoint(prog: Program, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .tracepoint import tracepoint

    return tracepoint(prog, *args, **kw)


def _by_type_raw(prog: Program, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .raw_tracepoint import raw_tracepoint

    return raw_tracepoint(prog, *args, **kw)


def _by_type_perf(prog: Program, args: tuple[Any, ...], kw: dict[str, Any]) -> Link:
    from .perf_event import perf_event

    return perf_event(prog, *args, **kw)


#: program type -> attach, for programs without a section (opened from a pin or an id)
BY_TYPE: dict[ProgramType, Callable[[Program, tuple[Any, ...], dict[str, Any]], Link]] = {
    ProgramType.TRACEPOINT: _by_type_tracepoint,
    ProgramType.RAW_TRACEPOINT: _by_type_raw,
    ProgramType.RAW_TRACEPOINT_WRITABLE: _by_type_raw,
    ProgramType.PERF_EVENT: _by_type_perf,
}


def fully_named(prog: Program) -> bool:
    """Does the program's section alone say where it attaches (so ``attach_all`` takes it)?"""
    sec = program_section(prog)
    if sec is None:
        return False
    handler = HANDLERS.get(sec.prefix.rstrip("+")) or HANDLERS.get(sec.name)
    if handler is None or not handler.named:
        return False
    return bool(sec.attach_to) or not handler.needs_target


def attach(prog: Program, *args: Any, **kwargs: Any) -> Link:
    """Attach ``prog`` where its section says; ``args``/``kwargs`` complete or override the target."""
    sec = program_section(prog)
    if sec is None:
        by_type = BY_TYPE.get(prog.type)
        if by_type is None:
            raise AttachError(f"program {prog.name} ({prog.type.name}) has no section to say where it attaches; "
                              "use the attach function of its hook in pybpf.link")
        return by_type(prog, args, kwargs)
    handler = HANDLERS.get(sec.prefix.rstrip("+")) or HANDLERS.get(sec.name)
    if handler is None:
        raise AttachError(f"program {prog.name}: section {sec.prefix.rstrip('+/')!r} has no attach function "
                          "(struct_ops and syscall programs are registered through maps or run directly)")
    if handler.needs_target and not sec.attach_to and not args:
        raise AttachError(f"program {prog.name}: the section names no target; pass it: prog.attach(<target>)")
    return handler.call(prog, sec.attach_to, sec, args, kwargs)


def attach_all(programs: Iterable[Program], *, skip_unsupported: bool = False) -> list[Link]:
    """Attach every program whose section fully names its hook, in order.

    On an error everything attached so far is detached and the error raised; with
    ``skip_unsupported`` a program the kernel cannot attach (NotSupportedError) is skipped
    with a warning instead.
    """
    links: list[Link] = []
    try:
        for prog in programs:
            if not fully_named(prog):
                log.debug("attach_all: %s does not name its hook; attach it with Program.attach", prog.name)
                continue
            try:
                links.append(prog.attach())
            except NotSupportedError as exc:
                if not skip_unsupported:
                    raise
                log.warning("attach_all: skipping %s: %s", prog.name, exc)
    except BaseException:
        for done in reversed(links):
            done.close()
        raise
    return links


__all__ = ["BY_TYPE", "HANDLERS", "AttachError", "Handler", "attach", "attach_all", "fully_named"]
