"""Symbol -> file offset and library-name resolution for uprobes, checked against what
``nm``, ``readelf`` and ``ldconfig -p`` say about binaries the test builds with gcc and libc."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pybpf.errors import ELFError
from pybpf.link._uprobe_resolve import (
    BinaryImage,
    UprobeTargetError,
    find_library,
    ld_so_cache,
    parse_ld_so_cache,
    split_symbol,
)

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("readelf") is None,
                                reason="needs gcc and binutils (apt-get install gcc binutils)")

PROGRAM = r"""
#include <stdio.h>
__attribute__((noinline)) int add_one(int x) { asm volatile("" ::: "memory"); return x + 1; }
__attribute__((noinline)) long mul_sub(long a, long b) { asm volatile("" ::: "memory"); return a * b - 7; }
static __attribute__((noinline, used)) int local_helper(int x) { asm volatile("" ::: "memory"); return x ^ 3; }
int main(int argc, char **argv) { (void)argv; printf("%ld\n", add_one(argc) + mul_sub(argc, 2)); return 0; }
"""

VERSIONED_LIB = r"""
__attribute__((noinline)) int foo_v1(int x) { asm volatile("" ::: "memory"); return x + 1; }
__attribute__((noinline)) int foo_v2(int x) { asm volatile("" ::: "memory"); return x + 2; }
__attribute__((noinline)) int plain(int x) { asm volatile("" ::: "memory"); return x * 2; }
__asm__(".symver foo_v1, foo@VERS_1");
__asm__(".symver foo_v2, foo@@VERS_2");
"""
VERSION_SCRIPT = "VERS_1 { global: foo; plain; local: *; };\nVERS_2 { global: foo; } VERS_1;\n"


def _gcc(*args: str | Path) -> None:
    subprocess.run(["gcc", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("resolve")
    (d / "prog.c").write_text(PROGRAM)
    (d / "vlib.c").write_text(VERSIONED_LIB)
    (d / "vlib.map").write_text(VERSION_SCRIPT)
    _gcc("-O1", "-no-pie", "-fno-pie", "-o", d / "nopie", d / "prog.c")
    _gcc("-O1", "-pie", "-fPIE", "-o", d / "pie", d / "prog.c")
    _gcc("-O1", "-shared", "-fPIC", "-o", d / "libshared.so", d / "prog.c")
    _gcc("-O1", "-shared", "-fPIC", f"-Wl,--version-script={d / 'vlib.map'}", "-Wl,-soname,libvtest.so.1",
         "-o", d / "libvtest.so.1", d / "vlib.c")
    return {"nopie": d / "nopie", "pie": d / "pie", "shared": d / "libshared.so", "vlib": d / "libvtest.so.1"}


# -- what binutils says ---------------------------------------------------------------------


def _loads(path: Path) -> list[tuple[int, int, int]]:
    """(offset, vaddr, memsz) of each PT_LOAD, from ``readelf -lW``."""
    out = subprocess.run(["readelf", "-lW", str(path)], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            rows.append((int(f[1], 16), int(f[2], 16), int(f[5], 16)))
    return rows


def _expected_offset(path: Path, vaddr: int) -> int:
    for off, va, memsz in _loads(path):
        if va <= vaddr < va + memsz:
            return vaddr - va + off
    raise AssertionError(f"{vaddr:#x} in no PT_LOAD of {path}")


def _nm(path: Path, *flags: str) -> dict[str, int]:
    out = subprocess.run(["nm", *flags, str(path)], check=True, capture_output=True, text=True).stdout
    return {f[2]: int(f[0], 16) for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and f[1] in "TtWi"}


def _dynsyms(path: Path) -> dict[str, int]:
    """``name@@VER`` / ``name@VER`` -> value, from ``readelf -W --dyn-syms`` (FUNC and IFUNC)."""
    out = subprocess.run(["readelf", "-W", "--dyn-syms", str(path)], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] in ("FUNC", "IFUNC") and f[6] != "UND":
            syms[f[7]] = int(f[1], 16)
    return syms


# -- symbols --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nopie", "pie", "shared"])
def test_offsets_match_nm_and_program_headers(built: dict[str, Path], kind: str) -> None:
    path = built[kind]
    image = BinaryImage.open(path)
    addresses = _nm(path)
    for name in ("add_one", "mul_sub", "local_helper", "main"):
        target = image.resolve(name)
        assert target.address == addresses[name]
        assert target.offset == _expected_offset(path, addresses[name]), name
    assert image.pie == (kind != "nopie")


def test_no_pie_offsets_are_not_addresses(built: dict[str, Path]) -> None:
    """The -no-pie arithmetic is not the identity (vaddrs start near 0x400000)."""
    target = BinaryImage.open(built["nopie"]).resolve("add_one")
    assert target.address >= 0x400000 and target.offset < 0x400000


def test_offset_inside_function_and_addresses(built: dict[str, Path]) -> None:
    image = BinaryImage.open(built["pie"])
    base = image.resolve("add_one")
    assert image.resolve("main+0x4").offset == image.resolve("main").offset + 4
    assert image.resolve("add_one", 2).offset == base.offset + 2
    assert image.resolve("main+0x4").symbol == "main+0x4"
    assert image.resolve(base.address).offset == base.offset
    assert image.resolve(hex(base.address)).offset == base.offset
    with pytest.raises(UprobeTargetError, match="past the end"):
        image.resolve("add_one+0x10000")
    with pytest.raises(UprobeTargetError, match="no PT_LOAD"):
        image.resolve(0x7FFF_FFFF_0000)


def test_unknown_symbol(built: dict[str, Path]) -> None:
    with pytest.raises(UprobeTargetError, match="no function symbol 'nope'.*nm -D"):
        BinaryImage.open(built["pie"]).resolve("nope")


def test_versioned_symbols_of_a_built_library(built: dict[str, Path]) -> None:
    path = built["vlib"]
    image = BinaryImage.open(path)
    dyn = _dynsyms(path)
    assert dyn["foo@@VERS_2"] != dyn["foo@VERS_1"]
    assert image.resolve("foo").address == dyn["foo@@VERS_2"]  # the default version
    assert image.resolve("foo@@VERS_2").address == dyn["foo@@VERS_2"]
    assert image.resolve("foo@VERS_2").address == dyn["foo@@VERS_2"]
    assert image.resolve("foo@VERS_1").address == dyn["foo@VERS_1"]
    assert image.resolve("foo@VERS_1").symbol == "foo@VERS_1"
    assert image.resolve("plain").symbol == "plain@@VERS_1"
    with pytest.raises(UprobeTargetError, match=r"foo@VERS_1.*foo@@VERS_2|foo@@VERS_2.*foo@VERS_1"):
        image.resolve("foo@@VERS_1")  # VERS_1 is not foo's default version
    for spec in ("foo", "foo@VERS_1"):
        t = image.resolve(spec)
        assert t.offset == _expected_offset(path, t.address)


@pytest.mark.parametrize("spec", ["malloc", "malloc@@GLIBC_2.2.5", "malloc@GLIBC_2.2.5", "free", "memcpy",
                                  "memcpy@GLIBC_2.2.5"])
def test_versioned_symbols_in_libc(spec: str) -> None:
    libc = Path(find_library("c"))
    dyn = _dynsyms(libc)
    image = BinaryImage.open(libc)
    target = image.resolve(spec)
    if "@" in spec:
        key = spec if spec in dyn else spec.replace("@", "@@", 1)
    else:
        key = next(k for k in dyn if k.startswith(spec + "@@"))
    assert target.address == dyn[key]
    assert target.offset == _expected_offset(libc, dyn[key])


def test_libc_memcpy_versions_differ() -> None:
    """memcpy has an old GLIBC_2.2.5 and a default GLIBC_2.14 version at different addresses."""
    image = BinaryImage.open(find_library("c"))
    old, new = image.lookup("memcpy@GLIBC_2.2.5"), image.lookup("memcpy")
    if old.address == new.address:
        pytest.skip("this libc has a single memcpy")
    assert new.default and not old.default


def test_glob_match(built: dict[str, Path]) -> None:
    image = BinaryImage.open(built["pie"])
    assert [t.symbol for t in image.match("[am][du][dl]_*")] == ["add_one", "mul_sub"]
    assert image.match("nothing*") == []


def test_not_an_elf_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF" + b"\xff" * 60)
    with pytest.raises(ELFError):
        BinaryImage.open(junk)
    obj = tmp_path / "x.o"
    (tmp_path / "x.c").write_text("int f(void) { return 1; }\n")
    _gcc("-c", "-o", obj, tmp_path / "x.c")
    with pytest.raises(ELFError, match="no PT_LOAD"):
        BinaryImage.open(obj)


@pytest.mark.parametrize(("spec", "expected"), [("f", ("f", 0)), ("f+0x10", ("f", 16)), ("f+8", ("f", 8)),
                                                ("a+b", ("a+b", 0)), ("+1", ("+1", 0))])
def test_split_symbol(spec: str, expected: tuple[str, int]) -> None:
    assert split_symbol(spec) == expected


# -- libraries ------------------------------------------------------------------------------


def _ldconfig() -> list[tuple[str, str]]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    out = subprocess.run([ldconfig, "-p"], check=True, capture_output=True, text=True).stdout
    return [(m[1], m[2]) for m in re.finditer(r"^\s+(\S+) \(.*\) => (\S+)$", out, re.M)]


def test_ld_so_cache_matches_ldconfig() -> None:
    if not Path("/etc/ld.so.cache").exists():
        pytest.skip("no /etc/ld.so.cache here")
    assert list(ld_so_cache()) == _ldconfig()


def test_library_names_resolve_like_the_loader() -> None:
    libc = dict(_ldconfig())["libc.so.6"]
    for name in ("c", "libc", "libc.so", "libc.so.6"):
        assert os.path.realpath(find_library(name, ld_library_path="")) == os.path.realpath(libc), name


def test_ld_library_path_comes_first(built: dict[str, Path], tmp_path: Path) -> None:
    d = built["vlib"].parent
    assert find_library("vtest", ld_library_path=f"/nonexistent:{d}") == str(built["vlib"])
    assert find_library("libvtest.so.1", ld_library_path=str(d)) == str(built["vlib"])
    with pytest.raises(UprobeTargetError, match="libvtest.so"):
        find_library("vtest", ld_library_path="")


def test_non_elf_candidates_are_skipped(tmp_path: Path) -> None:
    """A linker script named libX.so (as libc.so is) is not a library to probe."""
    (tmp_path / "libscripted.so").write_text("GROUP ( /lib/libscripted.so.1 )\n")
    with pytest.raises(UprobeTargetError):
        find_library("scripted", ld_library_path=str(tmp_path), cache=tmp_path / "none")


def test_paths(built: dict[str, Path], tmp_path: Path) -> None:
    assert find_library(built["pie"]) == str(built["pie"])
    with pytest.raises(UprobeTargetError, match="no such file"):
        find_library(tmp_path / "missing")


def _cache_bytes(entries: list[tuple[str, str]], *, old: bool) -> bytes:
    strings = b""
    offsets = []
    header = struct.Struct("<20sIIB3xI12x")
    entry = struct.Struct("<iIIIQ")
    table = header.size + entry.size * len(entries)
    for key, value in entries:
        k = table + len(strings)
        strings += key.encode() + b"\0"
        v = table + len(strings)
        strings += value.encode() + b"\0"
        offsets.append((k, v))
    new = header.pack(b"glibc-ld.so.cache1.1", len(entries), len(strings), 2, 0)
    new += b"".join(entry.pack(0x303, k, v, 0, 0) for k, v in offsets) + strings
    if not old:
        return new
    prefix = struct.pack("<12sI", b"ld.so-1.7.0", 1) + struct.pack("<iII", 0x303, 0, 0)
    prefix += bytes((-len(prefix)) % 8)
    return prefix + new


@pytest.mark.parametrize("old", [False, True])
def test_parse_synthetic_caches(old: bool) -> None:
    entries = [("libfoo.so.1", "/opt/lib/libfoo.so.1"), ("libbar.so", "/opt/lib/libbar.so")]
    assert parse_ld_so_cache(_cache_bytes(entries, old=old)) == entries


@pytest.mark.parametrize("data", [b"", b"garbage", b"glibc-ld.so.cache1.1", b"ld.so-1.7.0\0\x01\0\0\0",
                                  b"glibc-ld.so.cache1.1" + struct.pack("<II", 1000, 0) + bytes(20)])
def test_malformed_caches(data: bytes) -> None:
    with pytest.raises(ELFError):
        parse_ld_so_cache(data)


def test_cache_string_outside_the_file() -> None:
    data = bytearray(_cache_bytes([("libx.so", "/x")], old=False))
    struct.pack_into("<I", data, 48 + 4, 10_000)  # the key offset of entry 0
    with pytest.raises(ELFError, match="outside"):
        parse_ld_so_cache(bytes(data))
