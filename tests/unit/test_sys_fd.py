"""FD ownership: close once, context manager, GC backstop, dup, release."""

from __future__ import annotations

import gc
import os

import pytest

from pybpf import _sys
from pybpf._sys import FD, ClosedFDError
from pybpf._sys.fake import FakeSyscalls


def test_close_runs_once() -> None:
    fake = FakeSyscalls()
    fd = FD(fake.new_fd(), kind="map", syscalls=fake)
    fd.close()
    fd.close()
    assert fake.closed == [1000] and fd.closed
    with pytest.raises(ClosedFDError, match="map fd 1000 is closed"):
        fd.fileno()


def test_context_manager_closes() -> None:
    fake = FakeSyscalls()
    with FD(fake.new_fd(), syscalls=fake) as fd:
        assert fd.fileno() == 1000
    assert fake.open_fds == set()


def test_garbage_collection_closes() -> None:
    fake = FakeSyscalls()
    FD(fake.new_fd(), syscalls=fake)
    gc.collect()
    assert fake.closed == [1000]


def test_dup_is_independent() -> None:
    fake = FakeSyscalls()
    with FD(fake.new_fd(), kind="prog", syscalls=fake) as fd:
        copy = fd.dup()
        assert copy.fileno() != fd.fileno() and copy.kind == "prog"
    assert fake.open_fds == {copy.fileno()}
    copy.close()
    assert fake.open_fds == set()


def test_release_gives_up_ownership() -> None:
    fake = FakeSyscalls()
    fd = FD(fake.new_fd(), syscalls=fake)
    assert fd.release() == 1000
    del fd
    gc.collect()
    assert fake.closed == [] and fake.open_fds == {1000}


def test_negative_fd_rejected() -> None:
    with pytest.raises(ValueError):
        FD(-1, syscalls=FakeSyscalls())


def test_real_fd_closed_by_default_seam() -> None:
    r, w = os.pipe()
    os.close(w)
    with _sys.override(_sys.LinuxSyscalls()):
        fd = FD(r)
        dup = fd.dup()
    fd.close()
    dup.close()
    for n in (r, dup._fd):
        with pytest.raises(OSError):
            os.fstat(n)


def test_fdno_accepts_ints_and_filenos() -> None:
    fake = FakeSyscalls()
    with FD(fake.new_fd(), syscalls=fake) as fd:
        assert _sys.fdno(fd) == _sys.fdno(1000) == 1000
