"""uprobes, uretprobes and uprobe.multi on binaries the test builds with gcc, and on libc:
the BPF programs report the arguments and return values they saw in a hash map."""

from __future__ import annotations

import importlib
import os
import subprocess
from pathlib import Path

import pytest
from progs_uprobe import (
    EV_COOKIE,
    EV_ENTRY_ARG,
    EV_LIB_ARG,
    EV_LIB_RET,
    EV_MALLOC_SIZE,
    EV_MUL_A,
    EV_MUL_B,
    EV_MULTI_CALLS,
    EV_MULTI_COOKIES,
    EV_RET,
    Targets,
    build_targets,
    build_usdt,
    ensure_sdt_header,
    load,
    release,
    run,
    start,
    stop,
)

from pybpf import features
from pybpf.errors import BPFError, SyscallError
from pybpf.link.uprobe import resolve, uprobe, uprobe_multi, uretprobe
from pybpf.link._uprobe_resolve import UprobeTargetError, find_library
from pybpf.link.info import PerfEventLinkType

# the module (pybpf.link.uprobe may name the function in the package namespace)
uprobe_mod = importlib.import_module("pybpf.link.uprobe")


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Targets:
    return build_targets(tmp_path_factory.mktemp("uprobe"))


@pytest.fixture()
def obj():  # type: ignore[no-untyped-def]
    with load("uprobe") as c:
        yield c


@pytest.mark.parametrize("kind", ["nopie", "pie"])
def test_uprobe_and_uretprobe_see_argument_and_return_value(obj, targets: Targets, kind: str) -> None:
    binary = getattr(targets, kind)
    with uprobe(obj.programs["on_add_one"], binary, "add_one", cookie=77), \
            uretprobe(obj.programs["on_add_one_ret"], binary, "add_one"), \
            uprobe(obj.programs["on_mul_sub"], binary, "mul_sub"):
        out = run(binary, "-5")
    seen = dict(obj.maps["seen"])
    assert seen[EV_ENTRY_ARG] == -5
    assert seen[EV_RET] == -4
    assert seen[EV_COOKIE] == 77
    assert (seen[EV_MUL_A], seen[EV_MUL_B]) == (-5, 3)
    # the program still computes what it does unprobed (the no-pie build adds lib_square(-5))
    assert int(out) == -4 + (-15 - 7) + (25 if kind == "nopie" else 0)


def test_detached_uprobe_sees_nothing(obj, targets: Targets) -> None:
    probe = uprobe(obj.programs["on_add_one"], targets.pie, "add_one")
    run(targets.pie, "3")
    probe.close()
    assert obj.maps["seen"][EV_ENTRY_ARG] == 3
    run(targets.pie, "9")
    assert obj.maps["seen"][EV_ENTRY_ARG] == 3


def test_uprobe_on_shared_library_function(obj, targets: Targets) -> None:
    with uprobe(obj.programs["on_lib_square"], targets.lib, "lib_square"), \
            uretprobe(obj.programs["on_lib_square_ret"], str(targets.lib), "lib_square"):
        run(targets.nopie, "-6")
    seen = obj.maps["seen"]
    assert (seen[EV_LIB_ARG], seen[EV_LIB_RET]) == (-6, 36)


