"""Helpers for the ``pybpf trace`` end-to-end tests: run the CLI (or Debian's bpftrace) on a
program, trigger the traced event while it runs, stop it with SIGINT, return what it printed."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
PYBPF = [str(Path(sys.executable).with_name("pybpf"))]


@dataclass
class Run:
    stdout: str
    stderr: str
    returncode: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def wait_attached(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line ("Attaching N probes..."), read byte by byte so nothing after it is
    left in a buffer; raises with stderr when the tool died."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"tracer printed no line in {timeout}s; stderr: {err.decode(errors='replace')}")
        byte = os.read(fd, 1)
        if not byte:
            _, err = proc.communicate()
            raise AssertionError(f"tracer exited ({proc.returncode}) before attaching; "
                                 f"stderr: {err.decode(errors='replace')}")
        line += byte
    return line.decode()


def trace(program: str, trigger: Callable[[], object] | None = None, *, tool: Sequence[str] | None = None,
          args: Sequence[str] = (), settle: float = 0.4, linger: float = 0.3, timeout: float = 60.0,
          interrupt: bool = True) -> Run:
    """Run ``program`` under the tracer, call ``trigger`` once it is attached, then Ctrl-C it."""
    cmd = [*(tool or [*PYBPF, "trace"]), "-e", program, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = wait_attached(proc, timeout)
        time.sleep(settle)
        if trigger is not None:
            trigger()
        time.sleep(linger)
        if interrupt and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        raw_out, raw_err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out, err = raw_out.decode(errors="replace"), raw_err.decode(errors="replace")
    err = "\n".join(line for line in err.splitlines() if "RLIMIT_MEMLOCK" not in line)
    return Run(first + out, err, proc.returncode)


def bpftrace(program: str, trigger: Callable[[], object] | None = None, **kw: object) -> Run:
    """The same run under Debian's bpftrace."""
    return trace(program, trigger, tool=["bpftrace"], **kw)  # type: ignore[arg-type]


def have_bpftrace() -> bool:
    return shutil.which("bpftrace") is not None


def run_quiet(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def build_target(tmp: Path) -> Path:
    """Compile target.c (with symbols) into ``tmp``."""
    out = tmp / "trtarget"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O1", "-g", "-fno-inline", "-o", str(out),
                    str(HERE / "target.c")], check=True)
    return out


def copy_binary(src: str, tmp: Path, name: str) -> Path:
    """A copy of ``src`` under a unique name, so its comm identifies the test's processes."""
    dst = tmp / name
    shutil.copy(shutil.which(src) or src, dst)
    os.chmod(dst, 0o755)
    return dst
