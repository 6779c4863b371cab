""".BTF.ext of compiled programs: func_info, line_info and CO-RE relocations."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from btf_data import compiled, section, source_lines

from pybpf.btf import BTF, CoreRelocKind, FuncProto, Kind
from pybpf.btf.ext import BTFExt, pack_func_info, pack_line_info
from pybpf.errors import BTFError

PROG_SEC = "tracepoint/syscalls/sys_enter_write"


def load(name: str) -> tuple[BTF, BTFExt, bytes]:
    obj = compiled(name)
    btf = BTF.from_bytes(section(obj, ".BTF"))
    raw_ext = section(obj, ".BTF.ext")
    return btf, BTFExt.from_bytes(raw_ext, btf), raw_ext


def test_func_info_points_at_functions() -> None:
    btf, ext, _ = load("kinds")
    assert set(ext.func_info) == {PROG_SEC, ".text"}
    (entry,) = ext.func_info[PROG_SEC]
    assert entry.insn_off == 0 and btf.name_of(entry.type_id) == "entry_fn"
    (helper,) = ext.func_info[".text"]
    assert helper.insn_off == 0 and btf.name_of(helper.type_id) == "helper"
    assert isinstance(btf[btf[helper.type_id].type_id], FuncProto)  # type: ignore[union-attr]


def test_line_info_points_at_the_right_source_lines() -> None:
    _, ext, _ = load("kinds")
    lines = source_lines("kinds")
    infos = ext.line_info[PROG_SEC]
    assert [li.insn_off for li in infos] == sorted(li.insn_off for li in infos)
    for li in infos + ext.line_info[".text"]:
        assert li.file_name.endswith("btf_data/kinds.bpf.c")
        assert li.line_text == lines[li.line - 1]  # the text clang recorded is that line of the file
    texts = [li.line_text.strip() for li in infos]
    assert texts[0].startswith("int entry_fn(")
    assert "counter += 1;" in texts and texts[-1] == "return r + (int)ctx->num.u;"
    assert [li.line_text.strip() for li in ext.line_info[".text"]] == ["return e->pid + x;"] * 3


@pytest.mark.skipif(shutil.which("llvm-objdump-19") is None, reason="llvm-objdump-19 is not installed")
def test_line_info_matches_llvm_objdump() -> None:
    """Instruction index -> source line agrees with `llvm-objdump -l` (which reads DWARF)."""
    obj = compiled("kinds")
    out = subprocess.run(["llvm-objdump-19", "-d", "-l", f"--section={PROG_SEC}", str(obj)],
                         capture_output=True, text=True, check=True).stdout
    dwarf: dict[int, int] = {}
    current = None
    for ln in out.splitlines():
        m = re.match(r"; .*kinds\.bpf\.c:(\d+)", ln)
        if m:
            current = int(m.group(1))
        m = re.match(r"\s*(\d+):\s", ln)
        if m and current is not None:
            dwarf[int(m.group(1))] = current
    _, ext, _ = load("kinds")
    for li in ext.line_info[PROG_SEC][1:]:  # the first is the function's opening line (DWARF: prologue)
        assert dwarf[li.insn_off] == li.line, li
    assert ext.line_for(PROG_SEC, 7).line == ext.line_for(PROG_SEC, 6).line  # type: ignore[union-attr]


def test_core_relocations() -> None:
    btf, ext, _ = load("core")
    relos = ext.core_relocations["kprobe/do_nanosleep"]
    task = btf.find_one("task_struct", Kind.STRUCT)
    got = [(r.relo_kind, btf.name_of(r.type_id), r.access) for r in relos]
    assert (CoreRelocKind.FIELD_BYTE_OFFSET, "task_struct", "0:0") in got  # task->pid
    assert (CoreRelocKind.FIELD_BYTE_OFFSET, "task_struct", "0:2") in got  # task->real_parent
    assert (CoreRelocKind.FIELD_EXISTS, "task_struct", "0:1") in got
    assert (CoreRelocKind.FIELD_BYTE_SIZE, "task_struct", "0:3") in got
    assert (CoreRelocKind.TYPE_SIZE, "task_struct", "0") in got
    assert (CoreRelocKind.ENUMVAL_VALUE, "pid_type", "1") in got
    assert all(r.type_id == task for r in relos if r.relo_kind != CoreRelocKind.ENUMVAL_VALUE)
    assert [r.insn_off for r in relos] == sorted(r.insn_off for r in relos)


def test_pack_for_prog_load() -> None:
    btf, ext, _ = load("kinds")
    packed = pack_func_info(ext.func_info[PROG_SEC])
    assert struct.unpack("=II", packed) == (0, btf.find_one("entry_fn", Kind.FUNC))
    li = ext.line_info[PROG_SEC][1]
    rec = struct.unpack("=IIII", pack_line_info([li], btf)[:16])
    assert rec[0] == li.insn_off and btf.string(rec[1]) == li.file_name and btf.string(rec[2]) == li.line_text
    assert (rec[3] >> 10, rec[3] & 0x3FF) == (li.line, li.column)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"\x00\x00" + d[2:], "bad .BTF.ext magic"),
    (lambda d: d[:2] + b"\x02" + d[3:], "version"),
    (lambda d: d[:4] + struct.pack("<I", 4096) + d[8:], "header length"),
    (lambda d: d[:8] + struct.pack("<I", 1 << 20) + d[12:], "out of bounds"),
    (lambda d: d[:60], "claims|truncated|out of bounds"),
])
def test_malformed_ext_raises_btferror(mutate, message) -> None:  # type: ignore[no-untyped-def]
    btf, _, raw = load("kinds")
    with pytest.raises(BTFError, match=message):
        BTFExt.from_bytes(mutate(raw), btf)
