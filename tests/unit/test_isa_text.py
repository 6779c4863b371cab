"""Disassembly and assembly of every instruction family, with exact expected text."""

from __future__ import annotations

import pytest

from pybpf.errors import AssemblerError
from pybpf.isa import Instruction, Syntax, assemble, decode, disassemble, encode, format_instruction

# (raw bytes, text in the default LLVM syntax) -- one row per instruction form
CASES = [
    # ALU64 / ALU, immediate and register forms
    ("07 01 00 00 fc ff ff ff", "r1 += -4"),
    ("0f 21 00 00 00 00 00 00", "r1 += r2"),
    ("04 01 00 00 03 00 00 00", "w1 += 3"),
    ("0c 10 00 00 00 00 00 00", "w0 += w1"),
    ("14 01 00 00 01 00 00 00", "w1 -= 1"),
    ("1f 21 00 00 00 00 00 00", "r1 -= r2"),
    ("27 01 00 00 03 00 00 00", "r1 *= 3"),
    ("2c 21 00 00 00 00 00 00", "w1 *= w2"),
    ("37 01 00 00 07 00 00 00", "r1 /= 7"),
    ("37 01 01 00 07 00 00 00", "r1 s/= 7"),
    ("3c 21 01 00 00 00 00 00", "w1 s/= w2"),
    ("47 01 00 00 ff 00 00 00", "r1 |= 255"),
    ("5c 21 00 00 00 00 00 00", "w1 &= w2"),
    ("67 01 00 00 20 00 00 00", "r1 <<= 32"),
    ("6c 21 00 00 00 00 00 00", "w1 <<= w2"),
    ("77 01 00 00 20 00 00 00", "r1 >>= 32"),
    ("7c 21 00 00 00 00 00 00", "w1 >>= w2"),
    ("87 01 00 00 00 00 00 00", "r1 = -r1"),
    ("84 01 00 00 00 00 00 00", "w1 = -w1"),
    ("97 01 00 00 0a 00 00 00", "r1 %= 10"),
    ("9f 21 01 00 00 00 00 00", "r1 s%= r2"),
    ("a7 01 00 00 ff ff ff ff", "r1 ^= -1"),
    ("ac 21 00 00 00 00 00 00", "w1 ^= w2"),
    ("b7 01 00 00 00 00 00 80", "r1 = -2147483648"),
    ("bf 21 00 00 00 00 00 00", "r1 = r2"),
    ("bf 21 08 00 00 00 00 00", "r1 = (s8)r2"),
    ("bf 21 10 00 00 00 00 00", "r1 = (s16)r2"),
    ("bf 21 20 00 00 00 00 00", "r1 = (s32)r2"),
    ("bc 21 08 00 00 00 00 00", "w1 = (s8)w2"),
    ("bc 21 10 00 00 00 00 00", "w1 = (s16)w2"),
    ("b4 01 00 00 ff ff ff 7f", "w1 = 2147483647"),
    ("c7 01 00 00 3f 00 00 00", "r1 s>>= 63"),
    ("cc 21 00 00 00 00 00 00", "w1 s>>= w2"),
    # byte swaps
    ("d4 01 00 00 10 00 00 00", "r1 = le16 r1"),
    ("d4 01 00 00 20 00 00 00", "r1 = le32 r1"),
    ("d4 01 00 00 40 00 00 00", "r1 = le64 r1"),
    ("dc 01 00 00 10 00 00 00", "r1 = be16 r1"),
    ("dc 01 00 00 20 00 00 00", "r1 = be32 r1"),
    ("dc 01 00 00 40 00 00 00", "r1 = be64 r1"),
    ("d7 01 00 00 10 00 00 00", "r1 = bswap16 r1"),
    ("d7 01 00 00 20 00 00 00", "r1 = bswap32 r1"),
    ("d7 01 00 00 40 00 00 00", "r1 = bswap64 r1"),
    # jumps
    ("05 00 03 00 00 00 00 00", "goto +3"),
    ("05 00 fd ff 00 00 00 00", "goto -3"),
    ("06 00 00 00 00 00 01 00", "gotol +65536"),
    ("e5 00 02 00 00 00 00 00", "may_goto +2"),
    ("0d 03 00 00 00 00 00 00", "gotox r3"),
    ("15 01 03 00 00 00 00 00", "if r1 == 0 goto +3"),
    ("1d 21 03 00 00 00 00 00", "if r1 == r2 goto +3"),
    ("25 01 03 00 05 00 00 00", "if r1 > 5 goto +3"),
    ("2d 21 03 00 00 00 00 00", "if r1 > r2 goto +3"),
    ("35 01 03 00 05 00 00 00", "if r1 >= 5 goto +3"),
    ("3d 21 03 00 00 00 00 00", "if r1 >= r2 goto +3"),
    ("45 01 03 00 01 00 00 00", "if r1 & 1 goto +3"),
    ("4d 21 03 00 00 00 00 00", "if r1 & r2 goto +3"),
    ("55 01 03 00 00 00 00 00", "if r1 != 0 goto +3"),
    ("5d 21 03 00 00 00 00 00", "if r1 != r2 goto +3"),
    ("65 01 03 00 05 00 00 00", "if r1 s> 5 goto +3"),
    ("6d 21 03 00 00 00 00 00", "if r1 s> r2 goto +3"),
    ("75 01 03 00 fb ff ff ff", "if r1 s>= -5 goto +3"),
    ("7d 21 03 00 00 00 00 00", "if r1 s>= r2 goto +3"),
    ("a5 01 03 00 05 00 00 00", "if r1 < 5 goto +3"),
    ("ad 21 03 00 00 00 00 00", "if r1 < r2 goto +3"),
    ("b5 01 03 00 05 00 00 00", "if r1 <= 5 goto +3"),
    ("bd 21 03 00 00 00 00 00", "if r1 <= r2 goto +3"),
    ("c5 01 03 00 05 00 00 00", "if r1 s< 5 goto +3"),
    ("cd 21 03 00 00 00 00 00", "if r1 s< r2 goto +3"),
    ("d5 01 03 00 05 00 00 00", "if r1 s<= 5 goto +3"),
    ("dd 21 03 00 00 00 00 00", "if r1 s<= r2 goto +3"),
    ("16 01 03 00 05 00 00 00", "if w1 == 5 goto +3"),
    ("1e 21 fe ff 00 00 00 00", "if w1 == w2 goto -2"),
    ("6e 21 03 00 00 00 00 00", "if w1 s> w2 goto +3"),
    ("d6 01 03 00 ff ff ff ff", "if w1 s<= -1 goto +3"),
    # calls and exit
    ("85 00 00 00 01 00 00 00", "call bpf_map_lookup_elem"),
    ("85 00 00 00 d2 04 00 00", "call 1234"),
    ("85 10 00 00 05 00 00 00", "call pc+5"),
    ("85 10 00 00 ff ff ff ff", "call pc-1"),
    ("85 20 00 00 a0 86 01 00", "call kfunc 100000"),
    ("8d 03 00 00 00 00 00 00", "callx r3"),
    ("95 00 00 00 00 00 00 00", "exit"),
    # 64-bit immediates and every pseudo source
    ("18 01 00 00 34 12 00 00 00 00 00 00 00 00 00 00", "r1 = 4660 ll"),
    ("18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff", "r1 = -1 ll"),
    ("18 01 00 00 00 00 00 00 00 00 00 00 01 00 00 00", "r1 = 4294967296 ll"),
    ("18 11 00 00 03 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 1, 3"),  # map fd
    ("18 21 00 00 03 00 00 00 00 00 00 00 08 00 00 00", "ld_pseudo r1, 2, 3, 8"),  # map value + 8
    ("18 31 00 00 e8 03 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 3, 1000"),  # BTF id
    ("18 41 00 00 02 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 4, 2"),  # func
    ("18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo r1, 5, 0"),  # map by index
    ("18 61 00 00 01 00 00 00 00 00 00 00 10 00 00 00", "ld_pseudo r1, 6, 1, 16"),  # map value by index
    # legacy packet loads
    ("20 00 00 00 0c 00 00 00", "r0 = *(u32 *)skb[12]"),
    ("28 00 00 00 0c 00 00 00", "r0 = *(u16 *)skb[12]"),
    ("30 00 00 00 17 00 00 00", "r0 = *(u8 *)skb[23]"),
    ("40 10 00 00 00 00 00 00", "r0 = *(u32 *)skb[r1]"),
    ("48 70 00 00 00 00 00 00", "r0 = *(u16 *)skb[r7]"),
    ("50 70 00 00 00 00 00 00", "r0 = *(u8 *)skb[r7]"),
    # loads, sign-extending loads, stores
    ("61 a1 fc ff 00 00 00 00", "r1 = *(u32 *)(r10 - 4)"),
    ("69 21 02 00 00 00 00 00", "r1 = *(u16 *)(r2 + 2)"),
    ("71 21 00 00 00 00 00 00", "r1 = *(u8 *)(r2 + 0)"),
    ("79 21 08 00 00 00 00 00", "r1 = *(u64 *)(r2 + 8)"),
    ("81 21 00 00 00 00 00 00", "r1 = *(s32 *)(r2 + 0)"),
    ("89 21 fe ff 00 00 00 00", "r1 = *(s16 *)(r2 - 2)"),
    ("91 21 01 00 00 00 00 00", "r1 = *(s8 *)(r2 + 1)"),
    ("62 0a fc ff 00 00 00 00", "*(u32 *)(r10 - 4) = 0"),
    ("6a 0a f8 ff 01 00 00 00", "*(u16 *)(r10 - 8) = 1"),
    ("72 01 00 00 ff ff ff ff", "*(u8 *)(r1 + 0) = -1"),
    ("7a 01 00 80 05 00 00 00", "*(u64 *)(r1 - 32768) = 5"),
    ("63 1a fc ff 00 00 00 00", "*(u32 *)(r10 - 4) = r1"),
    ("6b 1a 00 00 00 00 00 00", "*(u16 *)(r10 + 0) = r1"),
    ("73 1a 00 00 00 00 00 00", "*(u8 *)(r10 + 0) = r1"),
    ("7b 1a f8 ff 00 00 00 00", "*(u64 *)(r10 - 8) = r1"),
    # atomics, 32 and 64 bit
    ("c3 21 00 00 00 00 00 00", "lock *(u32 *)(r1 + 0) += w2"),
    ("c3 21 04 00 40 00 00 00", "lock *(u32 *)(r1 + 4) |= w2"),
    ("c3 21 04 00 50 00 00 00", "lock *(u32 *)(r1 + 4) &= w2"),
    ("c3 21 04 00 a0 00 00 00", "lock *(u32 *)(r1 + 4) ^= w2"),
    ("c3 21 04 00 01 00 00 00", "w2 = atomic_fetch_add((u32 *)(r1 + 4), w2)"),
    ("c3 21 04 00 41 00 00 00", "w2 = atomic_fetch_or((u32 *)(r1 + 4), w2)"),
    ("c3 21 04 00 51 00 00 00", "w2 = atomic_fetch_and((u32 *)(r1 + 4), w2)"),
    ("c3 21 04 00 a1 00 00 00", "w2 = atomic_fetch_xor((u32 *)(r1 + 4), w2)"),
    ("c3 21 04 00 e1 00 00 00", "w2 = xchg32_32(r1 + 4, w2)"),
    ("c3 21 04 00 f1 00 00 00", "w0 = cmpxchg32_32(r1 + 4, w0, w2)"),
    ("db 21 00 00 00 00 00 00", "lock *(u64 *)(r1 + 0) += r2"),
    ("db 21 00 00 40 00 00 00", "lock *(u64 *)(r1 + 0) |= r2"),
    ("db 21 00 00 50 00 00 00", "lock *(u64 *)(r1 + 0) &= r2"),
    ("db 21 00 00 a0 00 00 00", "lock *(u64 *)(r1 + 0) ^= r2"),
    ("db 21 00 00 01 00 00 00", "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)"),
    ("db 21 00 00 41 00 00 00", "r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)"),
    ("db 21 00 00 51 00 00 00", "r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)"),
    ("db 21 00 00 a1 00 00 00", "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)"),
    ("db 21 08 00 e1 00 00 00", "r2 = xchg_64(r1 + 8, r2)"),
    ("db 21 f8 ff f1 00 00 00", "r0 = cmpxchg_64(r1 - 8, r0, r2)"),
    # load-acquire / store-release (LLVM 21+ spelling)
    ("d3 12 01 00 00 01 00 00", "w2 = load_acquire((u8 *)(r1 + 1))"),
    ("cb 12 02 00 00 01 00 00", "w2 = load_acquire((u16 *)(r1 + 2))"),
    ("c3 12 04 00 00 01 00 00", "w2 = load_acquire((u32 *)(r1 + 4))"),
    ("db 12 08 00 00 01 00 00", "r2 = load_acquire((u64 *)(r1 + 8))"),
    ("d3 21 01 00 10 01 00 00", "store_release((u8 *)(r1 + 1), w2)"),
    ("cb 21 02 00 10 01 00 00", "store_release((u16 *)(r1 + 2), w2)"),
    ("c3 21 04 00 10 01 00 00", "store_release((u32 *)(r1 + 4), w2)"),
    ("db 21 08 00 10 01 00 00", "store_release((u64 *)(r1 + 8), r2)"),
]


