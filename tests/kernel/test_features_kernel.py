"""pybpf.features on the running kernel: answers checked against what the system shows
(PMUs, kernel config, direct loads), caching with a counting seam, no leaked fds, the CLI."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybpf import _sys, features
from pybpf._sys.abi import Command
from pybpf._sys.attrs import Attr
from pybpf.enums import MapType, ProgramType
from pybpf.errors import NotSupportedError
from pybpf.features import env
from pybpf.loader.kconfig import kernel_version_code, system_config

PYBPF = [sys.executable, "-m", "pybpf.cli"]


class CountingSyscalls(_sys.LinuxSyscalls):
    """The real kernel, counting bpf() calls."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def bpf(self, cmd: Command, attr: Attr) -> int:
        self.count += 1
        return super().bpf(cmd, attr)


@pytest.fixture
def fresh() -> Iterator[None]:
    features.clear_cache()
    yield
    features.clear_cache()


# --- what works here ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tracepoint", "raw_tp", "tp_btf", "uprobe", "uprobe_multi", "ringbuf", "xdp_link",
                                  "tcx", "perf_event", "cgroup_link", "iterator", "bounded_loops", "bpf_loop",
                                  "global_data", "mmapable", "batch_ops", "btf", "cpu_v4", "syscall", "kfuncs"])
def test_supported_here(name: str) -> None:
    """A kernel at least as new as the feature's minimum has it: a failing probe here is a bug, not a
    skip (ARCHITECTURE rule 7). (6.18 has all of these.)"""
    r = features.feature(name)
    if kernel_version_code() < kernel_version_code(r.min_kernel):
        pytest.skip(f"{name} needs {r.min_kernel}; this kernel is {os.uname().release}")
    assert r.supported, r.reason
    assert features.require(name) is r


def test_program_and_map_types_used_everywhere() -> None:
    for pt in (ProgramType.XDP, ProgramType.TRACEPOINT, ProgramType.SCHED_CLS, ProgramType.RAW_TRACEPOINT):
        assert features.program_type(pt).supported, pt
    for mt in (MapType.RINGBUF, MapType.HASH, MapType.LPM_TRIE, MapType.BLOOM_FILTER, MapType.ARENA):
        assert features.map_type(mt).supported, mt


def _configured(option: str) -> bool:
    return system_config().get(option, "n") != "n"


def test_kprobe_matches_the_system() -> None:
    """kprobes exist iff the kprobe PMU or tracefs kprobe_events does; the reason says which is missing."""
    tracefs = env.tracefs_dir()
    present = (Path("/sys/bus/event_source/devices/kprobe").exists()
               or (tracefs is not None and (tracefs / "kprobe_events").exists()))
    r = features.attach(features.AttachKind.KPROBE)
    assert r.supported == present
    if not present:
        assert "/sys/bus/event_source/devices/kprobe is missing" in r.reason
        if system_config():
            assert r.reason.startswith("CONFIG_KPROBES is off") == (not _configured("CONFIG_KPROBES"))
        with pytest.raises(NotSupportedError) as info:
            features.require("kprobe")
        assert "syscalls:sys_enter_<name>" in str(info.value) and r.reason in str(info.value)


def test_kprobe_multi_needs_fprobe() -> None:
    r = features.feature("kprobe_multi")
    if not _configured("CONFIG_FPROBE"):
        assert not r.supported and "EOPNOTSUPP" in r.reason and "CONFIG_FPROBE is off" in r.reason


def test_netkit_follows_the_config() -> None:
    r = features.feature("netkit")
    assert r.supported == _configured("CONFIG_NETKIT"), r.reason
    if not r.supported:
        assert "CONFIG_NETKIT is off" in r.reason


