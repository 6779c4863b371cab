"""pybpf's CO-RE values equal libbpf's on the same object and the same kernel types.

The fixture in progs_core/libbpf_reference/ was made once by regen.py (root needed there,
not here): libbpf (through bpftool) relocated and loaded reference.o on a 6.18 kernel, and the
relocated immediates were read back from the kernel; reference.min.btf holds the kernel types
the object needs (``bpftool gen min_core_btf``, offsets and sizes unchanged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybpf.btf import BTF
from pybpf.btf.core import apply_core, resolve_program
from pybpf.btf.types import CoreRelocKind
from pybpf.spec import ObjectSpec

REF = Path(__file__).parent / "progs_core" / "libbpf_reference"
EXPECTED = json.loads((REF / "expected.json").read_text())


@pytest.fixture(scope="module")
def resolved() -> list[tuple[dict[str, object], int, str]]:
    spec = ObjectSpec.from_file(REF / "reference.o")
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    target = BTF.from_file(REF / "reference.min.btf")
    results = resolve_program(prog.core_relocations, spec.btf, target)
    assert len(results) == len(EXPECTED)
    apply_core(prog, spec.btf, target)  # every instruction holds its local value and fits
    return [(exp, r.value, target.name_of(r.value) if r.relocation.relo_kind == CoreRelocKind.TYPE_ID_TARGET
             else "") for exp, r in zip(EXPECTED, results)]


def test_fixture_covers_every_kind_libbpf_computes() -> None:
    kinds = {e["kind"] for e in EXPECTED}
    assert kinds == {k.name for k in CoreRelocKind}
    assert {e["libbpf_value"] for e in EXPECTED if e["kind"].endswith(("EXISTS", "MATCHES"))} == {0, 1}


@pytest.mark.parametrize("index", range(len(EXPECTED)),
                         ids=[f"{e['type']}-{e['access']}-{e['kind']}" for e in EXPECTED])
def test_value_equals_libbpf(resolved: list[tuple[dict[str, object], int, str]], index: int) -> None:
    exp, value, target_name = resolved[index]
    if exp["kind"] == "TYPE_ID_TARGET":  # ids differ between vmlinux and the minimal BTF
        assert target_name == exp["libbpf_target_name"]
    else:
        assert value == exp["libbpf_value"]