def _raw(hexbytes: str) -> bytes:
    return bytes.fromhex(hexbytes.replace(" ", ""))


@pytest.mark.parametrize(("hexbytes", "text"), CASES, ids=[t for _, t in CASES])
def test_disassemble_each_form(hexbytes: str, text: str) -> None:
    insns = decode(_raw(hexbytes))
    assert len(insns) == 1
    assert disassemble(insns, labels=False) == text
    assert str(insns[0]) == text


@pytest.mark.parametrize(("hexbytes", "text"), CASES, ids=[t for _, t in CASES])
def test_assemble_each_form(hexbytes: str, text: str) -> None:
    assert encode(assemble(text)) == _raw(hexbytes)


def test_every_case_is_distinct() -> None:
    assert len({t for _, t in CASES}) == len(CASES)
    assert len({h for h, _ in CASES}) == len(CASES)


def test_hex_syntax_matches_llvm_objdump_spelling() -> None:
    prog = assemble("r2 += -4\n*(u32 *)(r10 - 4) = 0\nif r1 s> 5 goto +3\nr1 = 4660 ll\nexit")
    assert disassemble(prog, hex_imm=True, labels=False).splitlines() == [
        "r2 += -0x4",
        "*(u32 *)(r10 - 0x4) = 0x0",
        "if r1 s> 0x5 goto +0x3",
        "r1 = 0x1234 ll",
        "exit",
    ]


