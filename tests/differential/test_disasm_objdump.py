"""``pybpf disasm`` against ``llvm-objdump-19``, and the assembler against ``llvm-mc-19``.

Every program in ``progs/`` is compiled with ``pybpf.cc.compile`` at each ``-mcpu`` level its
header names. For each object:

* our listing equals ``llvm-objdump-19 -dr`` (default) and ``llvm-objdump-19 -d``
  (``--no-relocs``) line by line after whitespace normalisation. The only lines allowed to
  differ are instructions llvm-objdump-19 cannot decode without ``--mattr=+alu32`` (32-bit
  atomics: there our line must equal ``llvm-objdump-19 -d --mattr=+alu32``), and
  load-acquire / store-release, which LLVM 19 predates (``<unknown>``, or a wrong ``lock``
  add for the 64-bit load): those must match the compiler's own ``clang -S`` text instead
  (test_acquire_release_matches_clang_asm);
* ``assemble(disassemble(decode(section)))`` gives back the section's bytes.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pybpf.cli import main as cli_main
from pybpf.cli.disasm import format_object
from pybpf.elf.reader import ElfObject
from pybpf.isa import AtomicOp, InsnClass, Mode, Instruction, assemble, decode, disassemble, encode

PROGS_DIR = Path(__file__).parent / "progs"
_LINE = re.compile(r"^\s*\d+:\s+((?:[0-9a-f]{2} )+)")
_ACQ_REL = re.compile(
    r"^\s*\d+:\s+(?:[0-9a-f]{2} ){8}\s*(?:[rw]\d+ = load_acquire\(\(u(?:8|16|32|64) \*\)\(r\d+ [+-] 0x[0-9a-f]+\)\)"
    r"|store_release\(\(u(?:8|16|32|64) \*\)\(r\d+ [+-] 0x[0-9a-f]+\), [rw]\d+\))$"
)


def _norm(text: str) -> list[str]:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _insn_of(line: str) -> Instruction | None:
    m = _LINE.match(line)
    return decode(bytes.fromhex(m.group(1).replace(" ", "")))[0] if m else None


def _is_atomic(insn: Instruction | None) -> bool:
    return insn is not None and insn.opcode & 0xE7 == InsnClass.STX | Mode.ATOMIC


def compare_listing(ours: str, plain: str, alu32: str) -> Counter[str]:
    """Assert ``ours`` equals ``plain`` line by line, but for the documented exceptions."""
    got, want, want32 = _norm(ours), _norm(plain), _norm(alu32)
    assert len(got) == len(want) == len(want32), "\n".join(got)
    allowed: Counter[str] = Counter()
    for n, (g, w, w32) in enumerate(zip(got, want, want32), 1):
        if g == w:
            continue
        insn = _insn_of(w)
        if _is_atomic(insn) and insn.imm in (AtomicOp.LOAD_ACQUIRE, AtomicOp.STORE_RELEASE):  # type: ignore[union-attr]
            assert _ACQ_REL.match(g), f"line {n}: {g!r}"
            allowed["acquire/release (unknown to LLVM 19)"] += 1
        elif _is_atomic(insn) and g == w32:
            allowed["32-bit atomic (needs alu32 in LLVM 19)"] += 1
        else:
            assert g == w, f"line {n} differs from llvm-objdump-19"
    return allowed


@pytest.mark.parametrize("relocs", [True, False], ids=["dr", "d"])
def test_listing_matches_llvm_objdump(prog_case: tuple[Path, str], relocs: bool, objdump: str, compile_prog) -> None:  # type: ignore[no-untyped-def]
    obj_path = str(compile_prog(*prog_case))
    flag = "-dr" if relocs else "-d"
    plain = _run(objdump, flag, obj_path)
    alu32 = _run(objdump, flag, "--mattr=+alu32", obj_path)
    obj = ElfObject(Path(obj_path).read_bytes(), obj_path)
    ours = format_object(obj, obj.executable_sections(), relocs=relocs)
    compare_listing(ours, plain, alu32)
    assert "Disassembly of section" in ours and "exit" in ours


def test_exceptions_are_only_the_documented_ones(objdump: str, compile_prog, all_prog_cases) -> None:  # type: ignore[no-untyped-def]
    total: Counter[str] = Counter()
    for case in all_prog_cases:
        obj_path = str(compile_prog(*case))
        obj = ElfObject(Path(obj_path).read_bytes(), obj_path)
        ours = format_object(obj, obj.executable_sections())
        total += compare_listing(ours, _run(objdump, "-dr", obj_path), _run(objdump, "-dr", "--mattr=+alu32", obj_path))
    # the programs do exercise both, and nothing else differs
    assert set(total) == {"acquire/release (unknown to LLVM 19)", "32-bit atomic (needs alu32 in LLVM 19)"}, total


def test_sections_round_trip_through_text(prog_case: tuple[Path, str], compile_prog) -> None:  # type: ignore[no-untyped-def]
    obj_path = compile_prog(*prog_case)
    obj = ElfObject(obj_path.read_bytes(), str(obj_path))
    sections = obj.executable_sections()
    assert sections
    for sec in sections:
        insns = decode(sec.data)
        for hex_imm in (False, True):
            text = disassemble(insns, hex_imm=hex_imm)
            assert encode(assemble(text)) == sec.data, sec.name


def test_cli_prints_the_listing(objdump: str, compile_prog, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    obj_path = str(compile_prog(PROGS_DIR / "subprogs.c", "v3"))
    assert cli_main(["disasm", obj_path]) == 0
    assert _norm(capsys.readouterr().out) == _norm(_run(objdump, "-dr", obj_path))
    assert cli_main(["disasm", obj_path, "--section", ".text", "--no-relocs"]) == 0
    assert _norm(capsys.readouterr().out) == _norm(_run(objdump, "-d", "--section=.text", obj_path))


def test_cli_errors_name_the_problem(compile_prog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    obj_path = str(compile_prog(PROGS_DIR / "global_data.c", "v3"))
    assert cli_main(["disasm", obj_path, "--section", ".nope"]) == 1
    assert "no section '.nope'" in capsys.readouterr().err
    assert cli_main(["disasm", obj_path, "--section", ".data"]) == 1
    assert "holds no code" in capsys.readouterr().err
    bogus = tmp_path / "x.o"
    bogus.write_bytes(b"not an elf")
    assert cli_main(["disasm", str(bogus)]) == 1
    assert "not an ELF file" in capsys.readouterr().err


def test_cli_asm_output_reassembles(compile_prog, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    obj_path = compile_prog(PROGS_DIR / "maps_btf.c", "v3")
    assert cli_main(["disasm", "--asm", "--no-relocs", str(obj_path)]) == 0
    text = capsys.readouterr().out
    assert "call bpf_map_lookup_elem" in text
    obj = ElfObject(obj_path.read_bytes(), str(obj_path))
    body = text.split("# section socket")[1]
    assert encode(assemble(body)) == obj.section("socket").data


def test_cli_asm_names_callees_and_static_data(compile_prog, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    subprogs = compile_prog(PROGS_DIR / "subprogs.c", "v3")
    assert cli_main(["disasm", "--asm", "--section", ".text", str(subprogs)]) == 0
    text = capsys.readouterr().out
    # calls inside .text have no relocation: the callee's symbol is looked up by offset,
    # and since function names are labels the whole section reassembles
    assert "\tcall square\n" in text and "\tcall add3\n" in text
    obj = ElfObject(subprogs.read_bytes(), str(subprogs))
    assert encode(assemble(text)) == obj.section(".text").data
    assert cli_main(["disasm", "--asm", "--section", "socket", str(subprogs)]) == 0
    assert "\tcall chain\n" in capsys.readouterr().out  # R_BPF_64_32 against the .text section symbol
    printk = compile_prog(PROGS_DIR / "printk.c", "v3")
    assert cli_main(["disasm", "--asm", str(printk)]) == 0
    assert "r1 = printk.fmt2 ll" in capsys.readouterr().out  # R_BPF_64_64 against .rodata + offset


def test_programs_cover_the_instruction_set(compile_prog, all_prog_cases) -> None:  # type: ignore[no-untyped-def]
    """The test programs together use every class and the extension families."""
    assert len({src for src, _ in all_prog_cases}) >= 30
    assert {cpu for _, cpu in all_prog_cases} == {"v1", "v2", "v3", "v4"}
    seen: set[str] = set()
    for case in all_prog_cases:
        obj_path = compile_prog(*case)
        obj = ElfObject(obj_path.read_bytes(), str(obj_path))
        for sec in obj.executable_sections():
            for insn in decode(sec.data):
                seen.add(insn.cls.name)
                text = str(insn)
                seen.update(
                    name
                    for name, pattern in _FAMILIES.items()
                    if re.search(pattern, text)
                )
    missing = (set(_FAMILIES) | {c.name for c in InsnClass}) - seen
    assert not missing, f"no test program uses: {sorted(missing)}"


_FAMILIES = {
    "ld_imm64": r" ll$",
    "ld_abs": r"skb\[\d+\]",
    "ld_ind": r"skb\[r\d+\]",
    "ld_pseudo": r"^ld_pseudo",
    "ldsx": r"\*\(s(8|16|32) \*\)",
    "movsx": r"= \(s(8|16|32)\)",
    "sdiv": r"s/=",
    "smod": r"s%=",
    "bswap": r"bswap(16|32|64)",
    "be": r"be(16|32|64)",
    "le": r"le(16|32|64)",
    "neg": r"= -[rw]\d+$",
    "lock_add": r"^lock .* \+=",
    "lock_or": r"^lock .* \|=",
    "lock_and": r"^lock .* &=",
    "lock_xor": r"^lock .* \^=",
    "fetch_add": r"atomic_fetch_add",
    "fetch_or": r"atomic_fetch_or",
    "fetch_and": r"atomic_fetch_and",
    "fetch_xor": r"atomic_fetch_xor",
    "xchg32": r"xchg32_32",
    "xchg64": r"xchg_64",
    "cmpxchg32": r"cmpxchg32_32",
    "cmpxchg64": r"cmpxchg_64",
    "load_acquire": r"load_acquire",
    "store_release": r"store_release",
    "helper_call": r"^call bpf_",
    "local_call": r"^call pc",
    "callx": r"^callx",
    "gotol": r"^gotol",
    "may_goto": r"^may_goto",
    "jset": r" & .* goto",
    "signed_jump": r" s[<>]=? .* goto",
    "exit": r"^exit$",
}


def test_acquire_release_matches_clang_asm(tmp_path: Path) -> None:
    """LLVM 19 cannot decode load-acquire/store-release: compare with the compiler's own text."""
    from pybpf.cc import discover_compiler

    src = PROGS_DIR / "acquire_release.c"
    out = tmp_path / "a.s"
    compiler = discover_compiler()
    cmd = [*compiler.command, *compiler.target_flags, "-O2", "-mcpu=v4", "-S", str(src), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    acq_rel = re.compile(r"load_acquire\(|store_release\(")
    clang_lines = [ln.strip() for ln in out.read_text().splitlines() if acq_rel.search(ln)]
    from pybpf.cc import compile as cc_compile

    obj = ElfObject(cc_compile(src, cflags=["-mcpu=v4"]).read_bytes(), "a.o")
    ours = [ln for ln in disassemble(decode(obj.section("socket").data)).splitlines() if acq_rel.search(ln)]
    assert len(ours) == 8
    assert ours == clang_lines


# texts whose encoding LLVM 19's assembler knows; every one must encode to the same bytes
LLVM_MC_TEXTS = [
    "r1 += -4", "r1 += r2", "w1 += 3", "w0 += w1", "r1 -= r2", "w1 *= w2", "r1 /= 7", "r1 s/= 7",
    "w1 s/= w2", "r1 s%= r2", "r1 |= 255", "w1 &= w2", "r1 <<= 32", "w1 >>= w2", "r1 s>>= 63",
    "r1 = -r1", "w1 = -w1", "r1 ^= -1", "r1 = -2147483648", "r1 = r2", "r1 = (s8)r2", "r1 = (s16)r2",
    "r1 = (s32)r2", "w1 = (s8)w2", "w1 = (s16)w2", "r1 = le16 r1", "r1 = be32 r1", "r1 = be64 r1",
    "r1 = bswap16 r1", "r1 = bswap64 r1", "goto +3", "goto -3", "gotol +3", "may_goto +2",
    "if r1 == 0 goto +3", "if r1 > r2 goto +3", "if r1 & 1 goto +3", "if r1 s>= -5 goto +3",
    "if r1 s< r2 goto +3", "if r1 <= 5 goto +3", "if w1 == 5 goto +3", "if w1 s> w2 goto +3",
    "if w1 s<= -1 goto +3", "call 1", "callx r3", "exit", "r1 = 4660 ll", "r1 = -1 ll",
    "r1 = 4294967296 ll", "ld_pseudo r1, 1, 3", "ld_pseudo r1, 2, 3", "ld_pseudo r1, 4, 2",
    "r0 = *(u32 *)skb[12]", "r0 = *(u8 *)skb[r7]", "r1 = *(u32 *)(r10 - 4)", "r1 = *(u64 *)(r2 + 8)",
    "r1 = *(s32 *)(r2 + 0)", "r1 = *(s16 *)(r2 - 2)", "r1 = *(s8 *)(r2 + 1)", "*(u32 *)(r10 - 4) = 0",
    "*(u64 *)(r1 - 32768) = 5", "*(u16 *)(r10 + 0) = r1", "*(u64 *)(r10 - 8) = r1",
    "lock *(u32 *)(r1 + 0) += w2", "lock *(u32 *)(r1 + 4) |= w2", "lock *(u32 *)(r1 + 4) &= w2",
    "lock *(u32 *)(r1 + 4) ^= w2", "w2 = atomic_fetch_add((u32 *)(r1 + 4), w2)",
    "w2 = atomic_fetch_xor((u32 *)(r1 + 4), w2)", "w2 = xchg32_32(r1 + 4, w2)",
    "w0 = cmpxchg32_32(r1 + 4, w0, w2)", "lock *(u64 *)(r1 + 0) += r2", "lock *(u64 *)(r1 + 0) &= r2",
    "r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)", "r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)",
    "r2 = xchg_64(r1 + 8, r2)", "r0 = cmpxchg_64(r1 - 8, r0, r2)",
]


def test_assembler_matches_llvm_mc(llvm_mc: str, tmp_path: Path) -> None:
    src = tmp_path / "t.s"
    src.write_text("\n".join(LLVM_MC_TEXTS) + "\n")
    out = _run(llvm_mc, "-triple", "bpfel", "-mattr=+alu32", "-show-encoding", str(src))
    encodings = [
        bytes(int(b, 16) for b in m.group(1).split(","))
        for m in re.finditer(r"# encoding: \[([^\]]*)\]", out)
    ]
    assert len(encodings) == len(LLVM_MC_TEXTS)
    for text, want in zip(LLVM_MC_TEXTS, encodings):
        assert encode(assemble(text)) == want, text


# instructions LLVM 19 cannot assemble: the reference is clang 22's own integrated assembler
CLANG_ONLY_TEXTS = [
    "gotox r3",
    "r2 = load_acquire((u64 *)(r1 + 8))",
    "w2 = load_acquire((u8 *)(r1 - 1))",
    "w2 = load_acquire((u16 *)(r1 + 2))",
    "w2 = load_acquire((u32 *)(r1 + 4))",
    "store_release((u64 *)(r1 + 8), r2)",
    "store_release((u32 *)(r1 + 4), w2)",
    "store_release((u16 *)(r1 + 2), w2)",
    "store_release((u8 *)(r1 + 1), w2)",
    "may_goto +1",
    "gotol -1",
    "r1 = (s32)r2",
    "r1 = *(s8 *)(r2 - 3)",
]


def test_assembler_matches_clang_integrated_assembler() -> None:
    from pybpf.cc import compile as cc_compile

    body = "\n".join(f'\tasm volatile("{text}");' for text in CLANG_ONLY_TEXTS)
    source = (
        '#define SEC(x) __attribute__((section(x), used))\n'
        f'SEC("socket") int clang_asm(void *ctx)\n{{\n{body}\n\treturn 0;\n}}\n'
    )
    obj_path = cc_compile(source, cflags=["-mcpu=v4"])
    obj = ElfObject(obj_path.read_bytes(), str(obj_path))
    insns = decode(obj.section("socket").data)
    assert insns[: len(CLANG_ONLY_TEXTS)] == assemble("\n".join(CLANG_ONLY_TEXTS))
    assert [str(i) for i in insns[: len(CLANG_ONLY_TEXTS)]] == CLANG_ONLY_TEXTS
