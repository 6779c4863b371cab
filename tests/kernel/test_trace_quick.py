"""The lean start of a cached ``pybpf trace`` (pybpf.trace.quick) in the kernel: the first run of a
program records its load and attach, the next runs replay it before importing the loader or the
runtime and print exactly what the ordinary start prints — whatever the first record is (printf,
time(), exit(), BEGIN's output), on Ctrl-C before any event, and when the recording no longer
replays (the ordinary start takes over)."""

from __future__ import annotations

import marshal
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest
from progs_trace import build_target, wait_attached

from pybpf.trace.cache import MAGIC

#: the CLI in-process; on exit, says on stderr which start it took (the lean start never imports
#: the loader pipeline; the ordinary one always does)
_RUN = """
import sys
from pybpf.cli import main
try:
    rc = main(sys.argv[1:])
finally:
    sys.stdout.flush()
    sys.stderr.write("lean=%s\\n" % ("pybpf._sys.replay" in sys.modules and "pybpf.loader.pipeline" not in sys.modules))
sys.exit(rc)
"""

#: makes getppid() calls under the comm ``trquick`` (prctl PR_SET_NAME), then exits
_TRIGGER = ("import ctypes, os, sys; ctypes.CDLL(None).prctl(15, b'trquick', 0, 0, 0); "
            "[os.getppid() for _ in range(int(sys.argv[1]))]")


def _trigger(n: int = 3) -> None:
    subprocess.run([sys.executable, "-c", _TRIGGER, str(n)], check=True, timeout=60)


class Launched(NamedTuple):
    lines: list[str]
    lean: bool  # whether the lean start ran
    returncode: int
    stderr: str


