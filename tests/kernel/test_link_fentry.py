"""fentry/fexit/fmod_ret/lsm: attached where the kernel has BPF trampolines; elsewhere the load
or the attach says why and names the tracepoints that cover the same event."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from progs_link import load

from pybpf import features, link
from pybpf.enums import LinkType
from pybpf.errors import NotSupportedError

FENTRY = features.feature("fentry")


def test_fentry_counts_our_opens_or_is_refused(tmp_path: Path) -> None:
    """Both branches are real tests; the feature probe (which says why) picks the one this kernel has."""
    if FENTRY:
        _fentry_counts_our_opens(tmp_path)
    else:
        _fentry_refusal_says_why_and_names_tracepoints()


def _fentry_counts_our_opens(tmp_path: Path) -> None:
    with load("fentry") as obj:
        assert obj.globals is not None
        with link.fentry(obj.programs["on_fentry_openat2"]) as lk:
            (tmp_path / uuid.uuid4().hex).write_text("x")
            assert obj.globals["fentry_hits"] >= 1
            assert lk.info().type == LinkType.TRACING


def _fentry_refusal_says_why_and_names_tracepoints() -> None:
    with pytest.raises(NotSupportedError, match="fentry.*EPERM"):
        load("fentry")  # refused at load already
    for kind, tp in (("fentry", "sys_enter_openat2"), ("fexit", "sys_exit_openat2")):
        with pytest.raises(NotSupportedError) as err:
            link.tracing.require(kind, "do_sys_openat2")
        text = str(err.value)
        assert f"{kind} (do_sys_openat2) is not supported" in text
        assert "EPERM" in text
        assert f"syscalls:{tp}" in text
    with pytest.raises(NotSupportedError, match="lsm"):
        link.tracing.require("lsm", "file_open")


def test_the_fentry_object_loads_nothing_on_refusal() -> None:
    if FENTRY:
        with load("fentry"):
            return
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(NotSupportedError):
        load("fentry")
    assert set(os.listdir("/proc/self/fd")) <= before
