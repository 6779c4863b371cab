"""perf_event sampling: a cpu-clock sampler sees a busy loop's pid; hardware events need a PMU."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from progs_link import load

from pybpf import link
from pybpf._sys import PerfHwConfig
from pybpf.enums import LinkType
from pybpf.errors import NotSupportedError
from pybpf.link.perf_event import hardware_pmu, online_cpus


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _samples_of(obj: object, pid: int) -> int:
    samples = obj.maps["samples"]  # type: ignore[attr-defined]
    try:
        return int(samples[pid])
    except KeyError:
        return 0


def test_cpu_clock_sampling_sees_a_busy_loop() -> None:
    ctx = multiprocessing.get_context("fork")
    with load("perf_sample") as obj:
        with link.perf_event(obj.programs["on_sample"], frequency=1000) as group:
            assert len(group) == len(online_cpus())
            child = ctx.Process(target=_spin, args=(0.5,))
            child.start()
            child.join()
            assert child.pid is not None
            info = group.info()
            assert info.type == LinkType.PERF_EVENT and info.details["perf_type"] == "EVENT"
        busy = _samples_of(obj, child.pid)
        # 1000 Hz for 0.5 s of CPU: expect ~500 samples; allow a loaded machine
        assert busy >= 50, f"only {busy} samples of the busy child"


def test_period_on_one_cpu_and_detach_stops_sampling() -> None:
    with load("perf_sample") as obj:
        lk = link.perf_event(obj.programs["on_sample"], period=1_000_000, cpu=0)  # every 1 ms of CPU 0
        os.sched_setaffinity(0, {0})
        try:
            _spin(0.2)
        finally:
            os.sched_setaffinity(0, set(online_cpus()))
        lk.close()
        mine = _samples_of(obj, os.getpid())
        assert mine >= 20
        _spin(0.1)
        assert _samples_of(obj, os.getpid()) == mine


def test_hardware_events_without_a_pmu_say_so() -> None:
    with load("perf_sample") as obj:
        if hardware_pmu() is not None:
            with link.perf_event(obj.programs["on_sample"], event=PerfHwConfig.CPU_CYCLES, period=100_000) as g:
                _spin(0.1)
                assert len(g) >= 1
            return
        with pytest.raises(NotSupportedError, match="hardware perf event CPU_CYCLES.*no hardware PMU.*CPU_CLOCK"):
            link.perf_event(obj.programs["on_sample"], event=PerfHwConfig.CPU_CYCLES)
