"""``pybpf trace`` with its cache of compiled programs, in the kernel: the second run of a one-liner
is served from the cache (nothing of the compiler, nor pybpf.btf, is imported) and prints what the
first printed; the object loaded from the BTF the entry keeps apart is the one a whole load makes."""

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
sys.stderr.write("btf=%s\\n" % ("pybpf.btf" in sys.modules))
sys.stderr.write("compiled=%s\\n" % ("llvmlite" in sys.modules))
sys.exit(rc)
"""


def _trace(cache: Path, *argv: str) -> tuple[str, bool, bool]:
    env = {**os.environ, "PYBPF_CACHE_DIR": str(cache)}
    env.pop("PYBPF_TRACE_CACHE", None)
    done = subprocess.run([sys.executable, "-c", _RUN, "trace", *argv], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr
    btf, report = done.stderr.strip().splitlines()[-2:]
    assert report.startswith("compiled=") and btf.startswith("btf="), done.stderr
    return done.stdout, report == "compiled=True", btf == "btf=True"


def test_second_run_of_a_one_liner_hits_the_cache_and_prints_the_same(tmp_path: Path) -> None:
    # a uniquely named copy of true: its exec is the only one this program sees on a busy machine
    binary = tmp_path / "trcachetrue"
    shutil.copy("/bin/true", binary)
    program = ('tracepoint:syscalls:sys_exit_execve /comm == "trcachetrue"/ '
               '{ printf("exec %s %d\\n", comm, args.ret); @execs[comm] = count(); }')
    cache = tmp_path / "cache"
    first, compiled_first, _ = _trace(cache, "-c", str(binary), "-e", program)
    assert compiled_first
    assert list((cache / "trace").rglob("*.bin")), "the first run stored nothing"
    second, compiled_second, btf_second = _trace(cache, "-c", str(binary), "-e", program)
    assert not compiled_second, "the second run compiled the program again"
    assert not btf_second, "the second run parsed the object's BTF instead of loading the blob kept"
    assert first == second
    assert first.splitlines()[:2] == ["Attaching 1 probe...", "exec trcachetrue 0"]
    assert "@execs[trcachetrue]: 1" in first
    third, compiled_third, _ = _trace(cache, "--no-cache", "-c", str(binary), "-e", program)
    assert compiled_third and third == first


def test_the_btf_kept_apart_loads_the_object_a_whole_load_makes() -> None:
    """Same BTF, same func and line info, same map key/value types in the kernel."""
    from pybpf import _sys
    from pybpf.cli.trace import compile_program
    from pybpf.loader import load_spec
    from pybpf.loader.prepared import prepare_btf

    program = 'tracepoint:syscalls:sys_enter_getppid { @n[comm] = count(); printf("%d\\n", pid); }'
    spec = compile_program(program, "stdin", (), unsafe=False).object_spec
    prepared = prepare_btf(spec)
    assert prepared is not None
    bare, kept = prepared
    whole, fast = load_spec(spec), load_spec(bare, prepared_btf=kept)
    try:
        assert set(whole.programs) == set(fast.programs) and set(whole.maps) == set(fast.maps)
        for name in whole.programs:
            a, b = _sys.prog_info(whole.programs[name].fileno()), _sys.prog_info(fast.programs[name].fileno())
            assert a.info.btf_id and b.info.btf_id
            # (the xlated code differs only in the map addresses: each load has its own maps)
            assert (len(a.xlated), a.func_info, a.line_info) == (len(b.xlated), b.func_info, b.line_info), name
            assert a.func_info and a.line_info
        for name in whole.maps:
            a, b = _sys.map_info(whole.maps[name].fileno()), _sys.map_info(fast.maps[name].fileno())
            assert (a.btf_key_type_id, a.btf_value_type_id) == (b.btf_key_type_id, b.btf_value_type_id), name
            assert bool(a.btf_id) == bool(b.btf_id), name
        assert any(_sys.map_info(m.fileno()).btf_value_type_id for m in fast.maps.values())
    finally:
        for loaded in (whole, fast):
            for prog in loaded.programs.values():
                prog.close()
            for m in loaded.maps.values():
                m.close()


#: what a cached launch must not import (each costs start-up time; see bench/RESULTS.md issue 6):
#: argparse (a plain command line is parsed without it), logging (nothing logged a warning),
#: pathlib (tracefs, sysfs and cache paths are strings), ipaddress, the analyser's model
_NOT_AT_START = ("argparse", "gettext", "logging", "pathlib", "ipaddress", "pybpf.trace.semantic.model",
                 "pybpf.btf", "llvmlite")


def test_a_cached_launch_imports_none_of_what_only_other_paths_need(tmp_path: Path) -> None:
    program = "tracepoint:sched:sched_switch { @switches = count(); } interval:ms:50 { exit(); }"
    env = {**os.environ, "PYBPF_CACHE_DIR": str(tmp_path)}
    env.pop("PYBPF_TRACE_CACHE", None)
    code = ("import sys\nfrom pybpf.cli import main\nrc = main(sys.argv[1:])\nsys.stdout.flush()\n"
            f"sys.stderr.write(' '.join(m for m in {_NOT_AT_START!r} if m in sys.modules) + '\\n')\n"
            "sys.exit(rc)\n")
    for _ in range(2):  # the first run compiles and stores, the second is served from the cache
        done = subprocess.run([sys.executable, "-c", code, "trace", "-e", program], capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "Attaching 2 probes..." and any(line.startswith("@switches: ") for line in out), done.stdout
    assert done.stderr.splitlines()[-1] == "", f"a cached launch imported: {done.stderr.splitlines()[-1]}"
