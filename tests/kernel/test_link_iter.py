"""BPF iterators: a task iterator lists this process; a bpf_map iterator lists a map we made."""

from __future__ import annotations

import os
from pathlib import Path

from progs_link import load

from pybpf import link
from pybpf.enums import LinkType
from pybpf.link.iter import read_pinned


def test_task_iterator_lists_our_pid() -> None:
    with load("iter_task") as obj, link.iter(obj.programs["dump_task"]) as it:
        lines = it.read_text().splitlines()
        rows = {(int(t), int(p)): comm for t, p, comm in (ln.split(" ", 2) for ln in lines)}
        assert (os.getpid(), os.getpid()) in rows
        assert rows[os.getpid(), os.getpid()] == Path("/proc/self/comm").read_text().strip()
        with it.open() as f:  # each open is a new pass, read like a file
            assert f.readline().count(b" ") >= 2
        assert it.info().type == LinkType.ITER and it.info().details["target_name"] == "task"


def test_bpf_map_iterator_lists_the_objects_maps() -> None:
    with load("tp_openat") as maps_obj, load("iter_task") as obj:
        with obj.programs["dump_map"].attach() as it:
            text = it.read_text()
        ids = {int(line.split()[0]) for line in text.splitlines()}
        assert maps_obj.maps["last_name"].id in ids


def test_pinned_iterator_reads_through_the_pin() -> None:
    pin = Path("/sys/fs/bpf") / f"pybpf-test-iter-{os.getpid()}"
    with load("iter_task") as obj, link.iter(obj.programs["dump_task"]) as it:
        it.pin(pin)
        try:
            assert f"{os.getpid()} {os.getpid()} ".encode() in read_pinned(pin)
            with link.Link.from_pin(pin) as again:
                assert isinstance(again, link.IterLink)
                assert f"{os.getpid()} {os.getpid()} " in again.read_text()
        finally:
            it.unpin()
        assert not pin.exists()
