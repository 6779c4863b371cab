"""User symbolisation on binaries this test builds with gcc: ELF symbols vs nm, PIE and shared
library offset arithmetic through /proc/PID/maps, snapshots of exited processes, fallbacks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybpf.stacks import (
    ElfSymbols, ProcessSymbols, StackError, elf_symbols, parse_maps, read_build_id, sym, usym,
)
from pybpf.stacks.usyms import forget_process

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the test binaries")

LIB_C = """
__attribute__((noinline)) int libfunc(int x) { return x * 3 + 1; }
"""

PROG_C = r"""
#include <stdio.h>
#include <unistd.h>
int libfunc(int);
int global_data = 42;
__attribute__((noinline)) int level3(int x) { return x + 1; }
__attribute__((noinline)) int level2(int x) { return level3(x) * 2; }
static __attribute__((noinline)) int local_helper(int x) { return level2(x) - 1; }
void mangled(void) __asm__("_ZN3foo3barEv");
void mangled(void) {}
int main(void)
{
    char c;
    printf("%lx %lx %lx %lx %lx %lx\n", (unsigned long)level2, (unsigned long)local_helper,
           (unsigned long)libfunc, (unsigned long)&global_data, (unsigned long)mangled, (unsigned long)main);
    fflush(stdout);
    if (read(0, &c, 1) < 0)
        return 1;
    return libfunc(local_helper(1)) == 0;
}
"""


@dataclass(frozen=True)
class Built:
    pie: Path
    nopie: Path
    lib: Path


def _gcc(*args: str | Path) -> None:
    subprocess.run(["gcc", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("usym")
    (out / "lib.c").write_text(LIB_C)
    (out / "prog.c").write_text(PROG_C)
    lib = out / "libustest.so"
    _gcc("-O1", "-g", "-shared", "-fPIC", "-o", lib, out / "lib.c")
    common: list[str | Path] = ["-O1", "-g", "-fno-omit-frame-pointer", out / "prog.c", f"-L{out}", "-lustest", f"-Wl,-rpath,{out}"]
    _gcc("-pie", "-fPIE", "-o", out / "prog_pie", *common)
    _gcc("-no-pie", "-fno-pie", "-o", out / "prog_nopie", *common)
    return Built(out / "prog_pie", out / "prog_nopie", lib)


def _nm(path: Path) -> dict[int, set[str]]:
    """Function symbols as nm prints them: address -> names (aliases share an address)."""
    out = subprocess.run(["nm", "--defined-only", str(path)], check=True, capture_output=True, text=True).stdout
    funcs: dict[int, set[str]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "t", "i") and int(parts[0], 16):
            funcs.setdefault(int(parts[0], 16), set()).add(parts[2])
    return funcs


@pytest.mark.parametrize("which", ["pie", "nopie", "lib"])
def test_elf_symbols_agree_with_nm(built: Built, which: str) -> None:
    path = getattr(built, which)
    syms = ElfSymbols(path)
    nm = _nm(path)
    assert nm
    for address, names in nm.items():
        hit = syms.lookup(address)
        assert hit is not None and hit[0] in names and hit[1] == 0, (hex(address), names, hit)
    expected = {"pie": "level2", "nopie": "level2", "lib": "libfunc"}[which]
    start = syms.address_of(expected)
    assert start is not None and start in nm and expected in nm[start]
    assert syms.lookup(start + 3) == (expected, 3)


def test_offset_arithmetic_matches_readelf(built: Built) -> None:
    syms = ElfSymbols(built.pie)
    headers = subprocess.run(["readelf", "-lW", str(built.pie)], check=True, capture_output=True, text=True).stdout
    loads = [line.split() for line in headers.splitlines() if line.strip().startswith("LOAD")]
    assert [(int(f[1], 16), int(f[2], 16), int(f[4], 16)) for f in loads] == [
        (s.offset, s.vaddr, s.filesz) for s in syms.segments]
    level2 = syms.address_of("level2")
    assert level2 is not None
    offset = syms.offset_of_vaddr(level2)
    assert offset is not None and syms.vaddr_of_offset(offset) == level2
    # the bytes at that file offset are level2's code as objdump shows them
    dump = subprocess.run(["objdump", "-d", f"--start-address={level2:#x}", f"--stop-address={level2 + 4:#x}",
                           str(built.pie)], check=True, capture_output=True, text=True).stdout
    code = bytes.fromhex("".join(re.findall(r"^\s*[0-9a-f]+:\s+((?:[0-9a-f]{2} )+)", dump, re.M)).replace(" ", ""))
    assert built.pie.read_bytes()[offset:offset + len(code)] == code[:4]


def test_synthetic_pie_mapping(built: Built) -> None:
    """A PIE mapped at 0x555555554000 the way the kernel maps it: one mapping per PT_LOAD."""
    syms = ElfSymbols(built.pie)
    base = 0x555555554000
    lines = []
    for seg in syms.segments:
        page = seg.vaddr & ~0xFFF
        lines.append(f"{base + page:x}-{base + ((seg.vaddr + seg.memsz + 0xFFF) & ~0xFFF):x} r-xp "
                     f"{seg.offset & ~0xFFF:08x} 08:01 {os.stat(built.pie).st_ino} {built.pie}")
    proc = ProcessSymbols(1 << 30, maps_text="\n".join(lines), root="/")
    level2 = syms.address_of("level2")
    assert level2 is not None
    sym = proc.lookup(base + level2 + 7)
    assert (sym.name, sym.offset, sym.module) == ("level2", 7, str(built.pie))
    outside = proc.lookup(0x1000)
    assert not outside.known and outside.module is None


class Running:
    def __init__(self, exe: Path) -> None:
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        fields = self.proc.stdout.readline().split()
        self.level2, self.local_helper, self.libfunc, self.data, self.mangled, self.main = (int(f, 16) for f in fields)

    def finish(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("g")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(params=["pie", "nopie"])
def running(request: pytest.FixtureRequest, built: Built) -> Iterator[Running]:
    run = Running(getattr(built, request.param))
    yield run
    if run.proc.poll() is None:
        run.finish()


def test_live_process_functions_and_shared_library(running: Running, built: Built) -> None:
    syms = ProcessSymbols(running.proc.pid)
    exe = str(running.proc.args[0])  # type: ignore[index]
    assert str(syms.lookup(running.level2)) == f"level2 [{exe}]"
    assert str(syms.lookup(running.level2 + 0x5)) == f"level2+0x5 [{exe}]"
    assert syms.lookup(running.local_helper + 1).name == "local_helper"  # .symtab (static function)
    lib = syms.lookup(running.libfunc + 2)
    if exe.endswith("_pie"):
        assert (lib.name, lib.offset, lib.module) == ("libfunc", 2, str(built.lib))
    else:  # -no-pie code takes a library function's address as its PLT stub in the executable
        assert (lib.name, lib.module) == ("[unknown]", exe)
        in_lib = _address_in(syms, built.lib, "libfunc")
        assert (syms.lookup(in_lib + 2).name, syms.lookup(in_lib + 2).module) == ("libfunc", str(built.lib))
    assert usym(running.proc.pid, running.main).name == "main"
    assert sym(running.main, running.proc.pid).name == "main"  # bcc's BPF.sym(addr, pid) order
    forget_process(running.proc.pid)


def _address_in(syms: ProcessSymbols, path: Path, name: str) -> int:
    """Where function ``name`` of ``path`` is in the process: the mapping arithmetic done by hand."""
    elf = ElfSymbols(path)
    vaddr = elf.address_of(name)
    assert vaddr is not None
    offset = elf.offset_of_vaddr(vaddr)
    assert offset is not None
    m = next(m for m in syms.maps if m.path == str(path) and m.offset <= offset < m.offset + m.end - m.start)
    return m.start + offset - m.offset


def test_unknown_keeps_module_and_file_offset(running: Running) -> None:
    syms = ProcessSymbols(running.proc.pid)
    sym = syms.lookup(running.data)  # a global variable: in the file, in no function
    exe = str(running.proc.args[0])  # type: ignore[index]
    assert (sym.name, sym.module) == ("[unknown]", exe)
    mapping = syms.mapping_of(running.data)
    assert mapping is not None and sym.offset == running.data - mapping.start + mapping.offset
    assert str(sym) == f"[unknown] [{exe}]"
    stack = next(m for m in syms.maps if m.path == "[stack]")
    assert syms.lookup(stack.start + 8).module == "[stack]"


def test_snapshot_outlives_the_process(running: Running) -> None:
    pid = running.proc.pid
    snapshot = ProcessSymbols(pid)
    running.finish()
    assert not Path(f"/proc/{pid}").exists()
    assert snapshot.lookup(running.level2 + 1).name == "level2"
    assert snapshot.lookup(running.local_helper).name == "local_helper"
    with pytest.raises(StackError, match=r"does not exist.*at sample time"):
        ProcessSymbols(pid)


def test_demangling_uses_cxxfilt_only_when_installed(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cxxfilt", None)  # not importable
    assert ProcessSymbols(running.proc.pid).lookup(running.mangled).name == "_ZN3foo3barEv"
    fake = types.ModuleType("cxxfilt")
    fake.demangle = lambda name: {"_ZN3foo3barEv": "foo::bar()"}[name]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cxxfilt", fake)
    assert ProcessSymbols(running.proc.pid).lookup(running.mangled).name == "foo::bar()"
    assert ProcessSymbols(running.proc.pid).lookup(running.level2).name == "level2"
    assert ProcessSymbols(running.proc.pid, demangle=False).lookup(running.mangled).name == "_ZN3foo3barEv"


def test_stripped_file_uses_dynsym_then_debug_file(built: Built, tmp_path: Path) -> None:
    stripped = tmp_path / "prog_stripped"
    shutil.copy(built.pie, stripped)
    subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
    level2 = ElfSymbols(built.pie).address_of("level2")
    assert level2 is not None
    assert ElfSymbols(stripped, debug_root=None).lookup(level2) is None
    build_id = read_build_id(stripped)
    assert build_id is not None and build_id == read_build_id(built.pie)
    debug = tmp_path / "debug" / build_id[:2] / f"{build_id[2:]}.debug"
    debug.parent.mkdir(parents=True)
    shutil.copy(built.pie, debug)
    with_debug = ElfSymbols(stripped, debug_root=tmp_path / "debug")
    assert with_debug.lookup(level2) == ("level2", 0) and with_debug.debug_file == str(debug)


def test_files_are_cached_until_they_change(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "lib.so"
    shutil.copy(built.lib, copy)
    first = elf_symbols(copy)
    assert elf_symbols(copy) is first
    os.utime(copy, ns=(1, 1))
    assert elf_symbols(copy) is not first
    with pytest.raises(StackError, match="cannot read the symbols"):
        elf_symbols(tmp_path / "missing")
    (tmp_path / "not_elf").write_text("hello")
    with pytest.raises(StackError, match="cannot read the symbols"):
        ElfSymbols(tmp_path / "not_elf")


def test_perf_map_names_jitted_code(tmp_path: Path) -> None:
    perf_map = tmp_path / "perf-1.map"
    perf_map.write_text("7f0000001000 100 py::jitted_fn\n7f0000002000 10 other\n")
    maps = ("7f0000000000-7f0000010000 rwxp 00000000 00:00 0 \n"
            "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n")
    syms = ProcessSymbols(1, maps_text=maps, perf_map=perf_map)
    assert str(syms.lookup(0x7F0000001010)) == "py::jitted_fn+0x10 [perf-map]"
    assert str(syms.lookup(0x7F0000003000)) == "[unknown] [anon]"


def test_parse_maps() -> None:
    text = ("00400000-00401000 r--p 00000000 08:01 1234 /usr/bin/x\n"
            "7f00-8f00 r-xp 00001000 08:01 99 /tmp/gone (deleted)\n"
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n")
    maps = parse_maps(text)
    assert [m.start for m in maps] == [0x7F00, 0x400000, 0xFFFFFFFFFF600000]
    gone = maps[0]
    assert gone.deleted and gone.file_path == "/tmp/gone" and gone.file_offset(0x7F10) == 0x1010
    assert maps[1].file_backed and not maps[2].file_backed and maps[2].path == "[vsyscall]"


def test_vdso_functions_are_named() -> None:
    syms = ProcessSymbols(os.getpid())
    vdso = next(m for m in syms.maps if m.path == "[vdso]")
    data = Path(f"/proc/{os.getpid()}/mem")
    with data.open("rb", buffering=0) as mem:
        mem.seek(vdso.start)
        image = mem.read(vdso.end - vdso.start)
    elf = ElfSymbols.from_bytes(image, "[vdso]")
    start = elf.address_of("__vdso_clock_gettime")
    assert start is not None
    assert str(syms.lookup(vdso.start + start + 4)) == "__vdso_clock_gettime+0x4 [vdso]"


def test_preload_survives_the_binary_being_deleted(built: Built, tmp_path: Path) -> None:
    exe = tmp_path / "prog_copy"
    shutil.copy(built.pie, exe)
    runs = [Running(exe), Running(exe)]
    loaded = ProcessSymbols(runs[0].proc.pid, preload=True)
    lazy = ProcessSymbols(runs[1].proc.pid)
    for run in runs:
        run.finish()
    exe.unlink()
    assert loaded.lookup(runs[0].level2).name == "level2"
    gone = lazy.lookup(runs[1].level2)  # its file vanished before anything read it
    assert (gone.name, gone.module) == ("[unknown]", str(exe))


def test_library_loaded_after_the_snapshot(built: Built, tmp_path: Path) -> None:
    import ctypes

    lib_copy = tmp_path / "libcopy.so"  # a file this process has not mapped yet
    shutil.copy(built.lib, lib_copy)
    syms = ProcessSymbols(os.getpid())
    lib = ctypes.CDLL(str(lib_copy))
    address = ctypes.cast(lib.libfunc, ctypes.c_void_p).value
    assert address is not None
    assert syms.mapping_of(address) is None  # not in the snapshot...
    assert str(syms.lookup(address + 1)) == f"libfunc+0x1 [{lib_copy}]"  # ...so the maps are read again
    assert syms.mapping_of(address) is not None