def test_objdump_syntax_differences() -> None:
    objdump = Syntax(hex_imm=True, helper_names=False, objdump=True)
    show = {text: format_instruction(decode(_raw(h))[0], objdump) for h, text in CASES}
    assert show["call bpf_map_lookup_elem"] == "call 0x1"
    assert show["call pc-1"] == "call -0x1"
    assert show["call kfunc 100000"] == "call 0x186a0"
    assert show["ld_pseudo r1, 2, 3, 8"] == "ld_pseudo\tr1, 0x2, 0x3"
    assert show["lock *(u32 *)(r1 + 0) += w2"] == "lock *(u32 *)(r1 + 0x0) += r2"
    assert show["w2 = xchg32_32(r1 + 4, w2)"] == "w2 = xchg32_32(r1 + 0x4, w2)"


def test_assembler_accepts_clang_spellings() -> None:
    text = """
        w1 = *(u32 *)(r1 + 0)      # clang -S writes w registers for 32-bit loads
        *(u16 *)(r10 - 2) = w1     // and stores
        lock *(u32 *)(r1 + 0x4) += r2 ; llvm-objdump-19 prints an r register here
        if r1 s> 0x5 goto pc+1
        r0 = 0X10
        exit
    """
    assert [str(i) for i in assemble(text)] == [
        "r1 = *(u32 *)(r1 + 0)",
        "*(u16 *)(r10 - 2) = r1",
        "lock *(u32 *)(r1 + 4) += w2",
        "if r1 s> 5 goto +1",
        "r0 = 16",
        "exit",
    ]


