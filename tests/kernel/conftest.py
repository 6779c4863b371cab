"""Fixtures shared by the kernel tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from _fds import open_fds


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    """Fails the test when it leaves an fd open that was not open before it."""
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"fds left open: {sorted(leaked)}"


@pytest.fixture
def no_fd_leak_after_gc() -> Iterator[None]:
    """:func:`no_fd_leak`, counted after a garbage collection (objects dropped without close())."""
    before = open_fds()
    yield
    gc.collect()
    leaked = open_fds() - before
    assert not leaked, f"fds left open: {sorted(leaked)}"
