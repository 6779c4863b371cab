"""Program objects (info, test_run, pin, from_pin/from_id), the kernel inventory and the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pybpf
from pybpf import _sys
from pybpf.cli import main
from pybpf.enums import LinkType, ProgramType
from pybpf.isa import CallSrc, disassemble
from pybpf.program import Program
from pybpf.spec import ObjectSpec

sys.path.insert(0, str(Path(__file__).parent))
from test_load import PROGS_LOAD, build  # noqa: E402,F401

BPFFS = Path("/sys/fs/bpf")


@pytest.fixture
def tail_obj(build) -> Iterator[pybpf.Collection]:  # type: ignore[no-untyped-def]
    with pybpf.load(build(PROGS_LOAD / "tail.bpf.c")) as obj:
        yield obj


def test_info_reports_code_maps_and_run_statistics(tail_obj: pybpf.Collection) -> None:
    prog = tail_obj.programs["entry"]
    assert prog.type == ProgramType.XDP and prog.name == "entry"
    with _sys.enable_stats():
        prog.test_run(data=bytes(64), repeat=5)
        info = prog.info()
    assert info.run_count == 5 and info.run_time_ns > 0
    assert info.type == ProgramType.XDP and info.name == "entry"
    map_ids = {m.info().id for n, m in tail_obj.maps.items() if n == "jump" or n.endswith(".rodata")}
    assert set(info.map_ids) == map_ids
    # the xlated code decodes: the tail call helper (12) is in it
    assert any(i.is_call and i.src == CallSrc.HELPER and i.imm == 12 for i in info.xlated) or \
        "tail_call" in disassemble(info.xlated)
    assert len(info.jited) > 0
    assert prog.id == info.id


def test_test_run_returns_output(tail_obj: pybpf.Collection) -> None:
    result = tail_obj.programs["target_two"].test_run(data=bytes(range(64)))
    assert result.retval == 42
    assert result.data_out == bytes(range(64))
    assert result.duration_ns >= 0


def test_pin_from_pin_and_from_id(tail_obj: pybpf.Collection) -> None:
    prog = tail_obj.programs["target_one"]
    path = BPFFS / f"pybpf_load_prog_{prog.id}"
    prog.pin(path)
    try:
        with Program.from_pin(path) as again:
            assert again.id == prog.id and again.name == "target_one" and again.type == ProgramType.XDP
            assert again.test_run(data=bytes(64)).retval == 41
    finally:
        path.unlink()
    with Program.from_id(prog.id) as by_id:
        assert by_id.info().tag == prog.info().tag
    assert not prog.closed
    map_pin = BPFFS / f"pybpf_load_map_{prog.id}"
    tail_obj.maps["jump"].pin(map_pin)
    try:
        with pytest.raises(pybpf.BPFError, match="is a map, not a program"):
            Program.from_pin(map_pin)
    finally:
        map_pin.unlink()


def test_inventory_lists_what_is_loaded(tail_obj: pybpf.Collection) -> None:
    ids = {p.id: p for p in pybpf.programs()}
    entry = tail_obj.programs["entry"]
    assert ids[entry.id].name == "entry" and ids[entry.id].type == ProgramType.XDP
    maps = {m.id: m for m in pybpf.loaded_maps()}
    jump = tail_obj.maps["jump"]
    assert maps[jump.info().id].name == "jump"
    # a link shows up in links() with its program
    with _sys.raw_tracepoint_open(load_raw_tp(), "sys_enter") as link_fd:
        link_id = _sys.link_info(link_fd).id
        links = {link.id: link for link in pybpf.links()}
        assert links[link_id].type == LinkType.RAW_TRACEPOINT


def load_raw_tp() -> _sys.FD:
    from pybpf.isa import assemble, encode

    return _sys.prog_load(ProgramType.RAW_TRACEPOINT, encode(assemble("r0 = 0\nexit")), "GPL")


def test_cli_prog_list_show_dump(tail_obj: pybpf.Collection, capsys: pytest.CaptureFixture[str]) -> None:
    prog = tail_obj.programs["entry"]
    assert main(["prog", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{prog.id}: xdp  name entry  tag {prog.info().tag}" in listed
    assert main(["prog", "show", str(prog.id)]) == 0
    shown = capsys.readouterr().out
    assert "xlated" in shown and "run_cnt" in shown
    assert main(["prog", "dump", str(prog.id)]) == 0
    dumped = capsys.readouterr().out
    assert dumped.strip().splitlines()[-1].strip() == "exit"
    assert dumped == disassemble(prog.info().xlated) + "\n"


def test_cli_prog_dump_matches_bpftool_instruction_count(tail_obj: pybpf.Collection,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        pytest.skip("bpftool is not installed (Debian package bpftool); it is the reference here")
    prog = tail_obj.programs["target_two"]
    ref = subprocess.run([bpftool, "-j", "prog", "dump", "xlated", "id", str(prog.id)], capture_output=True,
                         text=True, check=True).stdout
    import json

    assert len(json.loads(ref)) == len(prog.info().xlated)


def test_cli_map_list_and_dump(build, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "pinned.bpf.c"))
    with pybpf.load(spec) as obj:
        obj.programs["count"].test_run(data=bytes(64), repeat=3)
        shared = obj.maps["shared"].info()
        assert main(["map", "list"]) == 0
        assert f"{shared.id}: hash  name shared  key 4B  value 8B  max_entries 64" in capsys.readouterr().out
        assert main(["map", "dump", str(shared.id)]) == 0
        out = capsys.readouterr().out
    assert "key: 0  value: 3" in out  # typed through the map's BTF (u32 -> u64)
    assert "Found 1 element" in out


def test_cli_reports_a_missing_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prog", "show", str(2**31 - 5)]) == 1
    assert "error" in capsys.readouterr().err
