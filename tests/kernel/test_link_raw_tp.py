"""Raw tracepoint links: raw_tp sys_enter sees the test's pid."""

from __future__ import annotations

import os

from progs_link import load

from pybpf import link
from pybpf.enums import LinkType


def test_raw_tp_sys_enter_sees_our_pid() -> None:
    with load("raw_tp") as obj:
        assert obj.globals is not None
        with link.raw_tracepoint(obj.programs["on_sys_enter"], "sys_enter") as lk:
            for _ in range(5):
                os.getppid()
            assert obj.globals["raw_seen_pid"] == os.getpid()
            assert obj.globals["raw_hits"] >= 5
            info = lk.info()
            assert info.type == LinkType.RAW_TRACEPOINT and info.details["tp_name"] == "sys_enter"
        hits = obj.globals["raw_hits"]
        os.getppid()
        assert obj.globals["raw_hits"] == hits


def test_raw_tp_through_program_attach_and_update() -> None:
    with load("raw_tp") as obj:
        assert obj.globals is not None
        lk = obj.programs["on_sys_enter"].attach()
        first_id = lk.id
        os.getppid()
        assert obj.globals["raw_hits"] >= 1
        # a raw_tp link has no BPF_LINK_UPDATE: update() attaches anew, the link gets a new id
        lk.update(obj.programs["on_sys_enter"])
        assert lk.id != first_id
        hits = obj.globals["raw_hits"]
        os.getppid()
        assert obj.globals["raw_hits"] > hits
    assert lk.closed
