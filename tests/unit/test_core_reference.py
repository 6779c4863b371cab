"""pybpf's CO-RE values equal libbpf's on the same objects and the same kernel types.

The fixtures in progs_core/libbpf_reference/ were made once by regen.py (root needed there,
not here): libbpf (through bpftool) relocated and loaded each NAME.o on a 6.18 kernel, and
the relocated immediates were read back from the kernel into NAME.json; NAME.min.btf holds
the kernel types the object needs (``bpftool gen min_core_btf``, offsets and sizes unchanged).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from pybpf.btf import BTF
from pybpf.btf.core import CoreResult, apply_core, resolve_program
from pybpf.btf.types import CoreRelocKind
from pybpf.spec import ObjectSpec

REF = Path(__file__).parent / "progs_core" / "libbpf_reference"
FIXTURES = sorted(p.stem for p in REF.glob("*.json"))
CASES = [(name, i, e) for name in FIXTURES for i, e in enumerate(json.loads((REF / f"{name}.json").read_text()))]


@lru_cache(maxsize=None)
def resolved(name: str) -> tuple[BTF, list[CoreResult]]:
    spec = ObjectSpec.from_file(REF / f"{name}.o")
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    target = BTF.from_file(REF / f"{name}.min.btf")
    results = resolve_program(prog.core_relocations, spec.btf, target)
    apply_core(prog, spec.btf, target)  # every instruction holds its local value, new values fit
    return target, results


def test_fixtures_cover_every_kind_and_both_answers() -> None:
    assert FIXTURES == ["nested", "reference"]
    assert {e["kind"] for _, _, e in CASES} == {k.name for k in CoreRelocKind}
    probes = {(e["kind"], e["libbpf_value"]) for _, _, e in CASES if e["kind"].endswith(("EXISTS", "MATCHES"))}
    assert probes >= {("FIELD_EXISTS", 0), ("TYPE_EXISTS", 0), ("ENUMVAL_EXISTS", 0), ("TYPE_MATCHES", 0),
                      ("FIELD_EXISTS", 1), ("TYPE_EXISTS", 1), ("ENUMVAL_EXISTS", 1), ("TYPE_MATCHES", 1)}


@pytest.mark.parametrize("name, index, exp", CASES,
                         ids=[f"{n}-{e['type']}-{e['access']}-{e['kind']}" for n, _, e in CASES])
def test_value_equals_libbpf(name: str, index: int, exp: dict[str, Any]) -> None:
    target, results = resolved(name)
    r = results[index]
    assert (r.relocation.access, r.relocation.relo_kind.name) == (exp["access"], exp["kind"])
    if exp["kind"] == "TYPE_ID_TARGET":  # ids differ between vmlinux and the minimal BTF
        assert target.name_of(r.value) == exp["libbpf_target_name"]
    else:
        assert r.value == exp["libbpf_value"]
