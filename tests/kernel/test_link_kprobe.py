"""kprobes: attached where the kernel has them; elsewhere a NotSupportedError that names the
tracepoints covering the same event. The tracepoint fallback for tracepoint-type programs."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest
from progs_link import load

from pybpf import features, link, tracefs
from pybpf.errors import NotSupportedError

KPROBES = features.feature("kprobe")


def _open_unique(tmp_path: Path) -> str:
    path = tmp_path / f"pybpf-kp-{uuid.uuid4().hex}"
    path.write_text("x")
    return str(path)


def test_kprobe_counts_our_opens_or_is_refused(tmp_path: Path) -> None:
    """Both branches are real tests; the feature probe (which says why) picks the one this kernel has."""
    if KPROBES:
        _kprobe_counts_our_opens(tmp_path)
    else:
        _kprobe_refusal_names_the_syscall_tracepoints()


def _kprobe_counts_our_opens(tmp_path: Path) -> None:
    with load("kprobe") as obj:
        assert obj.globals is not None
        with link.kprobe(obj.programs["on_openat2"], "do_sys_openat2") as lk:
            _open_unique(tmp_path)
            assert obj.globals["kprobe_hits"] >= 1
            assert lk.info().details["func_name"] == "do_sys_openat2"
        with obj.programs["on_ksys_openat"].attach():  # ksyscall/openat -> __x64_sys_openat
            hits = obj.globals["kprobe_hits"]
            _open_unique(tmp_path)
            assert obj.globals["kprobe_hits"] > hits
    assert not [e for e in tracefs.dynamic_events("kprobe_events") if f"pybpf_{os.getpid()}_" in e]


def _kprobe_refusal_names_the_syscall_tracepoints() -> None:
    with load("kprobe") as obj:
        with pytest.raises(NotSupportedError) as err:
            link.kprobe(obj.programs["on_openat2"], "do_sys_openat2")
        text = str(err.value)
        assert "kprobes (do_sys_openat2) is not supported" in text
        assert "CONFIG_KPROBES" in text  # why
        assert "syscalls:sys_enter_openat2" in text  # what to use instead
        with pytest.raises(NotSupportedError, match=r"kretprobes \(__x64_sys_openat\).*syscalls:sys_exit_openat\b"):
            link.kretprobe(obj.programs["on_openat2"], "__x64_sys_openat")
        with pytest.raises(NotSupportedError, match=r"kprobes \(__x64_sys_openat\).*syscalls:sys_enter_openat\b"):
            obj.programs["on_ksys_openat"].attach()
        with pytest.raises(NotSupportedError, match=r"tcp_v4_connect.*related events: tcp:tcp_"):
            link.kprobe(obj.programs["on_openat2"], "tcp_v4_connect")
        with pytest.raises(NotSupportedError, match="kprobe.multi"):
            link.kprobe_multi(obj.programs["on_openat2"], ["do_sys_openat2"])
        # attach_all stops at the refusal, or skips it when asked
        with pytest.raises(NotSupportedError):
            obj.attach_all()
        assert obj.attach_all(skip_unsupported=True) == []


def test_ksyscall_of_a_tracepoint_program_takes_the_syscall_tracepoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with load("tp_openat") as obj:
        with caplog.at_level(logging.WARNING, logger="pybpf.link"):
            lk = link.ksyscall(obj.programs["on_openat"], "openat")
        assert "tracepoint syscalls:sys_enter_openat" in caplog.text
        with lk:
            assert lk.info().details["tp_name"] == "sys_enter_openat"
            path = _open_unique(tmp_path)
            assert bytes(obj.maps["last_name"][0]).split(b"\0")[0].decode() == path
        with pytest.raises(NotSupportedError, match="only kprobes on syscall functions"):
            link.kprobe(obj.programs["on_openat"], "vfs_read")


def test_ksyscall_of_a_raw_tracepoint_program_takes_sys_enter(caplog: pytest.LogCaptureFixture) -> None:
    with load("raw_tp") as obj:
        assert obj.globals is not None
        with caplog.at_level(logging.WARNING, logger="pybpf.link"):
            lk = link.ksyscall(obj.programs["on_sys_enter"], "getppid")
        assert "raw tracepoint sys_enter" in caplog.text and "syscall number" in caplog.text
        with lk:
            assert lk.info().details["tp_name"] == "sys_enter"
            hits = obj.globals["raw_hits"]
            os.getppid()
            assert obj.globals["raw_hits"] > hits