def test_labels_for_jumps_and_local_calls() -> None:
    text = """
    entry:
        call helper
        if r0 == 0 goto out
        gotol out
        r0 = 1
    out: exit
    helper:
        r0 = 2
        exit
    """
    prog = assemble(text)
    assert [i.jump_offset for i in prog if i.is_jump] == [2, 1]
    assert prog[0].src == 1 and prog[0].imm == 4  # BPF-to-BPF call to slot 5
    assert disassemble(prog).splitlines() == [
        "call LBB0_2",
        "if r0 == 0 goto LBB0_1",
        "gotol LBB0_1",
        "r0 = 1",
        "LBB0_1:",
        "exit",
        "LBB0_2:",
        "r0 = 2",
        "exit",
    ]
    assert assemble(disassemble(prog)) == prog


def test_labels_count_two_slots_for_ld_imm64() -> None:
    prog = assemble("r1 = 0 ll\nif r1 == 0 goto end\nr1 = 1 ll\nend:\nexit")
    assert prog[1].off == 2
    assert disassemble(prog).splitlines()[-2:] == ["LBB0_1:", "exit"]


def test_jump_out_of_program_keeps_relative_form() -> None:
    prog = assemble("goto +10\nexit")
    assert disassemble(prog) == "goto +10\nexit"


def test_symbolizer_names_relocated_instructions() -> None:
    prog = assemble("r1 = 0 ll\ncall pc-1\ncall 1\nexit")
    names = {0: "my_map", 2: "my_func"}
    assert disassemble(prog, symbolizer=names.get).splitlines() == [
        "r1 = my_map ll",
        "call my_func",
        "call bpf_map_lookup_elem",
        "exit",
    ]
    assert disassemble(prog, helper_names=False, labels=False).splitlines()[2] == "call 1"