def _launch(cache: Path, program: str, *, trigger: int | Callable[[], object] = 3,
            interrupt_after: float | None = 0.3, settle: float = 0.2,
            python_options: Sequence[str] = ()) -> Launched:
    """Run ``program``: wait for the Attaching line, run the trigger, then Ctrl-C (unless the
    program ends by itself)."""
    env = {**os.environ, "PYBPF_CACHE_DIR": str(cache)}
    env.pop("PYBPF_TRACE_CACHE", None)
    proc = subprocess.Popen([sys.executable, *python_options, "-c", _RUN, "trace", "-e", program],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = wait_attached(proc, 60)  # byte by byte: a lean start writes its first events right after
        time.sleep(settle)
        if callable(trigger):
            trigger()
        elif trigger:
            _trigger(trigger)
        if interrupt_after is not None:
            time.sleep(interrupt_after)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    report = err.decode().strip().splitlines()
    assert report and report[-1].startswith("lean="), err.decode()
    return Launched((first + out.decode()).splitlines(), report[-1] == "lean=True", proc.returncode, err.decode())


def _twice(tmp_path: Path, program: str, **kw: object) -> tuple[list[str], list[str]]:
    cache = tmp_path / "cache"
    first, lean_first, rc1, _ = _launch(cache, program, **kw)  # type: ignore[arg-type]
    second, lean_second, rc2, _ = _launch(cache, program, **kw)  # type: ignore[arg-type]
    assert not lean_first and lean_second, "the second run did not start from the recording"
    assert rc1 == rc2 == 0
    return first, second


@pytest.mark.parametrize("program, expected", [
    # printf first: printed by the lean start itself
    ('tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { printf("%s %d\\n", comm, 7); }',
     ["Attaching 1 probe...", "trquick 7", "trquick 7", "trquick 7", "", ""]),
    # a map and printf: the map printed at Ctrl-C by the runtime after the hand-over
    ('tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { @n[comm] = count(); printf("x\\n"); }',
     ["Attaching 1 probe...", "x", "x", "x", "", "", "@n[trquick]: 3"]),
    # time() first: a record the lean start leaves to the runtime
    ('tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { time("T\\n"); printf("y\\n"); }',
     ["Attaching 1 probe...", "T", "y", "T", "y", "T", "y", "", ""]),
])
def test_the_lean_start_prints_what_the_ordinary_start_prints(tmp_path: Path, program: str,
                                                              expected: list[str]) -> None:
    first, second = _twice(tmp_path, program)
    assert first == expected
    assert second == first


def test_begin_exit_and_end_across_the_hand_over(tmp_path: Path) -> None:
    program = ('BEGIN { printf("begin %d\\n", 42); } '
               'tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { printf("got %s\\n", comm); exit(); } '
               'END { printf("end\\n"); }')
    first, second = _twice(tmp_path, program, interrupt_after=None)  # exit() ends both
    assert first[:4] == ["Attaching 3 probes...", "begin 42", "got trquick", "end"]
    assert second == first


def test_uprobes_and_uretprobes_start_lean(tmp_path: Path) -> None:
    """A uprobe's perf event names its PMU by a number given out at boot and its binary by a
    pointer: the recording keeps the path, the replay reads the PMU's number again."""
    target = build_target(tmp_path)
    program = (f'uprobe:{target}:work {{ printf("work(%d, %d)\\n", arg0, arg1); }} '
               f'uretprobe:{target}:work {{ printf("= %d\\n", retval); }}')
    first, second = _twice(tmp_path, program, trigger=lambda: subprocess.run([str(target), "2"], check=True,
                                                                              capture_output=True, timeout=60))
    assert first == ["Attaching 2 probes...", "work(6, 7)", "= 43", "work(6, 8)", "= 49", "", ""]
    assert second == first


def test_ctrl_c_before_any_event_runs_end_and_prints_the_maps(tmp_path: Path) -> None:
    program = ('tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { @c = count(); } '
               'END { printf("end\\n"); }')
    cache = tmp_path / "cache"
    first, lean, _, _ = _launch(cache, program, trigger=0, interrupt_after=0.0, settle=0.0)
    assert not lean
    second, lean, rc, _ = _launch(cache, program, trigger=0, interrupt_after=0.0, settle=0.0)
    assert lean and rc == 0
    assert second == first == ["Attaching 2 probes...", "end", "", "", "@c: 0"]


def _tracepoint_gone(step: tuple[object, ...]) -> tuple[object, ...]:
    """The tracepoint is gone (a module unloaded...): found before anything is made or printed."""
    patches = [(p[0], p[1], "nosuch", "nosuch") if p[1] == "tracepoint" else p for p in step[2]]  # type: ignore[attr-defined]
    return (step[0], step[1], patches, *step[3:])


def _pmu_refused(step: tuple[object, ...]) -> tuple[object, ...]:
    """A perf event type no kernel has: perf_event_open fails after the Attaching line is out
    (which the ordinary start then does not print again)."""
    return (step[0], (0xFFFF).to_bytes(4, "little") + step[1][4:], *step[2:])  # type: ignore[index]


@pytest.mark.parametrize("damage", [_tracepoint_gone, _pmu_refused])
def test_a_recording_that_no_longer_replays_gives_way_to_the_ordinary_start(
        tmp_path: Path, damage: Callable[[tuple[object, ...]], tuple[object, ...]]) -> None:
    program = 'tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { printf("%s\\n", comm); }'
    cache = tmp_path / "cache"
    first, _, _, _ = _launch(cache, program)
    [entry_file] = list((cache / "trace").rglob("*.bin"))
    entry = marshal.loads(entry_file.read_bytes()[len(MAGIC):])
    record = entry[5]
    assert isinstance(record, dict)
    steps = [damage(s) if s[0] == "perf" else s for s in record["steps"]]
    entry_file.write_bytes(MAGIC + marshal.dumps((*entry[:5], {**record, "steps": steps})))
    second, lean, rc, _ = _launch(cache, program)
    assert not lean and rc == 0
    assert second == first == ["Attaching 1 probe...", "trquick", "trquick", "trquick", "", ""]
    third, lean, _, _ = _launch(cache, program)  # the ordinary start recorded the launch again
    assert lean and third == first


def test_a_start_that_cannot_be_replayed_is_recorded_as_such_once(tmp_path: Path) -> None:
    """An iterator's link cannot be replayed: the entry says so, and later runs neither try the
    lean start nor record again."""
    program = 'iter:task { @tasks = count(); }'
    cache = tmp_path / "cache"
    first, lean, rc, _ = _launch(cache, program, trigger=0, interrupt_after=None, settle=0.0)
    assert not lean and rc == 0 and first[0] == "Attaching 1 probe..." and first[-1].startswith("@tasks: ")
    [entry_file] = list((cache / "trace").rglob("*.bin"))
    record = marshal.loads(entry_file.read_bytes()[len(MAGIC):])[5]
    assert "unusable" in record and "links of attach type" in record["unusable"]
    inode = entry_file.stat().st_ino
    second, lean, rc, _ = _launch(cache, program, trigger=0, interrupt_after=None, settle=0.0)
    assert not lean and rc == 0 and second[0] == first[0] and second[-1].startswith("@tasks: ")
    assert entry_file.stat().st_ino == inode  # read again (touched), not written again


def test_options_the_lean_start_does_not_handle_take_the_ordinary_start(tmp_path: Path) -> None:
    """-f json (and -c, -p, -o) go the ordinary way even with a launch record."""
    program = 'tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { printf("%s\\n", comm); }'
    cache = tmp_path / "cache"
    _launch(cache, program)
    env = {**os.environ, "PYBPF_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _RUN, "trace", "-f", "json", "-e", "BEGIN { exit(); }"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and done.stderr.strip().endswith("lean=False"), done.stderr
    assert '"type": "attached_probes"' in done.stdout


def test_a_cached_launch_imports_nothing_heavy_before_it_is_attached(tmp_path: Path) -> None:
    """Up to the first event, a lean start imports none of typing, enum, dataclasses, re, the
    loader or the runtime (``-X importtime`` lists imports in order; the runtime comes after)."""
    program = 'tracepoint:syscalls:sys_enter_getppid /comm == "trquick"/ { printf("%s\\n", comm); }'
    cache = tmp_path / "cache"
    _launch(cache, program)
    err = _launch(cache, program, trigger=1, python_options=["-X", "importtime"]).stderr
    order = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")]
    assert "pybpf._sys.replay" in order and "pybpf.trace.runtime.session" in order
    # (a line is written when its module is done: the lean start's last imports are the ring
    # buffer reader's mmap and select; the hand-over's modules come after them)
    before = set(order[:max(order.index("mmap"), order.index("select")) + 1])
    heavy = {"typing", "enum", "dataclasses", "re", "threading", "signal", "inspect", "pybpf.enums", "pybpf.spec",
             "pybpf.loader", "pybpf.loader.pipeline", "pybpf._sys.syscall", "pybpf._sys.attrs", "pybpf.map",
             "pybpf.program", "pybpf.trace.types", "pybpf.trace.layouts"}
    assert not heavy & before, sorted(heavy & before)
