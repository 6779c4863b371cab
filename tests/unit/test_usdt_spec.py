"""USDT argument specs and ``.note.stapsdt`` notes: every operand form of x86_64 and arm64,
the spec layout against the BTF of <bpf/usdt.bpf.h>, notes against ``readelf -n``, and
malformed notes reported as ELFError."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.errors import ELFError
from pybpf.link._usdt_spec import (
    ARM64_REGISTERS,
    SPEC_SIZE,
    X86_64_REGISTERS,
    ArgKind,
    UsdtArg,
    encode_spec,
    parse_arg,
    parse_args,
    parse_notes,
    split_args,
)

C, R, M = ArgKind.CONST, ArgKind.REG, ArgKind.REG_DEREF
# struct pt_regs (x86_64) offsets, written out independently of the module's table
RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R12, RIP = 80, 40, 88, 96, 104, 112, 32, 152, 72, 24, 128


@pytest.mark.parametrize(("spec", "kind", "size", "signed", "reg_off", "value"), [
    ("-4@-20(%rbp)", M, 4, True, RBP, -20),
    ("8@%rax", R, 8, False, RAX, 0),
    ("4@$5", C, 4, False, 0, 5),
    ("-4@$-9", C, 4, True, 0, -9),
    ("-8@$-1234567890123", C, 8, True, 0, -1234567890123),
    ("8@$0x10", C, 8, False, 0, 16),
    ("8@(%rsp)", M, 8, False, RSP, 0),
    ("-4@8(%rsi)", M, 4, True, RSI, 8),
    ("8@0x18(%rdi)", M, 8, False, RDI, 0x18),
    ("-8@-0x8(%rbp)", M, 8, True, RBP, -8),
    ("-4@%edi", R, 4, True, RDI, 0),
    ("-2@%ax", R, 2, True, RAX, 0),
    ("1@%al", R, 1, False, RAX, 0),
    ("1@%sil", R, 1, False, RSI, 0),
    ("-1@%dil", R, 1, True, RDI, 0),
    ("2@%cx", R, 2, False, RCX, 0),
    ("4@%edx", R, 4, False, RDX, 0),
    ("4@%ebx", R, 4, False, RBX, 0),
    ("8@%r8", R, 8, False, R8, 0),
    ("-4@%r8d", R, 4, True, R8, 0),
    ("2@%r12w", R, 2, False, R12, 0),
    ("1@%r12b", R, 1, False, R12, 0),
    ("8@%rip", R, 8, False, RIP, 0),
    ("4@-4(%r12)", M, 4, False, R12, -4),
])
def test_x86_64_forms(spec: str, kind: ArgKind, size: int, signed: bool, reg_off: int, value: int) -> None:
    arg = parse_arg(spec, "x86_64")
    assert (arg.kind, arg.size, arg.signed, arg.reg_off, arg.value) == (kind, size, signed, reg_off, value)
    assert arg.text == spec


@pytest.mark.parametrize(("spec", "kind", "size", "signed", "reg_off", "value"), [
    ("-4@[sp, 12]", M, 4, True, 248, 12),
    ("8@x0", R, 8, False, 0, 0),
    ("-4@w1", R, 4, True, 8, 0),
    ("8@x30", R, 8, False, 240, 0),
    ("8@sp", R, 8, False, 248, 0),
    ("8@[x1]", M, 8, False, 8, 0),
    ("-8@[x29, -8]", M, 8, True, 232, -8),
    ("4@[x2,16]", M, 4, False, 16, 16),
    ("4@[x3, #24]", M, 4, False, 24, 24),
    ("4@5", C, 4, False, 0, 5),
    ("-4@-3", C, 4, True, 0, -3),
])
def test_arm64_forms(spec: str, kind: ArgKind, size: int, signed: bool, reg_off: int, value: int) -> None:
    arg = parse_arg(spec, "arm64")
    assert (arg.kind, arg.size, arg.signed, arg.reg_off, arg.value) == (kind, size, signed, reg_off, value)
    assert parse_arg(spec, "EM_AARCH64") == arg


@pytest.mark.parametrize(("spec", "arch", "message"), [
    ("3@%rax", "x86_64", "SIZE 1, 2, 4 or 8"),
    ("16@%rax", "x86_64", "SIZE"),
    ("%rax", "x86_64", "SIZE@OPERAND"),
    ("4@", "x86_64", "SIZE"),
    ("4@%xyz", "x86_64", "unknown x86_64 register 'xyz'"),
    ("4@counter(%rip)", "x86_64", "not a register"),
    ("4@8(%rip)", "x86_64", "rip-relative"),
    ("8@(%rax,%rbx,8)", "x86_64", "indexed"),
    ("4@$abc", "x86_64", "not a register"),
    ("8@x31", "arm64", "unknown arm64 register 'x31'"),
    ("8@[x1, x2]", "arm64", "not a register"),
    ("8@%rax", "arm64", "not a register"),
    ("8@x0", "riscv", "architecture riscv"),
])
def test_malformed_or_unsupported_specs(spec: str, arch: str, message: str) -> None:
    with pytest.raises(ELFError, match=re.escape(message)):
        parse_arg(spec, arch)


def test_split_keeps_arm64_brackets_together() -> None:
    assert split_args("-4@[sp, 12] 8@x0  4@5 ") == ["-4@[sp, 12]", "8@x0", "4@5"]
    assert [a.kind for a in parse_args("-4@[sp, 12] 8@x0 4@5", "arm64")] == [M, R, C]
    assert parse_args("", "x86_64") == []


def test_too_many_arguments() -> None:
    with pytest.raises(ELFError, match="at most 12"):
        parse_args(" ".join(["8@%rax"] * 13))


def test_register_tables_cover_the_abi() -> None:
    assert len({X86_64_REGISTERS[r] for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")}) == 8
    assert {X86_64_REGISTERS[f"r{i}"] for i in range(8, 16)} == {0, 8, 16, 24, 48, 56, 64, 72}
    assert ARM64_REGISTERS["x29"] == 29 * 8 and ARM64_REGISTERS["sp"] == 31 * 8


# -- the spec layout --------------------------------------------------------------------------


def test_spec_layout_matches_the_header_btf() -> None:
    """encode_spec writes the struct the BPF side reads: checked against clang's BTF of it."""
    import pybpf.cc
    from pybpf.spec import ObjectSpec

    src = Path(__file__).parents[1] / "kernel" / "progs_uprobe" / "usdt.bpf.c"
    spec = ObjectSpec.from_file(pybpf.cc.compile(src))
    btf = spec.btf
    assert btf is not None
    whole = btf[btf.find_one("__pybpf_usdt_spec")]
    arg = btf[btf.find_one("__pybpf_usdt_arg")]
    assert whole.size == SPEC_SIZE == spec.maps["__pybpf_usdt_specs"].value_size
    assert {m.name: m.bit_offset // 8 for m in arg.members} == {
        "val_off": 0, "kind": 8, "reg_off": 12, "size": 14, "is_signed": 15}
    assert {m.name: m.bit_offset // 8 for m in whole.members} == {
        "args": 0, "usdt_cookie": 192, "arg_cnt": 200, "__pad": 202}
    raw = encode_spec([parse_arg("-4@-20(%rbp)"), parse_arg("4@$5")], cookie=0xABCDEF)
    assert len(raw) == SPEC_SIZE
    assert struct.unpack_from("<qIHBB", raw, 0) == (-20, int(M), RBP, 4, 1)
    assert struct.unpack_from("<QIHBB", raw, 16) == (5, int(C), 0, 4, 0)
    assert raw[32:192] == bytes(160)
    assert struct.unpack_from("<QH", raw, 192) == (0xABCDEF, 2)


