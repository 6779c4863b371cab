"""The RLIMIT_MEMLOCK probe: raised only on kernels that charge bpf memory to it, decided once."""

from __future__ import annotations

import errno
import os
import resource as real_resource

import pytest

from pybpf._sys import Command, syscall
from pybpf._sys.attrs import Attr, MapCreateAttr

INF = real_resource.RLIM_INFINITY


class FakeResource:
    RLIMIT_MEMLOCK = real_resource.RLIMIT_MEMLOCK
    RLIM_INFINITY = INF

    def __init__(self, soft: int, hard: int) -> None:
        self.limit = (soft, hard)
        self.history: list[tuple[int, int]] = []

    def getrlimit(self, _which: int) -> tuple[int, int]:
        return self.limit

    def setrlimit(self, _which: int, limit: tuple[int, int]) -> None:
        self.history.append(limit)
        self.limit = limit


class KernelModel(syscall.LinuxSyscalls):
    """LinuxSyscalls whose raw bpf() models a kernel, memlock-charging or not."""

    def __init__(self, res: FakeResource, *, memlock_kernel: bool) -> None:
        super().__init__("x86_64")
        self.res = res
        self.memlock_kernel = memlock_kernel
        self.raw: list[tuple[int, tuple[int, int]]] = []

    def _raw_bpf(self, cmd: int, attr: Attr) -> int:
        self.raw.append((cmd, self.res.limit))
        if self.memlock_kernel and self.res.limit[0] == 0:
            raise OSError(errno.EPERM, "memlock")
        return os.open("/dev/null", os.O_RDONLY)


@pytest.fixture
def res(monkeypatch: pytest.MonkeyPatch) -> FakeResource:
    fake = FakeResource(8 << 20, 8 << 20)
    monkeypatch.setattr(syscall, "resource", fake)
    return fake


def create(seam: KernelModel) -> None:
    os.close(seam.bpf(Command.MAP_CREATE, MapCreateAttr(map_type=2, key_size=4, value_size=4, max_entries=1)))


def test_memcg_kernel_leaves_the_limit_alone(res: FakeResource) -> None:
    seam = KernelModel(res, memlock_kernel=False)
    create(seam)
    create(seam)
    assert seam.memlock_accounting is False
    assert res.limit == (8 << 20, 8 << 20)  # restored after the probe
    assert len(seam.raw) == 3  # one probe, then the two real calls


def test_memlock_kernel_raises_the_limit_once(res: FakeResource) -> None:
    seam = KernelModel(res, memlock_kernel=True)
    create(seam)
    create(seam)
    assert seam.memlock_accounting is True
    assert res.limit == (INF, INF)
    assert res.history.count((INF, INF)) == 1
    assert [limit for _, limit in seam.raw] == [(0, 8 << 20), (INF, INF), (INF, INF)]


def test_unlimited_already_skips_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    res = FakeResource(INF, INF)
    monkeypatch.setattr(syscall, "resource", res)
    seam = KernelModel(res, memlock_kernel=True)
    create(seam)
    assert seam.memlock_accounting is False and res.history == [] and len(seam.raw) == 1


def test_non_charging_commands_do_not_probe(res: FakeResource) -> None:
    seam = KernelModel(res, memlock_kernel=True)
    os.close(seam.bpf(Command.MAP_GET_NEXT_ID, MapCreateAttr()))
    assert seam.memlock_accounting is None and res.history == []
