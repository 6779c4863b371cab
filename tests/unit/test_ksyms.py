"""Kernel symbols from a kallsyms file: bisect lookups, modules, names, kptr_restrict zeros."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.stacks import KallsymsRestrictedError, KernelSymbols, StackError, Symbol
from pybpf.stacks.ksyms import parse_kallsyms

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81001000 t helper_a
ffffffff81001040 T vfs_read
ffffffff81001100 W weak_fn
ffffffff81002000 D some_data
ffffffff81002000 t after_data
ffffffffc0a00000 t ext4_read	[ext4]
ffffffffc0a00100 t shared_name	[ext4]
ffffffffc0b00000 t shared_name	[xfs]
ffffffffc0c00000 t bpf_prog_6deef7357e7b4530_on_sys_enter	[bpf]
0000000000000000 A fixed_percpu_data
garbage line
"""


@pytest.fixture()
def ks(tmp_path: Path) -> KernelSymbols:
    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS)
    return KernelSymbols(path)


@pytest.mark.parametrize(("address", "expected"), [
    (0xFFFFFFFF81001040, Symbol("vfs_read", 0, None, 0xFFFFFFFF81001040)),
    (0xFFFFFFFF81001052, Symbol("vfs_read", 0x12, None, 0xFFFFFFFF81001052)),
    (0xFFFFFFFF8100103F, Symbol("helper_a", 0x3F, None, 0xFFFFFFFF8100103F)),
    (0xFFFFFFFF81001101, Symbol("weak_fn", 1, None, 0xFFFFFFFF81001101)),
    # data symbols (D) are not code: an ip there belongs to the text symbol at the same address
    (0xFFFFFFFF81002004, Symbol("after_data", 4, None, 0xFFFFFFFF81002004)),
    (0xFFFFFFFFC0A00010, Symbol("ext4_read", 0x10, "ext4", 0xFFFFFFFFC0A00010)),
    (0xFFFFFFFFC0C00008, Symbol("bpf_prog_6deef7357e7b4530_on_sys_enter", 8, "bpf", 0xFFFFFFFFC0C00008)),
])
def test_lookup(ks: KernelSymbols, address: int, expected: Symbol) -> None:
    assert ks.lookup(address) == expected


def test_below_the_first_symbol_is_unknown(ks: KernelSymbols) -> None:
    sym = ks.lookup(0x1000)
    assert not sym.known and sym.name == "[unknown]" and str(sym) == "[unknown]"


def test_format_like_bcc(ks: KernelSymbols) -> None:
    assert str(ks.lookup(0xFFFFFFFFC0A00010)) == "ext4_read+0x10 [ext4]"
    assert ks.lookup(0xFFFFFFFF81001040).format() == "vfs_read"
    assert ks.lookup(0xFFFFFFFF81001052).format(offset=False) == "vfs_read"


def test_names_to_addresses(ks: KernelSymbols) -> None:
    assert ks.address_of("vfs_read") == 0xFFFFFFFF81001040
    assert ks.address_of("some_data") == 0xFFFFFFFF81002000  # any type, not only text
    assert ks.address_of("shared_name", "xfs") == 0xFFFFFFFFC0B00000
    assert ks.address_of("shared_name", "ext4") == 0xFFFFFFFFC0A00100
    assert len(ks.symbols("shared_name")) == 2
    with pytest.raises(StackError, match="no kernel symbol named 'nope'"):
        ks.address_of("nope")
    with pytest.raises(StackError, match="in module btrfs"):
        ks.address_of("shared_name", "btrfs")


def test_read_once_then_reload(ks: KernelSymbols) -> None:
    assert ks.lookup(0xFFFFFFFFC0D00000).name == "bpf_prog_6deef7357e7b4530_on_sys_enter"
    ks.path.write_text(KALLSYMS + "ffffffffc0d00000 t bpf_prog_1111111111111111_new\t[bpf]\n")
    assert ks.lookup(0xFFFFFFFFC0D00000).name == "bpf_prog_6deef7357e7b4530_on_sys_enter"  # cached
    ks.reload()
    assert ks.lookup(0xFFFFFFFFC0D00000).name == "bpf_prog_1111111111111111_new"


def test_zero_addresses_explain_kptr_restrict(tmp_path: Path) -> None:
    path = tmp_path / "kallsyms"
    path.write_text("".join(f"0000000000000000 {line[17:]}\n" for line in KALLSYMS.splitlines()[:6]))
    ks = KernelSymbols(path)
    assert ks.restricted
    with pytest.raises(KallsymsRestrictedError, match=r"only zero addresses.*kptr_restrict.*root"):
        ks.lookup(0xFFFFFFFF81001040)
    with pytest.raises(PermissionError):
        ks.address_of("vfs_read")


def test_parse_keeps_type_and_module() -> None:
    entries = list(parse_kallsyms(KALLSYMS))
    assert len(entries) == 12  # the garbage line is skipped
    assert entries[7].name == "ext4_read" and entries[7].module == "ext4" and entries[7].type == "t"
    assert entries[0].module is None


def test_real_kallsyms_resolves_itself_when_readable() -> None:
    ks = KernelSymbols()
    if ks.restricted:
        with pytest.raises(KallsymsRestrictedError):
            ks.lookup(1)
        return
    address = ks.address_of("do_syscall_64")
    assert ks.lookup(address + 3) == Symbol("do_syscall_64", 3, None, address + 3)


def test_sym_with_a_negative_pid_is_a_kernel_address() -> None:
    from pybpf.stacks import kernel_symbols, sym

    if kernel_symbols().restricted:  # not root: the lookup says why it cannot answer
        with pytest.raises(KallsymsRestrictedError):
            sym(0xFFFFFFFF81000000)
        return
    address = kernel_symbols().address_of("do_syscall_64")
    assert sym(address + 1) == Symbol("do_syscall_64", 1, None, address + 1)
