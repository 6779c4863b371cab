"""ElfObject against the real thing: sections, symbols and relocations as llvm-readobj reads them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import pybpf.cc
from pybpf.elf import ElfObject

PROGS = Path(__file__).parent / "progs_elf"
READOBJ = next((shutil.which(n) for n in ("llvm-readobj-19", "llvm-readobj") if shutil.which(n)), None)

pytestmark = pytest.mark.skipif(READOBJ is None, reason="llvm-readobj (Debian package llvm-19) is not installed")


def _readobj(path: Path) -> dict[str, Any]:
    assert READOBJ is not None
    out = subprocess.run([READOBJ, "--elf-output-style=JSON", "--sections", "--symbols", "--relocations", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=sorted(p.stem for p in PROGS.glob("*.c")))
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reader")
    return pybpf.cc.compile(PROGS / f"{request.param}.c", output=out / f"{request.param}.o", include_dirs=[PROGS])


def test_sections_match(compiled: Path) -> None:
    obj = ElfObject(compiled.read_bytes(), compiled.name)
    ref = [s["Section"] for s in _readobj(compiled)["Sections"]]
    ours = [(s.index, s.name, int(s.type), int(s.flags), s.offset, s.size, s.link, s.info, s.entsize)
            for s in obj.sections_by_index]
    theirs = [(s["Index"], s["Name"]["Name"], s["Type"]["Value"], s["Flags"]["Value"], s["Offset"], s["Size"],
               s["Link"], s["Info"], s["EntrySize"]) for s in ref]
    assert ours == theirs
    for s in obj.sections_by_index:
        if not s.is_nobits and s.type:
            assert s.data == compiled.read_bytes()[s.offset:s.offset + s.size]


def test_symbols_match(compiled: Path) -> None:
    obj = ElfObject(compiled.read_bytes(), compiled.name)
    ref = [s["Symbol"] for s in _readobj(compiled)["Symbols"]]
    ours = [(s.name, s.value, s.size, int(s.bind), int(s.type), s.section_index) for s in obj.symbols]
    theirs = [(s["Name"]["Name"], s["Value"], s["Size"], s["Binding"]["Value"], s["Type"]["Value"],
               s["Section"]["Value"]) for s in ref]
    # llvm-readobj names a section symbol after its section, as ElfObject does
    assert ours == theirs


def test_relocations_match(compiled: Path) -> None:
    obj = ElfObject(compiled.read_bytes(), compiled.name)
    ref = _readobj(compiled)["Relocations"]
    assert ref, "the fixture has relocations"
    for block in ref:
        index = obj.sections_by_index[block["SectionIndex"]].info  # the section it relocates
        theirs = [(r["Relocation"]["Offset"], r["Relocation"]["Type"]["Value"], r["Relocation"]["Symbol"]["Name"])
                  for r in block["Relocs"]]
        ours = [(r.offset, int(r.type), r.symbol_name) for r in obj.relocations_by_index(index)]
        assert ours == theirs, obj.sections_by_index[index].name
    target = obj.sections_by_index[obj.sections_by_index[ref[0]["SectionIndex"]].info]
    assert obj.relocations(target.name) == obj.relocations_by_index(target.index)
