"""The whole load pipeline against the FakeSyscalls double: what reaches BPF_PROG_LOAD, the
order of the stages, and that a failure closes everything (no kernel needed)."""

from __future__ import annotations

import ctypes
import errno
from pathlib import Path

import pytest

import pybpf
import pybpf.cc
from pybpf import _sys
from pybpf._sys import Command
from pybpf._sys.attrs import ProgLoadAttr
from pybpf._sys.fake import FakeSyscalls, raise_errno, read, write
from pybpf.btf import BTF
from pybpf.btf.ext import pack_line_info
from pybpf.errors import VerifierError
from pybpf.isa import decode
from pybpf.isa.opcodes import PseudoSrc
from pybpf.loader import load_spec
from pybpf.loader.btf_sanitize import ALL_FEATURES
from pybpf.spec import ObjectSpec

PROGS = Path(__file__).parents[1] / "kernel" / "progs_load"


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("load_pipeline")
    return {src.name.split(".")[0]: pybpf.cc.compile(src, output=out / f"{src.name.split('.')[0]}.o")
            for src in (PROGS / "tail.bpf.c", PROGS / "rejected.bpf.c", PROGS / "globals_rt.bpf.c")}


def _load(spec: ObjectSpec, fake: FakeSyscalls, **kw: object) -> tuple[dict, dict]:  # type: ignore[type-arg]
    with _sys.override(fake):
        loaded = load_spec(spec, features=ALL_FEATURES, **kw)  # type: ignore[arg-type]
    return loaded.programs, loaded.maps


def test_stage_order_and_program_attrs(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["tail"])
    fake = FakeSyscalls()
    progs, maps = _load(spec, fake)
    cmds = [c.cmd for c in fake.calls]
    assert cmds.index(Command.BTF_LOAD) < cmds.index(Command.MAP_CREATE) < cmds.index(Command.PROG_LOAD)
    # initial prog array slots are written after every program is loaded
    last_load = max(i for i, c in enumerate(cmds) if c == Command.PROG_LOAD)
    slot_writes = [i for i, c in enumerate(fake.calls)
                   if c.cmd == Command.MAP_UPDATE_ELEM and c.attr.map_fd == maps["jump"].fileno()]
    assert len(slot_writes) == 2 and min(slot_writes) > last_load
    loads = fake.calls_for(Command.PROG_LOAD)
    assert len(loads) == 3
    btf_fd = fake.calls_for(Command.BTF_LOAD)
    assert all(c.attr.prog_btf_fd > 0 and c.attr.func_info_cnt >= 1 and c.attr.line_info_cnt >= 1 for c in loads)
    assert all(c.attr.func_info_rec_size == 8 and c.attr.line_info_rec_size == 16 for c in loads)
    assert btf_fd
    for p in progs.values():
        p.close()
    for m in maps.values():
        m.close()
    assert fake.open_fds == set()  # the BTF fd too


def test_map_fds_are_patched_into_the_instructions(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["tail"])
    fake = FakeSyscalls()
    seen: dict[str, bytes] = {}

    def on_load(attr: ProgLoadAttr) -> int:
        name = bytes(attr.prog_name).split(b"\0")[0].decode()
        seen[name] = read(attr.insns, attr.insn_cnt * 8)
        assert read(attr.license, 3) == b"GPL"
        return fake.new_fd()

    fake.on(Command.PROG_LOAD, on_load)
    progs, maps = _load(spec, fake)
    entry = decode(seen["entry"])
    wide = [i for i in entry if i.is_ld_imm64]
    fds = {(i.src, i.lo32) for i in wide}
    rodata = next(m for n, m in maps.items() if n.endswith(".rodata"))
    assert (PseudoSrc.MAP_FD, maps["jump"].fileno()) in fds
    assert (PseudoSrc.MAP_VALUE, rodata.fileno()) in fds
    for obj in (*progs.values(), *maps.values()):
        obj.close()


def test_verifier_rejection_closes_everything(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["rejected"])
    prog = spec.programs["unchecked"]
    fake = FakeSyscalls()
    bad = max(li.insn_off for li in prog.line_info if "no NULL check" in li.line_text)
    log = f"0: (b4) w1 = 1\n{bad}: (79) r0 = *(u64 *)(r0 +0)\nR0 invalid mem access 'map_value_or_null'\n"

    def reject(attr: ProgLoadAttr) -> int:
        if attr.log_level:
            write(attr.log_buf, log.encode() + b"\0")
        raise OSError(errno.EACCES, "Permission denied")

    fake.on(Command.PROG_LOAD, reject)
    with pytest.raises(VerifierError) as exc:
        _load(spec, fake)
    assert exc.value.source_line.startswith("rejected.bpf.c:") and "no NULL check" in exc.value.source_line
    assert "BPF_PROG_LOAD unchecked" in str(exc.value)
    assert fake.open_fds == set()


def test_map_failure_closes_earlier_maps_and_btf(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["globals_rt"])
    fake = FakeSyscalls()
    fake.on(Command.MAP_CREATE, fake._model, fake._model, raise_errno(errno.ENOMEM))
    with pytest.raises(pybpf.SyscallError):
        _load(spec, fake)
    assert len(fake.calls_for(Command.MAP_CREATE)) == 3
    assert not fake.calls_for(Command.PROG_LOAD)
    assert fake.open_fds == set()


def test_rodata_set_before_load_is_written(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["globals_rt"])
    spec.rodata["x"] = 7
    fake = FakeSyscalls()
    progs, maps = _load(spec, fake)
    rodata = next(m for n, m in maps.items() if n.endswith(".rodata"))
    stored = fake.maps[rodata.fileno()]
    assert stored.frozen
    assert stored.data[bytes(4)][:4] == (7).to_bytes(4, "little")
    for obj in (*progs.values(), *maps.values()):
        obj.close()


def test_line_info_strings_are_in_the_loaded_btf(objects: dict[str, Path]) -> None:
    spec = ObjectSpec.from_file(objects["rejected"])
    fake = FakeSyscalls()
    blobs: list[bytes] = []

    def on_btf(attr: ctypes.Structure) -> int:
        blobs.append(read(attr.btf, attr.btf_size))  # type: ignore[attr-defined]
        return fake.new_fd()

    fake.on(Command.BTF_LOAD, on_btf)
    progs, maps = _load(spec, fake)
    loaded = BTF.from_bytes(blobs[0])
    assert pack_line_info(spec.programs["unchecked"].line_info, loaded)  # every string is found
    for obj in (*progs.values(), *maps.values()):
        obj.close()
