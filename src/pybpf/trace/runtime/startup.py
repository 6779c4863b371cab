"""What a later launch of the same trace needs to start without the runtime, and taking over after it.

The first run of a cached program records its load and attach (:mod:`pybpf._sys.record`);
:func:`launch_record` turns the recording into a *launch record*, plain data kept with the
program in the trace cache. :mod:`pybpf.trace.quick` replays it at the next launch, prints
"Attaching N probes..." and the first printf events, then calls :func:`adopt`, which gives the
runtime (:class:`~pybpf.trace.runtime.session.Session`) the replayed objects as a Collection
and Links, as if it had made them.

A launch record (a dict; or ``{"format": LAUNCH_FORMAT, "unusable": why}`` for a start that cannot
be replayed: an iterator, a watchpoint...)::

    format      LAUNCH_FORMAT
    steps       the recorded plan (pybpf._sys.replay), with a "attaching" mark before the attach
    probes      the N of "Attaching N probes..."
    tracefs     where tracefs was mounted (tracepoint ids are read there at replay)
    ringbuf     (step, size in bytes) of the event ring buffer, or None
    printf      {event id bytes: printf recipe (pybpf.trace.runtime.render.Recipe)}
    programs    {name: step}      maps {name: step}
    links       [link tree]: ("link", description, program, link fd step or None, [resource steps])
                or ("group", description, program, [link tree])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..._log import get_logger

if TYPE_CHECKING:
    from ..._sys.record import Recorder
    from ..._sys.replay import Replayed
    from ...collection import Collection
    from ...link import Link
    from ..codegen.result import CompiledScript

log = get_logger("pybpf.trace.runtime.startup")

#: the layout of a launch record (a record of another layout is not replayed)
LAUNCH_FORMAT = 1


def _link_tree(link: Link, programs: Mapping[int, str], recorder: Recorder) -> tuple[Any, ...]:
    from ...link import LinkGroup

    prog = programs[link.program.fileno()] if link.program is not None else ""
    if isinstance(link, LinkGroup):
        return ("group", link.description, prog, [_link_tree(m, programs, recorder) for m in link.links])
    if link.cleanups:
        raise KeyError(f"{link.description} runs clean-ups when closed")
    fd = recorder.ref(link.fd.fileno()) if link.fd is not None else None
    return ("link", link.description, prog, fd, [recorder.ref(r.fileno()) for r in link.resources])  # type: ignore[attr-defined]


def _not_replayable(reason: object) -> dict[str, Any]:
    log.debug("this trace's start cannot be replayed: %s", reason)
    return {"format": LAUNCH_FORMAT, "unusable": str(reason)}


def _tree_refs(trees: Sequence[Sequence[Any]]) -> list[int]:
    out: list[int] = []
    for tree in trees:
        if tree[0] == "group":
            out += _tree_refs(tree[3])
        else:
            out += ([tree[3]] if tree[3] is not None else []) + list(tree[4])
    return out


def launch_record(recorder: Recorder, coll: Collection, links: Sequence[Link], script: CompiledScript,
                  probes: int) -> dict[str, Any]:
    """The launch record of a run whose load and attach ``recorder`` recorded; when a later
    launch could not replay it, a record saying so (``unusable``: why; not recorded again)."""
    from ... import tracefs
    from .render import printf_recipe
    from ..layouts import EventKind

    if recorder.unusable is not None:
        return _not_replayable(recorder.unusable)
    try:
        programs = {name: recorder.ref(p.fileno()) for name, p in coll.programs.items()}
        maps = {name: recorder.ref(m.fileno()) for name, m in coll.maps.items()}
        by_fd = {p.fileno(): name for name, p in coll.programs.items()}
        trees = [_link_tree(ln, by_fd, recorder) for ln in links]
    except (KeyError, AttributeError) as exc:
        return _not_replayable(exc)
    # only what the runtime adopts (not, say, the ring buffer reader's own dup of the map fd)
    steps = recorder.plan({*programs.values(), *maps.values(), *_tree_refs(trees)})
    if steps is None:
        return _not_replayable(recorder.unusable)
    ringbuf = None
    if script.ringbuf_map:
        rb = coll.maps[script.ringbuf_map]
        ringbuf = (maps[script.ringbuf_map], int(rb.max_entries))
    printf = {}
    for ev in script.events:
        if ev.kind is EventKind.PRINTF:
            recipe = printf_recipe(ev.fmt, ev.fields, ev.size)
            if recipe is not None:
                printf[ev.id.to_bytes(8, "little")] = recipe
    return {"format": LAUNCH_FORMAT, "steps": steps, "probes": probes, "tracefs": tracefs.root_name(),
            "ringbuf": ringbuf, "printf": printf, "programs": programs, "maps": maps, "links": trees}


class Adopted:
    """What a lean start made, owned by the runtime from now on: the collection, the links
    (attached, BEGIN already run) and whether Ctrl-C came before the runtime took it over."""

    def __init__(self, collection: Collection, links: list[Link], *,
                 interrupted: Callable[[], bool] = lambda: False) -> None:
        self.collection = collection
        self.links = links
        self.interrupted = interrupted


def adopt(record: Mapping[str, Any], replayed: Replayed, script: CompiledScript, *,
          interrupted: Callable[[], bool] = lambda: False) -> Adopted:
    """The objects ``replayed`` made, as the runtime's Collection and Links (their fds taken
    from ``replayed``: closing the collection and links closes them)."""
    from ... import _sys
    from ...collection import Collection
    from ...link import Link, LinkGroup
    from ...map import Map
    from ...program import Program

    programs: dict[str, Program] = {}
    maps: dict[str, Map] = {}
    owned: list[Link] = []

    def link(tree: Sequence[Any]) -> Link:
        prog = programs.get(tree[2])
        if tree[0] == "group":
            return LinkGroup([link(m) for m in tree[3]], program=prog, description=tree[1])
        fd = _sys.FD(replayed.take(tree[3]), kind="link") if tree[3] is not None else None
        resources = [_sys.FD(replayed.take(step), kind="perf_event") for step in tree[4]]
        return Link(fd=fd, program=prog, description=tree[1], resources=resources)

    try:
        for name, step in record["programs"].items():
            programs[name] = Program.from_fd(_sys.FD(replayed.take(step), kind="program"))
        for name, step in record["maps"].items():
            maps[name] = Map.from_fd(_sys.FD(replayed.take(step), kind="map"), btf=False, name=name)
        owned.extend(link(t) for t in record["links"])
        collection = Collection(programs, maps, spec=script.object_spec)
    except BaseException:
        for ln in owned:
            ln.close()
        for prog in programs.values():
            prog.close()
        for m in maps.values():
            m.close()
        raise
    finally:
        replayed.close()  # what is not adopted (a reader's dup of the ring buffer fd...)
    return Adopted(collection, owned, interrupted=interrupted)
