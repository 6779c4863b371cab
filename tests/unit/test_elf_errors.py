"""Malformed and unsupported objects: ELFError naming what is wrong (and where), and the CLI."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pybpf.cc
from pybpf.cli import main
from pybpf.elf import ElfObject, load_object, load_object_bytes
from pybpf.elf.reader import RelocType, SectionType, SymbolBind, SymbolType
from pybpf.errors import ELFError

PROGS = Path(__file__).parent / "progs_elf"
HEADER = '#include "elf_test.h"\n'


def _compile(tmp_path: Path, name: str, body: str) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(HEADER + body)
    return pybpf.cc.compile(src, output=tmp_path / f"{name}.o", include_dirs=[PROGS])


@pytest.fixture(scope="module")
def simple(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    tmp = tmp_path_factory.mktemp("simple")
    path = _compile(tmp, "simple", 'u32 x; SEC("xdp") int f(void *c) { return x; }\nchar L[] SEC("license") = "GPL";\n')
    return path.read_bytes()


def test_reader_sections_symbols_relocations(simple: bytes) -> None:
    obj = ElfObject(simple, "simple.o")
    xdp = obj.section("xdp")
    assert xdp.is_executable and xdp.type == SectionType.PROGBITS and len(xdp.data) == xdp.size
    assert obj.sections[".bss"].is_nobits and obj.sections[".bss"].size == 4
    f = next(s for s in obj.symbols if s.name == "f")
    assert (f.type, f.bind, f.section, f.value) == (SymbolType.FUNC, SymbolBind.GLOBAL, "xdp", 0)
    (reloc,) = obj.relocations("xdp")
    assert (reloc.symbol_name, reloc.symbol_section, reloc.type, reloc.offset) == ("x", ".bss", RelocType.R_64_64, 0)
    assert obj.relocations("no such section") == []
    with pytest.raises(ELFError, match="no section 'nope'"):
        obj.section("nope")


def test_not_elf() -> None:
    with pytest.raises(ELFError, match="not an ELF file"):
        ElfObject(b"hello world", "x.o")


def test_other_machine_is_named(simple: bytes) -> None:
    data = bytearray(simple)
    struct.pack_into("<H", data, 18, 62)  # e_machine = EM_X86_64
    with pytest.raises(ELFError, match=r"not an eBPF object \(machine is x86-64\)"):
        ElfObject(bytes(data), "x.o")


def test_section_past_end_of_file(simple: bytes) -> None:
    data = bytearray(simple)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    obj = ElfObject(simple, "x.o")
    idx = obj.section("xdp").index
    struct.pack_into("<Q", data, shoff + idx * 64 + 0x20, 1 << 40)  # sh_size
    with pytest.raises(ELFError, match=r"section 'xdp' .* extends past the end of the file"):
        ElfObject(bytes(data), "x.o")


def test_truncated_object(simple: bytes) -> None:
    with pytest.raises(ELFError):
        load_object_bytes(simple[: len(simple) // 2], name="half.o")


def test_relocation_against_non_data_section(tmp_path: Path) -> None:
    path = _compile(tmp_path, "badref", 'char L[] SEC("license") = "GPL";\n'
                    'SEC("xdp") int f(void *c) { return (long)&L; }\n')
    with pytest.raises(ELFError, match=r"section 'xdp' offset 0: relocation against 'L' in section 'license'"):
        load_object(path)


def test_unresolved_extern(tmp_path: Path) -> None:
    path = _compile(tmp_path, "unresolved", "extern int not_here;\n"
                    'SEC("xdp") int f(void *c) { return not_here; }\n')
    with pytest.raises(ELFError, match=r"section 'xdp' offset 0: unresolved symbol 'not_here'"):
        load_object(path)


def test_unknown_map_field(tmp_path: Path) -> None:
    path = _compile(tmp_path, "badmap", "struct { __uint(type, MAP_ARRAY); __uint(colour, 3); } m SEC(\".maps\");\n"
                    'SEC("xdp") int f(void *c) { return 0; }\n')
    with pytest.raises(ELFError, match=r"map 'm': unknown field 'colour'"):
        load_object(path)


def test_map_without_type(tmp_path: Path) -> None:
    path = _compile(tmp_path, "notype", "struct { __uint(max_entries, 3); } m SEC(\".maps\");\n"
                    'SEC("xdp") int f(void *c) { return 0; }\n')
    with pytest.raises(ELFError, match=r"map 'm': the definition has no 'type' field"):
        load_object(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ELFError, match="cannot read"):
        load_object(tmp_path / "absent.o")


def test_cli_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _compile(tmp_path, "clidemo", "const volatile u32 min_us = 7;\n"
                    "struct { __uint(type, MAP_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } counts SEC(\".maps\");\n"
                    'SEC("kprobe/do_unlinkat") int on_unlink(void *c) { u32 k = min_us; return bpf_map_lookup_elem(&counts, &k) != 0; }\n'
                    'char L[] SEC("license") = "GPL";\n')
    assert main(["spec", str(path)]) == 0
    out = capsys.readouterr().out
    assert "license: GPL" in out
    prog_line = next(line for line in out.splitlines() if "on_unlink" in line)
    assert prog_line.split()[:5] == ["on_unlink", "kprobe/do_unlinkat", "kprobe", "-", "do_unlinkat"]
    map_line = next(line for line in out.splitlines() if line.strip().startswith("counts"))
    assert map_line.split()[:6] == ["counts", "hash", "4", "8", "64", "-"]
    var_line = next(line for line in out.splitlines() if line.strip().startswith("min_us"))
    assert var_line.split()[:4] == ["min_us", "clidemo.rodata", "0", "4"] and var_line.split()[-1] == "7"


def test_cli_spec_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF" + b"\0" * 10)
    assert main(["spec", str(bad)]) == 1
    assert "pybpf: error:" in capsys.readouterr().err


def test_object_without_btf(tmp_path: Path) -> None:
    """-g0: no .BTF; programs, relocations and globals (from symbols, as raw bytes) still work."""
    path = pybpf.cc.compile(PROGS / "subprogs.c", output=tmp_path / "nobtf.o", include_dirs=[PROGS], cflags=["-g0"])
    spec = load_object(path)
    assert spec.btf is None
    assert set(spec.programs) == {"uses_middle", "uses_leaf", "uses_global", "uses_loop", "no_calls"}
    (reloc,) = spec.programs["uses_loop"].relocations
    assert (reloc.symbol, reloc.offset) == ("nobtf.bss", 0)
    assert spec.variables["total"].type_id == 0
    assert spec.bss["total"] == bytes(8)
    spec.bss["total"] = (5).to_bytes(8, "little")
    assert spec.maps["nobtf.bss"].data == bytearray((5).to_bytes(8, "little"))


def test_extern_without_btf_says_compile_with_g(tmp_path: Path) -> None:
    src = tmp_path / "ext.c"
    src.write_text(HEADER + 'extern u32 LINUX_KERNEL_VERSION __kconfig;\n'
                   'SEC("xdp") int f(void *c) { return LINUX_KERNEL_VERSION; }\n')
    path = pybpf.cc.compile(src, output=tmp_path / "ext.o", include_dirs=[PROGS], cflags=["-g0"])
    with pytest.raises(ELFError, match=r"section 'xdp' offset \d+: unresolved symbol 'LINUX_KERNEL_VERSION': "
                                       r"the object has no BTF.*compile with -g"):
        load_object(path)