def _direct_fentry_errno() -> int:
    """What a direct BPF_PROG_LOAD of an fentry program says (independently of features)."""
    from pybpf.btf import Kind, kernel_btf
    from pybpf.enums import AttachType
    from pybpf.isa import assemble, encode

    btf_id = kernel_btf().find("bpf_fentry_test1", Kind.FUNC)[0]
    try:
        _sys.prog_load(ProgramType.TRACING, encode(assemble("r0 = 0\nexit")),
                       expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=btf_id).close()
    except OSError as exc:
        return exc.errno or -1
    return 0


@pytest.mark.parametrize("name", ["fentry", "fexit", "fmod_ret", "lsm"])
def test_trampoline_features_tell_the_truth(name: str) -> None:
    """On this kernel an fentry load fails with EPERM and an empty log; the answer says so."""
    err = _direct_fentry_errno()
    r = features.feature(name)
    if err == 0:
        assert r.supported or name in ("lsm", "fmod_ret"), r.reason
        return
    assert not r.supported
    assert errno.errorcode[err] in r.reason
    if err == errno.EPERM:
        assert "empty verifier log" in r.reason
    with pytest.raises(NotSupportedError) as info:
        features.require(name)
    assert "tracepoint or raw_tp" in info.value.alternative


def test_tracing_type_is_supported_through_tp_btf() -> None:
    r = features.program_type(ProgramType.TRACING)
    assert r.supported and "tp_btf" in r.reason


# --- caching, hygiene --------------------------------------------------------------------


def test_probes_run_once(fresh: None) -> None:
    with _sys.override(CountingSyscalls()) as seam:
        first = features.all_features()
        features.helpers(ProgramType.XDP)
        probed = seam.count
        assert probed > 50
        assert features.all_features() == first
        features.helpers(ProgramType.XDP)
        assert seam.count == probed


def test_no_fd_leaks(fresh: None) -> None:
    before = set(os.listdir("/proc/self/fd"))
    features.all_features()
    for pt in features.PROGRAM_TYPES:
        features.program_type(pt)
    for mt in features.MAP_TYPES:
        features.map_type(mt)
    features.helpers(ProgramType.SCHED_CLS)
    assert set(os.listdir("/proc/self/fd")) - before == set()


def test_xdp_link_probe_leaves_lo_alone(fresh: None) -> None:
    assert features.feature("xdp_link").supported
    out = subprocess.run(["ip", "-d", "link", "show", "lo"], capture_output=True, text=True).stdout
    assert "pybpf_probe" not in out and "prog/xdp" not in out


# --- the CLI ---------------------------------------------------------------------------------


def _run(*args: str) -> str:
    proc = subprocess.run([*PYBPF, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cli_table() -> None:
    out = _run("features")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip() and not line.endswith(":")}
    assert lines["tracepoint"].split()[1] == "yes"
    assert lines["ringbuf"].split()[1] == "yes"
    kprobe = features.feature("kprobe")
    assert lines["kprobe"].split()[1] == ("yes" if kprobe.supported else "no")
    assert lines["kprobe"].endswith(kprobe.reason)
    for title in ("Program types:", "Map types:", "Features:"):
        assert title in out


def test_cli_json_matches_the_library() -> None:
    data = json.loads(_run("features", "--json"))
    assert set(data) == {"program_types", "map_types", "features"}
    assert len(data["features"]) == len(features.FEATURES)
    for name, row in data["features"].items():
        r = features.feature(name)
        assert row == {"supported": r.supported, "reason": r.reason, "min_kernel": r.min_kernel}
    assert data["program_types"]["xdp"]["supported"] is True


def test_cli_helpers() -> None:
    xdp = json.loads(_run("features", "helpers", "--prog-type", "xdp", "--json", "--supported-only"))["helpers"]
    assert "bpf_xdp_adjust_head" in xdp and "bpf_copy_from_user" not in xdp
    assert set(xdp) == set(features.supported_helpers(ProgramType.XDP))
    table = _run("features", "helpers", "--prog-type", "tracepoint")
    row = next(line for line in table.splitlines() if line.startswith("bpf_xdp_adjust_head "))
    assert row.split()[1] == "no" and "cannot use helper" in row