def test_uprobe_by_library_name_through_ld_library_path(obj, targets: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", str(targets.lib.parent))
    with uprobe(obj.programs["on_lib_square"], "uptarget", "lib_square"):
        run(targets.nopie, "7")
    assert obj.maps["seen"][EV_LIB_ARG] == 7


def test_uprobe_at_offset_inside_function_and_at_address(obj, targets: Targets) -> None:
    """``func+off`` and a raw address land where ``resolve`` says; the link reports that offset."""
    target = resolve(targets.nopie, "add_one")
    with uprobe(obj.programs["on_add_one"], targets.nopie, target.address) as probe:
        info = probe.info()
        run(targets.nopie, "11")
    assert info.details["perf_type"] == PerfEventLinkType.UPROBE.name
    assert info.details["offset"] == target.offset
    assert info.details["file_name"] == str(targets.nopie)
    assert obj.maps["seen"][EV_ENTRY_ARG] == 11
    with uprobe(obj.programs["on_add_one"], targets.nopie, "add_one", offset=1) as probe:
        assert probe.info().details["offset"] == target.offset + 1


def test_libc_malloc_by_library_name_with_pid_filter(obj, targets: Targets) -> None:
    """``("c", "malloc")`` with ``pid=``: only the filtered process's malloc(12345 + n) is seen."""
    chosen, other = start(targets.pie, "100"), start(targets.pie, "200")
    try:
        with uprobe(obj.programs["on_malloc"], "c", "malloc", pid=chosen.pid) as probe:
            assert find_library("c") in probe.description
            release(chosen)
            release(other)
    finally:
        stop(chosen, other)
    assert obj.maps["seen"][EV_MALLOC_SIZE] == 12345 + 100


def test_versioned_libc_symbol(obj, targets: Targets) -> None:
    proc = start(targets.pie, "300")
    try:
        with uprobe(obj.programs["on_malloc"], "libc.so.6", "malloc@@GLIBC_2.2.5", pid=proc.pid):
            release(proc)
    finally:
        stop(proc)
    assert obj.maps["seen"][EV_MALLOC_SIZE] == 12345 + 300


def test_pid_filter_on_missing_process_is_reported() -> None:
    with load("uprobe") as c, pytest.raises(SyscallError, match="does not exist|ESRCH"):
        uprobe(c.programs["on_malloc"], "c", "malloc", pid=2**22 + 12345)


def test_unknown_symbol_is_a_lookup_error(obj, targets: Targets) -> None:
    with pytest.raises(UprobeTargetError, match="no function symbol 'no_such_function'"):
        uprobe(obj.programs["on_add_one"], targets.pie, "no_such_function")


@pytest.mark.skipif(not features.feature("uprobe_multi").supported,
                    reason=f"uprobe.multi: {features.feature('uprobe_multi').reason}")
def test_uprobe_multi_with_glob_and_cookies(obj, targets: Targets) -> None:
    found = [t.symbol for t in uprobe_mod.multi_targets(targets.pie, "[am][du][dl]_*")]
    assert found == ["add_one", "mul_sub"]
    proc = start(targets.pie, "1")
    try:
        with uprobe_multi(obj.programs["on_multi"], targets.pie, "[am][du][dl]_*", pid=proc.pid,
                                      cookies=[10, 20]) as m:
            info = m.info()
            release(proc)
            run(targets.pie, "2")  # another process: filtered out
    finally:
        stop(proc)
    assert info.type.name == "UPROBE_MULTI"
    assert info.details["count"] == 2 and info.details["pid"] == proc.pid
    seen = obj.maps["seen"]
    assert (seen[EV_MULTI_CALLS], seen[EV_MULTI_COOKIES]) == (2, 30)


@pytest.mark.skipif(not features.feature("uprobe_multi").supported,
                    reason=f"uprobe.multi: {features.feature('uprobe_multi').reason}")
def test_uprobe_multi_on_libc_glob(obj, targets: Targets) -> None:
    proc = start(targets.pie, "5")
    try:
        with uprobe_multi(obj.programs["on_multi"], "c", "malloc*", pid=proc.pid):
            release(proc)
    finally:
        stop(proc)
    assert obj.maps["seen"][EV_MULTI_CALLS] >= 1


def test_uprobe_multi_needs_a_multi_program(obj, targets: Targets) -> None:
    if not features.feature("uprobe_multi").supported:
        pytest.skip(f"uprobe.multi: {features.feature('uprobe_multi').reason}")
    with pytest.raises(BPFError, match="uprobe.multi"):
        uprobe_multi(obj.programs["on_add_one"], targets.pie, ["add_one"])


def test_uprobe_multi_falls_back_to_one_uprobe_per_target(targets: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel lacks uprobe.multi, a plain uprobe program gets one perf uprobe per target."""
    monkeypatch.setattr(uprobe_mod, "_feature", lambda name: (name != "uprobe_multi", "pretend it is missing"))
    with load("uprobe") as c:
        with uprobe_multi(c.programs["on_add_one"], targets.pie, ["add_one", "mul_sub"],
                                      cookies=[5, 6]) as group:
            assert len(group) == 2
            run(targets.pie, "4")
        # add_one(4) then mul_sub(4, 3) ran: the last hit was mul_sub's probe, with its own cookie
        assert c.maps["seen"][EV_COOKIE] == 6
        assert c.maps["seen"][EV_ENTRY_ARG] == 4


def test_sections_attach_through_attach_all(targets: Targets, tmp_path: Path) -> None:
    reason = ensure_sdt_header()
    if reason:
        pytest.skip(reason)
    usdt_bin = build_usdt(tmp_path, "-O2")
    flags = [f'-DTARGET="{targets.pie}"', f'-DUSDT_TARGET="{usdt_bin}"']
    with load("uprobe_sections", flags) as c:
        links = c.attach_all()
        names = sorted(lk.program.name for lk in links if lk.program is not None)
        expected = ["sec_add_one", "sec_add_one_ret", "sec_usdt"]
        if features.feature("uprobe_multi").supported:
            expected.append("sec_multi")
        assert names == sorted(expected)
        run(targets.pie, "8")
        run(usdt_bin, "13")
        seen = dict(c.maps["seen"])
    assert seen[1] == 8 and seen[2] == 9 and seen[4] == 13
    if "sec_multi" in names:
        assert seen[3] == 3


def test_nothing_left_after_close(obj, targets: Targets) -> None:
    """Closing the links releases the perf events: no uprobe of ours stays registered."""
    probe = uprobe(obj.programs["on_add_one"], targets.pie, "add_one")
    probe.close()
    events = Path("/sys/kernel/tracing/uprobe_events")
    if events.exists():
        assert f"pybpf_{os.getpid()}_" not in events.read_text()
    assert subprocess.run(["true"]).returncode == 0


def test_tracefs_uprobe_events_path(obj, targets: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the perf uprobe PMU, a ``p:pybpf/...`` uprobe_events entry is made and removed on close."""
    from pybpf import tracefs

    try:
        tracefs.root()
    except BPFError as exc:
        pytest.skip(f"no tracefs: {exc}")
    monkeypatch.setattr(uprobe_mod, "_pmu_type", lambda: None)

    def write(control: str, line: str) -> None:
        # tracefs.write_dynamic_event opens with open(path, "a"), whose seek to the end fails with
        # EINVAL on uprobe_events; write without seeking until that is fixed there
        fd = os.open(tracefs.root() / control, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    monkeypatch.setattr(tracefs, "write_dynamic_event", write)
    mine = f"pybpf_{os.getpid()}_"
    with uprobe(obj.programs["on_add_one"], targets.pie, "add_one", cookie=3) as probe, \
            uretprobe(obj.programs["on_add_one_ret"], targets.pie, "add_one"):
        assert "uprobe_events" in probe.description
        entries = [line for line in tracefs.dynamic_events("uprobe_events") if mine in line]
        assert len(entries) == 2 and any(line.startswith("r:") for line in entries)
        run(targets.pie, "30")
    seen = obj.maps["seen"]
    assert (seen[EV_ENTRY_ARG], seen[EV_RET], seen[EV_COOKIE]) == (30, 31, 3)
    assert not [line for line in tracefs.dynamic_events("uprobe_events") if mine in line]
