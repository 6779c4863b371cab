"""``pybpf trace`` with its cache of compiled programs, in the kernel: the second run of a one-liner
is served from the cache (nothing of the compiler is imported) and prints what the first printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: runs the CLI in-process, then reports on stderr whether the compiler (llvmlite) was imported
_RUN = """
import sys
from pybpf.cli import main
rc = main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write("compiled=%s\\n" % ("llvmlite" in sys.modules))
sys.exit(rc)
"""


def _trace(cache: Path, *argv: str) -> tuple[str, bool]:
    env = {**os.environ, "PYBPF_CACHE_DIR": str(cache)}
    env.pop("PYBPF_TRACE_CACHE", None)
    done = subprocess.run([sys.executable, "-c", _RUN, "trace", *argv], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr
    report = done.stderr.strip().splitlines()[-1]
    assert report.startswith("compiled="), done.stderr
    return done.stdout, report == "compiled=True"


def test_second_run_of_a_one_liner_hits_the_cache_and_prints_the_same(tmp_path: Path) -> None:
    # a uniquely named copy of true: its exec is the only one this program sees on a busy machine
    binary = tmp_path / "trcachetrue"
    shutil.copy("/bin/true", binary)
    program = ('tracepoint:syscalls:sys_exit_execve /comm == "trcachetrue"/ '
               '{ printf("exec %s %d\\n", comm, args.ret); @execs[comm] = count(); }')
    cache = tmp_path / "cache"
    first, compiled_first = _trace(cache, "-c", str(binary), "-e", program)
    assert compiled_first
    assert list((cache / "trace").rglob("*.bin")), "the first run stored nothing"
    second, compiled_second = _trace(cache, "-c", str(binary), "-e", program)
    assert not compiled_second, "the second run compiled the program again"
    assert first == second
    assert first.splitlines()[:2] == ["Attaching 1 probe...", "exec trcachetrue 0"]
    assert "@execs[trcachetrue]: 1" in first
    third, compiled_third = _trace(cache, "--no-cache", "-c", str(binary), "-e", program)
    assert compiled_third and third == first