def test_negative_constants_are_twos_complement() -> None:
    arg = UsdtArg(C, 8, True, value=-1)
    assert arg.encode()[:8] == b"\xff" * 8


# -- notes ----------------------------------------------------------------------------------


def _note(provider: bytes, name: bytes, args: bytes, pc: int, base: int, sem: int, *, owner: bytes = b"stapsdt",
          ntype: int = 3, addr: str = "Q") -> bytes:
    desc = struct.pack(f"<3{addr}", pc, base, sem) + provider + b"\0" + name + b"\0" + args + b"\0"
    owner_z = owner + b"\0"

    def pad(b: bytes) -> bytes:
        return b + bytes((-len(b)) % 4)

    return struct.pack("<III", len(owner_z), len(desc), ntype) + pad(owner_z) + pad(desc)


def test_synthetic_notes_and_prelink_adjustment() -> None:
    data = (_note(b"prov", b"one", b"8@%rax", 0x1000, 0x2000, 0x4000)
            + _note(b"GNU", b"x", b"", 0, 0, 0, owner=b"GNU", ntype=1)  # another owner: skipped
            + _note(b"prov", b"two", b"", 0x1100, 0x2000, 0))
    notes = parse_notes(data)
    assert [(n.provider, n.name, n.pc, n.semaphore, n.args) for n in notes] == [
        ("prov", "one", 0x1000, 0x4000, "8@%rax"), ("prov", "two", 0x1100, 0, "")]
    moved = parse_notes(data, base_addr=0x2500)  # .stapsdt.base now 0x500 higher than at link time
    assert [(n.pc, n.semaphore) for n in moved] == [(0x1500, 0x4500), (0x1600, 0)]


