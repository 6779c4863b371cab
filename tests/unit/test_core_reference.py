"""pybpf's CO-RE values equal libbpf's on the same programs and the same kernel types.

The fixtures in progs_core/libbpf_reference/ were made once by regen.py (root needed there,
not here): libbpf (through bpftool) relocated and loaded each NAME.c on a 6.18 kernel, and
the relocated immediates were read back from the kernel into NAME.json; NAME.min.btf holds
the kernel types the program needs (``bpftool gen min_core_btf``, offsets and sizes
unchanged). Here NAME.c is compiled again and resolved against NAME.min.btf by pybpf;
relocations are matched by (local type, access string, kind).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import pybpf.cc
from pybpf.btf import BTF
from pybpf.btf.core import CoreResult, apply_core, resolve_program
from pybpf.btf.types import CoreRelocKind
from pybpf.spec import ObjectSpec

REF = Path(__file__).parent / "progs_core" / "libbpf_reference"
FIXTURES = {p.stem: json.loads(p.read_text()) for p in sorted(REF.glob("*.json"))}
CASES = [(name, e) for name, fx in FIXTURES.items() for e in fx["relocations"]]

Key = tuple[str, str, str]


@lru_cache(maxsize=None)
def resolved(name: str) -> tuple[BTF, dict[Key, CoreResult]]:
    obj = pybpf.cc.compile(REF / f"{name}.c", include_dirs=[REF.parent], defines=FIXTURES[name]["defines"])
    spec = ObjectSpec.from_file(obj)
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    target = BTF.from_file(REF / f"{name}.min.btf")
    results = resolve_program(prog.core_relocations, spec.btf, target)
    apply_core(prog, spec.btf, target)  # every instruction holds its local value, new values fit
    by_key = {}
    for r in results:
        rel = r.relocation
        by_key[(spec.btf.name_of(rel.type_id), rel.access, rel.relo_kind.name)] = r
    assert len(by_key) == len(results) == len(FIXTURES[name]["relocations"])
    return target, by_key


def test_fixtures_cover_every_kind_and_both_answers() -> None:
    assert sorted(FIXTURES) == ["nested", "reference"]
    assert {e["kind"] for _, e in CASES} == {k.name for k in CoreRelocKind}
    probes = {(e["kind"], e["libbpf_value"]) for _, e in CASES if e["kind"].endswith(("EXISTS", "MATCHES"))}
    assert probes >= {(k, v) for k in ("FIELD_EXISTS", "TYPE_EXISTS", "ENUMVAL_EXISTS", "TYPE_MATCHES")
                      for v in (0, 1)}


@pytest.mark.parametrize("name, exp", CASES, ids=[f"{n}-{e['type']}-{e['access']}-{e['kind']}" for n, e in CASES])
def test_value_equals_libbpf(name: str, exp: dict[str, Any]) -> None:
    target, by_key = resolved(name)
    r = by_key[(exp["type"], exp["access"], exp["kind"])]
    if exp["kind"] == "TYPE_ID_TARGET":  # ids differ between vmlinux and the minimal BTF
        assert target.name_of(r.value) == exp["libbpf_target_name"]
    else:
        assert r.value == exp["libbpf_value"]
