"""Every type pybpf parses, printed in bpftool's raw format, equals `bpftool btf dump ... format raw`.

The printer below lives in the test on purpose: it is a second, independent reading of the
dataclasses, checked line by line against bpftool (the reference implementation) for the
kernel's BTF and for compiled objects.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from btf_data import compiled

from pybpf.btf import (
    BTF, Array, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncProto, Fwd, Int, IntEncoding, Kind,
    Struct, Type, Union_, Var,
)

pytestmark = pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")

_INT_ENC = {IntEncoding.NONE: "(none)", IntEncoding.SIGNED: "SIGNED", IntEncoding.CHAR: "CHAR",
            IntEncoding.BOOL: "BOOL"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def q(name: str) -> str:
    return f"'{name or '(anon)'}'"


def raw_lines(btf: BTF, tid: int, t: Type) -> list[str]:
    head = f"[{tid}] {t.kind.name} {q(t.name)}"
    if isinstance(t, Int):
        return [f"{head} size={t.size} bits_offset={t.offset} nr_bits={t.bits} "
                f"encoding={_INT_ENC.get(t.encoding, '(none)')}"]
    if isinstance(t, Array):
        return [f"{head} type_id={t.elem_type_id} index_type_id={t.index_type_id} nr_elems={t.nelems}"]
    if isinstance(t, (Struct, Union_)):
        out = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            bf = f" bitfield_size={m.bitfield_size}" if m.bitfield_size else ""
            out.append(f"\t{q(m.name)} type_id={m.type_id} bits_offset={m.bit_offset}{bf}")
        return out
    if isinstance(t, (Enum, Enum64)):
        enc = "SIGNED" if t.signed else "UNSIGNED"
        out = [f"{head} encoding={enc} size={t.size} vlen={len(t.values)}"]
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, Enum64) else ""
        out += [f"\t{q(v.name)} val={v.value}{suffix}" for v in t.values]
        return out
    if isinstance(t, Fwd):
        return [f"{head} fwd_kind={'union' if t.is_union else 'struct'}"]
    if isinstance(t, Func):
        return [f"{head} type_id={t.type_id} linkage={t.linkage.name.lower()}"]
    if isinstance(t, FuncProto):
        out = [f"{head} ret_type_id={t.return_type_id} vlen={len(t.params)}"]
        out += [f"\t{q(p.name)} type_id={p.type_id}" for p in t.params]
        return out
    if isinstance(t, Var):
        return [f"{head} type_id={t.type_id}, linkage={_VAR_LINKAGE[t.linkage]}"]
    if isinstance(t, Datasec):
        out = [f"{head} size={t.size} vlen={len(t.vars)}"]
        for v in t.vars:
            target = btf[v.type_id]
            out.append(f"\ttype_id={v.type_id} offset={v.offset} size={v.size} ({target.kind.name} {q(target.name)})")
        return out
    if isinstance(t, Float):
        return [f"{head} size={t.size}"]
    if isinstance(t, DeclTag):
        return [f"{head} type_id={t.type_id} component_idx={t.component_idx}"]
    assert t.kind in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
    return [f"{head} type_id={t.type_id}"]  # type: ignore[union-attr]


def bpftool_raw(path: Path) -> list[str]:
    out = subprocess.run(["bpftool", "btf", "dump", "file", str(path), "format", "raw"],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def ours(btf: BTF) -> list[str]:
    lines: list[str] = []
    for tid, t in btf.types():
        lines += raw_lines(btf, tid, t)
    return lines


@pytest.mark.parametrize("name", ["kinds", "core"])
def test_compiled_object_matches_bpftool(name: str) -> None:
    obj = compiled(name)
    assert ours(BTF.from_file(obj)) == bpftool_raw(obj)


@pytest.mark.skipif(not Path("/sys/kernel/btf/vmlinux").exists(), reason="kernel without BTF")
def test_vmlinux_matches_bpftool() -> None:
    path = Path("/sys/kernel/btf/vmlinux")
    expected = bpftool_raw(path)
    got = ours(BTF.from_file(path))
    assert len(got) == len(expected)
    mismatches = [(a, b) for a, b in zip(got, expected) if a != b]
    assert mismatches[:5] == []