def test_unknown_encoding_round_trips_as_raw_insn() -> None:
    odd = Instruction(0x8D, dst=0, imm=1)  # callx with the register in imm (old LLVM)
    assert str(odd) == ".insn 0x8d, 0, 0, 0, 1"
    assert assemble(str(odd)) == [odd]
    assert format_instruction(odd, Syntax(objdump=True)) == "<unknown>"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("exit\nr1 = frobnicate\n", 2, "not an eBPF instruction"),
        ("goto nowhere", 1, "undefined label 'nowhere'"),
        ("r0 = 0\n\nr11 = 1", 3, "no register r11"),
        ("w1 += r2", 1, "expected a 32-bit w register"),
        ("call bpf_no_such_helper", 1, "neither a label nor a known helper"),
        ("a:\nexit\na: exit", 3, "defined twice"),
        ("r1 = *(s64 *)(r2 + 0)", 1, "no sign-extending 64-bit load"),
        ("lock *(u8 *)(r1 + 0) += w2", 1, "u32 or u64"),
        ("r1 = 0x1ffffffff", 1, "does not fit in 32 bits"),
        ("r1 = *(u32 *)(r2 + 40000)", 1, "does not fit in 16 bits"),
        ("r2 = xchg_64(r1 + 0, r3)", 1, "returns into its operand register"),
        ("w1 = (s32)w2", 1, "(s8) or (s16)"),
    ],
)
def test_assembler_errors_carry_line_number(text: str, line: int, message: str) -> None:
    with pytest.raises(AssemblerError) as info:
        assemble(text)
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"line {line}: ")


def test_long_label_jump_needs_gotol() -> None:
    body = "\n".join(["r0 = 0"] * 40000)
    with pytest.raises(AssemblerError, match="use 'gotol'") as info:
        assemble(f"goto far\n{body}\nfar: exit")
    assert info.value.line == 1
    prog = assemble(f"gotol far\n{body}\nfar: exit")
    assert prog[0].imm == 40000


# Lines printed by `bpftool prog dump xlated` (the kernel's own instruction printer) for a
# program loaded on Linux 6.18, with the bytes the program had (from llvm-objdump).
VERIFIER_LINES = [
    ("   0: (bf) r1 = r10", "bf a1 00 00 00 00 00 00"),
    ("   1: (07) r1 += -8", "07 01 00 00 f8 ff ff ff"),
    ("   3: (7b) *(u64 *)(r10 -8) = r2", "7b 2a f8 ff 00 00 00 00"),
    ("   5: (db) lock *(u64 *)(r1 +0) += r2", "db 21 00 00 00 00 00 00"),
    ("   6: (db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)", "db 21 00 00 01 00 00 00"),
    ("   7: (db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)", "db 21 00 00 e1 00 00 00"),
    ("   9: (db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)", "db 21 00 00 f1 00 00 00"),
    ("  11: (c3) lock *(u32 *)(r1 -8) |= r3", "c3 31 f8 ff 40 00 00 00"),
    ("  12: (c3) r3 = atomic_fetch_and((u32 *)(r1 -8), r3)", "c3 31 f8 ff 51 00 00 00"),
    ("  13: (c3) r3 = atomic_xchg((u32 *)(r1 -8), r3)", "c3 31 f8 ff e1 00 00 00"),
    ("  15: (c3) r0 = atomic_cmpxchg((u32 *)(r1 -8), r0, r3)", "c3 31 f8 ff f1 00 00 00"),
    ("  19: (18) r5 = 0x123456789", "18 05 00 00 89 67 45 23 00 00 00 00 01 00 00 00"),
    ("  25: (dc) r6 = be16 r6", "dc 06 00 00 10 00 00 00"),
    ("  26: (66) if w6 s> 0x5 goto pc+0", "66 06 00 00 05 00 00 00"),
    ("  27: (85) call bpf_get_current_pid_tgid#14", "85 00 00 00 0e 00 00 00"),
    ("  28: (87) r6 = -r6", "87 06 00 00 00 00 00 00"),
    ("  30: (45) if r6 & 0x3 goto pc+0", "45 06 00 00 03 00 00 00"),
    ("  32: (95) exit", "95 00 00 00 00 00 00 00"),
]


@pytest.mark.parametrize(("line", "hexbytes"), VERIFIER_LINES, ids=[ln.strip() for ln, _ in VERIFIER_LINES])
def test_assembler_reads_verifier_log_lines(line: str, hexbytes: str) -> None:
    assert encode(assemble(line)) == _raw(hexbytes)


def test_verifier_atomic_size_must_match() -> None:
    with pytest.raises(AssemblerError, match="atomic64 operations work on u64"):
        assemble("r2 = atomic64_xchg((u32 *)(r1 +0), r2)")
