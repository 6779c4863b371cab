"""Link lifecycle: closing a Collection detaches its links; a SIGKILLed tracer leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from progs_link import load

from pybpf import _sys, link, tracefs
from pybpf._sys import ObjectKind

HERE = Path(__file__).parent

_CHILD = """
import json, os, sys, time
from progs_link import load
from pybpf import link
tp = load("tp_openat")
sampler = load("perf_sample")
links = [link.tracepoint(tp.programs["on_openat"], "syscalls", "sys_enter_openat"),
         *link.perf_event(sampler.programs["on_sample"], frequency=99).links]
progs = [tp.programs["on_openat"].id, sampler.programs["on_sample"].id]
print(json.dumps({"links": [lk.id for lk in links], "progs": progs}), flush=True)
time.sleep(60)
"""


def _ids(kind: ObjectKind) -> set[int]:
    return set(_sys.iter_ids(kind))


def _wait_gone(ids: set[int], kind: ObjectKind, timeout: float = 10.0) -> set[int]:
    """The ids of ``ids`` still present after ``timeout`` (the kernel frees them asynchronously)."""
    end = time.monotonic() + timeout
    left = ids & _ids(kind)
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = ids & _ids(kind)
    return left


def test_sigkilled_tracer_leaves_no_link_program_or_probe() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the child died before attaching (exit {child.poll()})"
        made = json.loads(line)
        links, progs = set(made["links"]), set(made["progs"])
        assert links <= _ids(ObjectKind.LINK) and progs <= _ids(ObjectKind.PROG)  # attached while it lives
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert _wait_gone(links, ObjectKind.LINK) == set()
    assert _wait_gone(progs, ObjectKind.PROG) == set()
    for control in ("kprobe_events", "uprobe_events"):
        assert not [e for e in tracefs.dynamic_events(control) if f"pybpf_{child.pid}_" in e]


def test_closing_the_collection_detaches_every_link() -> None:
    with load("raw_tp") as obj:
        made = obj.attach_all()
        ids = {lk.id for lk in made}
        assert ids <= _ids(ObjectKind.LINK)
    assert all(lk.closed for lk in made)
    assert _wait_gone(ids, ObjectKind.LINK) == set()


def test_link_context_manager_and_double_close() -> None:
    with load("raw_tp") as obj:
        with link.raw_tracepoint(obj.programs["on_sys_enter"], "sys_enter") as lk:
            link_id = lk.id
        assert lk.closed and "detached" in repr(lk)
        lk.close()
        lk.detach()  # both are no-ops once detached
        assert _wait_gone({link_id}, ObjectKind.LINK) == set()


def test_a_forgotten_link_is_detached_by_the_garbage_collector() -> None:
    import gc

    with load("raw_tp") as obj:
        lk = link.raw_tracepoint(obj.programs["on_sys_enter"], "sys_enter")
        link_id = lk.id
        del lk
        gc.collect()
        assert _wait_gone({link_id}, ObjectKind.LINK) == set()
