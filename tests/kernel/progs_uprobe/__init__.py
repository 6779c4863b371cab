"""Fixture programs of the uprobe/USDT tests: BPF objects and host binaries built with gcc.

``from progs_uprobe import build_targets, load, ensure_sdt_header``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pybpf
import pybpf.cc

HERE = Path(__file__).parent
#: The Debian package that provides <sys/sdt.h> (scripts/test installs it as well).
SDT_PACKAGE = "systemtap-sdt-dev"

# the BPF programs' event ids (see uprobe.bpf.c / usdt.bpf.c)
EV_ENTRY_ARG, EV_RET, EV_LIB_ARG, EV_LIB_RET, EV_MALLOC_SIZE, EV_MALLOC_CALLS = 1, 2, 3, 4, 5, 6
EV_COOKIE, EV_MULTI_CALLS, EV_MULTI_COOKIES, EV_MUL_A, EV_MUL_B = 7, 8, 9, 10, 11
U_CNT, U_N, U_NEG, U_BIG, U_CONST, U_COOKIE, U_X, U_Y, U_GUARDED, U_MISSING = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10


def load(name: str, cflags: list[str] | None = None) -> pybpf.Collection:
    """Compile ``<name>.bpf.c`` and load it."""
    return pybpf.load(pybpf.cc.compile(HERE / f"{name}.bpf.c", cflags=cflags or []))


def gcc(*args: str | os.PathLike[str]) -> None:
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is needed to build the uprobe test binaries (apt-get install gcc)")
    subprocess.run(["gcc", *map(str, args)], check=True, capture_output=True)


@dataclass(frozen=True)
class Targets:
    nopie: Path  # -no-pie, linked against libuptarget.so (rpath)
    pie: Path  # PIE, no library
    lib: Path  # libuptarget.so


def build_targets(out: Path) -> Targets:
    """Build target.c (-no-pie with the library, and PIE) and libuptarget.so into ``out``."""
    lib = out / "libuptarget.so"
    gcc("-O1", "-g", "-shared", "-fPIC", "-o", lib, HERE / "libuptarget.c")
    nopie = out / "target_nopie"
    gcc("-O1", "-g", "-no-pie", "-fno-pie", "-DWITH_LIB", "-o", nopie, HERE / "target.c", f"-L{out}", "-luptarget",
        f"-Wl,-rpath,{out}")
    pie = out / "target_pie"
    gcc("-O1", "-g", "-pie", "-fPIE", "-o", pie, HERE / "target.c")
    return Targets(nopie, pie, lib)


def ensure_sdt_header() -> str | None:
    """Install systemtap-sdt-dev if <sys/sdt.h> is missing (as root); None if it is there, else why not."""
    probe = subprocess.run(["gcc", "-E", "-x", "c", "-"], input=b"#include <sys/sdt.h>\n", capture_output=True)
    if probe.returncode == 0:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"<sys/sdt.h> is missing: apt-get install {SDT_PACKAGE}"
    res = subprocess.run(["apt-get", "install", "-y", SDT_PACKAGE], capture_output=True, text=True)
    if res.returncode != 0:
        return f"apt-get install {SDT_PACKAGE} failed: {res.stderr.strip()[-300:]}"
    return None


def build_usdt(out: Path, opt: str) -> Path:
    """usdt_target.c built at optimisation level ``opt`` ("-O0": memory operands, "-O2": registers)."""
    path = out / f"usdt_target{opt}"
    gcc(opt, "-o", path, HERE / "usdt_target.c")
    return path


def build_usdt_lib(out: Path) -> tuple[Path, Path]:
    """libusdt.so (a semaphore-guarded probe) and a program using it: (library, program)."""
    lib = out / "libusdt.so"
    gcc("-O2", "-shared", "-fPIC", "-o", lib, HERE / "libusdt.c")
    main = out / "usdt_lib_main"
    gcc("-O2", "-o", main, HERE / "usdt_lib_main.c", f"-L{out}", "-lusdt", f"-Wl,-rpath,{out}")
    return lib, main


def run(binary: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a target to completion (it waits for one line on stdin first)."""
    res = subprocess.run([str(binary), *args], input=b"go\n", capture_output=True, check=True, env=env, timeout=30)
    return res.stdout.decode()


def start(binary: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start a target; it waits for :func:`release` before calling its functions."""
    return subprocess.Popen([str(binary), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def release(proc: subprocess.Popen[bytes]) -> str:
    out, _ = proc.communicate(b"go\n", timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
    return out.decode()


def stop(*procs: subprocess.Popen[bytes]) -> None:
    """Kill (and reap) each target still running: the cleanup after a failed test."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
