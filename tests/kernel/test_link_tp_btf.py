"""BTF tracepoints (tp_btf): typed arguments of sys_enter."""

from __future__ import annotations

import os

import pytest
from progs_link import load

from pybpf import features, link
from pybpf.enums import AttachType, LinkType

NR_GETPPID = {"x86_64": 110, "aarch64": 173}.get(os.uname().machine)


def test_tp_btf_sys_enter_sees_our_pid_and_syscall_number() -> None:
    if not features.feature("tp_btf"):  # a probe that says why; on a kernel >= 5.5 this must hold
        pytest.skip(f"tp_btf: {features.feature('tp_btf').reason}")
    with load("raw_tp") as obj:
        assert obj.globals is not None
        with link.tp_btf(obj.programs["on_btf_sys_enter"]) as lk:
            before = list(obj.globals["btf_nr_counts"])  # type: ignore[call-overload]
            for _ in range(7):
                os.getppid()
            after = list(obj.globals["btf_nr_counts"])  # type: ignore[call-overload]
            assert obj.globals["btf_seen_pid"] == os.getpid()
            info = lk.info()
            assert "tp_btf sys_enter" in repr(lk)
        if NR_GETPPID is not None:  # the typed `long id` argument is the syscall number
            assert after[NR_GETPPID] - before[NR_GETPPID] == 7
        assert info.type in (LinkType.TRACING, LinkType.RAW_TRACEPOINT)
        if info.type == LinkType.TRACING:
            assert info.details["attach_type"] == AttachType.TRACE_RAW_TP


def test_tp_btf_is_attached_by_attach_all() -> None:
    with load("raw_tp") as obj:
        assert obj.globals is not None
        links = obj.attach_all()
        assert sorted(lk.program.name for lk in links if lk.program) == ["on_btf_sys_enter", "on_sys_enter"]
        os.getppid()
        assert obj.globals["btf_hits"] >= 1 and obj.globals["raw_hits"] >= 1
    assert all(lk.closed for lk in links)
