"""USDT probes on a test binary with a stapsdt note (``<sys/sdt.h>``): the BPF program reads
every argument kind through ``bpf_usdt_arg()`` / ``BPF_USDT``, and a semaphore-guarded probe
fires only while attached."""

from __future__ import annotations

from pathlib import Path

import pytest
from progs_uprobe import (
    U_BIG,
    U_CNT,
    U_CONST,
    U_COOKIE,
    U_GUARDED,
    U_MISSING,
    U_N,
    U_NEG,
    U_X,
    U_Y,
    build_usdt,
    build_usdt_lib,
    ensure_sdt_header,
    load,
    run,
    release,
    start,
    stop,
)

from pybpf.errors import BPFError
from pybpf.link._uprobe_resolve import UprobeTargetError
from pybpf.link.usdt import SPECS_MAP, probes, usdt


@pytest.fixture(scope="module")
def usdt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = ensure_sdt_header()
    if reason:
        pytest.skip(reason)
    return tmp_path_factory.mktemp("usdt")


@pytest.fixture(scope="module", params=["-O0", "-O2"])
def binary(request: pytest.FixtureRequest, usdt_dir: Path) -> Path:
    """-O0 puts the arguments in memory (``-4@-20(%rbp)``), -O2 in registers and constants."""
    return build_usdt(usdt_dir, request.param)


def test_usdt_sees_every_argument_kind(binary: Path) -> None:
    with load("usdt") as obj:
        with usdt(obj.programs["on_args"], binary, "pybpftest", "args", cookie=99) as lk, \
                usdt(obj.programs["on_deref"], binary, "pybpftest", "deref"):
            assert "pybpftest:args" in lk.description
            run(binary, "-7")
        seen = dict(obj.maps["seen"])
        text = obj.maps["text"][0]
    assert seen[U_CNT] == 5
    assert seen[U_N] == -7  # int, negative
    assert seen[U_NEG] == 7  # short, sign-extended from 2 bytes
    assert seen[U_BIG] == -1234567890123  # 8-byte constant or stack slot
    assert seen[U_CONST] == 5  # the literal 5 ($5)
    assert seen[U_COOKIE] == 99
    assert seen[U_MISSING] == -2  # bpf_usdt_arg(ctx, 7, ...) on a 5-argument probe: -ENOENT
    assert bytes(text).rstrip(b"\0") == b"hello usdt"  # a pointer argument, read as a user string
    assert (seen[U_X], seen[U_Y]) == (-14, 21)  # memory at reg and reg+4 (struct fields)


def test_arg_specs_of_the_build(binary: Path) -> None:
    """The parsed specs use the forms the compiler chose (memory at -O0, registers/constants at -O2)."""
    (site,) = probes(binary, "pybpftest", "args")
    kinds = {a.kind.name for a in site.args}
    assert ("REG_DEREF" in kinds) == binary.name.endswith("-O0")
    assert site.args[-1].kind.name == "CONST" and site.args[-1].value == 5
    assert site.semaphore and site.semaphore_offset


def test_semaphore_guarded_probe_fires_only_when_attached(binary: Path) -> None:
    with load("usdt") as obj:
        assert run(binary, "1").strip() == "guarded=0"
        with usdt(obj.programs["on_guarded"], binary, "pybpftest", "guarded"):
            assert run(binary, "1").strip() == "guarded=1"
        assert obj.maps["seen"][U_GUARDED] == 2
        assert run(binary, "1").strip() == "guarded=0"


def test_usdt_in_a_shared_library(usdt_dir: Path) -> None:
    """A probe in a .so: pc and semaphore are file offsets of the library, wherever it is mapped."""
    lib, main = build_usdt_lib(usdt_dir)
    with load("usdt") as obj:
        assert run(main, "3").strip() == "guarded=0"
        with usdt(obj.programs["on_guarded"], lib, "pybpftestlib", "inlib"):
            assert run(main, "3").strip() == "guarded=1"
        assert obj.maps["seen"][U_GUARDED] == 6
        assert run(main, "3").strip() == "guarded=0"


def test_usdt_pid_filter(binary: Path) -> None:
    with load("usdt") as obj:
        chosen, other = start(binary, "100"), start(binary, "200")
        try:
            with usdt(obj.programs["on_args"], binary, "pybpftest", "args", pid=chosen.pid):
                release(chosen)
                release(other)
        finally:
            stop(chosen, other)
        assert obj.maps["seen"][U_N] == 100


def test_spec_slots_are_reused_after_close(binary: Path) -> None:
    """Each attachment takes a spec slot (its cookie) and gives it back on close; a full map
    is reported with what to do."""
    with load("usdt", ["-DPYBPF_USDT_MAX_SPECS=2"]) as obj:
        for _ in range(3):  # more attachments than slots, one at a time
            usdt(obj.programs["on_args"], binary, "pybpftest", "args").close()
        first = usdt(obj.programs["on_args"], binary, "pybpftest", "args")
        second = usdt(obj.programs["on_deref"], binary, "pybpftest", "deref")
        assert sorted(lk.links[0].info().details["cookie"] for lk in (first, second)) == [0, 1]
        with pytest.raises(BPFError, match="PYBPF_USDT_MAX_SPECS"):
            usdt(obj.programs["on_guarded"], binary, "pybpftest", "guarded")
        first.close()
        with usdt(obj.programs["on_guarded"], binary, "pybpftest", "guarded") as third:
            assert third.links[0].info().details["cookie"] == 0
            assert run(binary, "4").strip() == "guarded=1"
        second.close()
        assert obj.maps["seen"][U_GUARDED] == 5


def test_unknown_probe_names_the_known_ones(binary: Path) -> None:
    with load("usdt") as obj, pytest.raises(UprobeTargetError, match="pybpftest:args"):
        usdt(obj.programs["on_args"], binary, "pybpftest", "nope")


def test_program_without_spec_map_is_refused(binary: Path) -> None:
    with load("uprobe") as obj, pytest.raises(BPFError, match=SPECS_MAP):
        usdt(obj.programs["on_add_one"], binary, "pybpftest", "args")


CHILD = """
import sys, time
sys.path.insert(0, {kdir!r})
from progs_uprobe import load
from pybpf.link.usdt import usdt
obj = load("usdt")
lk = usdt(obj.programs["on_guarded"], {binary!r}, "pybpftest", "guarded")
print("ready", flush=True)
time.sleep(60)
"""


def test_sigkilled_tracer_leaves_no_probe_enabled(binary: Path) -> None:
    """The kernel drops the uprobe (and its semaphore count) with the tracer's fds."""
    import signal
    import subprocess
    import sys

    code = CHILD.format(kdir=str(Path(__file__).parent), binary=str(binary))
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            assert run(binary, "1").strip() == "guarded=1"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert run(binary, "1").strip() == "guarded=0"