def test_32_bit_notes() -> None:
    (note,) = parse_notes(_note(b"p", b"n", b"4@%eax", 0x8000, 0, 0, addr="I"), addr_size=4)
    assert (note.pc, note.args) == (0x8000, "4@%eax")


@pytest.mark.parametrize(("data", "message"), [
    (b"\x08\x00\x00\x00", "truncated note header"),
    (struct.pack("<III", 8, 500, 3) + b"stapsdt\0" + bytes(8), "past the section end"),
    (struct.pack("<III", 8, 8, 3) + b"stapsdt\0" + bytes(8), "too short"),
    (struct.pack("<III", 8, 28, 3) + b"stapsdt\0" + bytes(24) + b"abcd", "NUL-terminated"),
    (_note(b"", b"name", b"", 1, 0, 0), "empty provider"),
    (_note(b"\xff\xfe", b"name", b"", 1, 0, 0), "non-UTF-8"),
])
def test_malformed_notes(data: bytes, message: str) -> None:
    with pytest.raises(ELFError, match=message):
        parse_notes(data)


# -- a real binary ------------------------------------------------------------------------------

SDT_PROGRAM = r"""
#include <sys/sdt.h>
int main(int argc, char **argv) {
    long v = argc * 3;
    DTRACE_PROBE2(unit, two, argc, v);
    DTRACE_PROBE1(unit, one, argv[0]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def sdt_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    d = tmp_path_factory.mktemp("sdt")
    (d / "p.c").write_text(SDT_PROGRAM)
    res = subprocess.run(["gcc", "-O2", "-o", str(d / "p"), str(d / "p.c")], capture_output=True, text=True)
    if res.returncode != 0 and "sdt.h" in res.stderr:
        pytest.skip("<sys/sdt.h> is missing: apt-get install systemtap-sdt-dev")
    res.check_returncode()
    return d / "p"


def _readelf_notes(path: Path) -> list[tuple[str, str, int, int, str]]:
    out = subprocess.run(["readelf", "-n", str(path)], check=True, capture_output=True, text=True).stdout
    pattern = re.compile(r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, "
                         r"Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)")
    return [(m[1], m[2], int(m[3], 16), int(m[4], 16), m[5].strip()) for m in pattern.finditer(out)]


def test_notes_of_a_built_binary_match_readelf(sdt_binary: Path) -> None:
    from pybpf.link.usdt import probes

    expected = _readelf_notes(sdt_binary)
    assert len(expected) == 2
    found = probes(sdt_binary)
    assert [(p.provider, p.name, p.address, p.semaphore, p.arg_text) for p in found] == expected
    for p in found:
        assert len(p.args) == len(p.arg_text.split())
    assert [p.name for p in probes(sdt_binary, "unit", "one")] == ["one"]


def test_corrupt_note_in_a_binary_is_an_elf_error(sdt_binary: Path, tmp_path: Path) -> None:
    from pybpf.link.usdt import probes

    with open(sdt_binary, "rb") as f:
        offset = ELFFile(f).get_section_by_name(".note.stapsdt")["sh_offset"]
    data = bytearray(sdt_binary.read_bytes())
    struct.pack_into("<I", data, offset + 4, 0x7FFF_0000)  # the first note's descsz
    broken = tmp_path / "broken"
    broken.write_bytes(bytes(data))
    with pytest.raises(ELFError, match="note.stapsdt"):
        probes(broken)
