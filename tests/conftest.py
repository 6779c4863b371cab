"""Shared test set-up.

Tests under tests/kernel are marked ``kernel``: they need root and a working bpf(). Without
those they skip, with the reason; with ``PYBPF_REQUIRE_KERNEL=1`` (as CI sets it) any skip of
a kernel test is turned into a failure, so CI cannot go green without having run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_KERNEL = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"
KERNEL_DIR = Path(__file__).parent / "kernel"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if KERNEL_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.kernel)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kernel") and os.geteuid() != 0:
        pytest.skip("kernel test needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    # an expected failure (xfail) is reported as "skipped" too: it ran, so it is not a skip
    if REQUIRE_KERNEL and report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("kernel"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"kernel test skipped while PYBPF_REQUIRE_KERNEL=1: {reason}"
