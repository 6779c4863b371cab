"""Bad input to pybpf.load: each a clear pybpf error, and nothing left in the kernel."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pybpf
from pybpf import _sys
from pybpf.enums import MapType, PinType
from pybpf.isa import assemble
from pybpf.errors import BPFError, CORError, ELFError, PinMismatchError, SyscallError, VerifierError
from pybpf.spec import MapSpec, ObjectSpec

sys.path.insert(0, str(Path(__file__).parent))
from test_load import PROGS_LOAD, _ids, assert_nothing_left, build  # noqa: E402,F401

BPFFS = Path("/sys/fs/bpf")


@pytest.fixture
def pin_dir() -> Iterator[Path]:
    path = BPFFS / f"pybpf_load_test_{os.getpid()}"
    path.mkdir(exist_ok=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_unknown_helper(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "unknown_helper.bpf.c"))
    before = _ids()
    with pytest.raises(VerifierError) as exc:
        pybpf.load(spec)
    assert "invalid func unknown#99999" in str(exc.value)
    assert exc.value.source_line == "unknown_helper.bpf.c:17: return bpf_no_such_helper();"
    assert_nothing_left(before, spec)


def test_map_too_large_for_memory(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "core_task.bpf.c"))
    # 2^32-1 entries of 64 KiB: far beyond any machine's memory; created after the data maps
    spec.maps["huge"] = MapSpec(name="huge", type=MapType.ARRAY, key_size=4, value_size=1 << 16,
                                max_entries=(1 << 32) - 1)
    before = _ids()
    with pytest.raises(SyscallError) as exc:
        pybpf.load(spec)
    assert "BPF_MAP_CREATE" in str(exc.value)
    assert_nothing_left(before, spec)


def test_missing_btf_target(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "missing_type.bpf.c"))
    before = _ids()
    with pytest.raises(CORError, match="pybpf_no_such_kernel_type"):
        pybpf.load(spec)
    assert_nothing_left(before, spec)


def test_pinned_map_reused_when_compatible(build, pin_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = build(PROGS_LOAD / "pinned.bpf.c")
    with pybpf.load(path, pin_path=pin_dir) as obj:
        obj.programs["count"].test_run(data=bytes(64))
        assert obj.maps["shared"][0] == 1
    assert (pin_dir / "shared").exists()  # the pin keeps the map
    with pybpf.load(path, pin_path=pin_dir) as obj:
        assert obj.maps["shared"][0] == 1  # the same map, reused
        obj.programs["count"].test_run(data=bytes(64))
        assert obj.maps["shared"][0] == 2


def test_wrong_pinned_map(build, pin_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "pinned.bpf.c"))
    assert spec.maps["shared"].pinning == PinType.BY_NAME
    with _sys.map_create(MapType.ARRAY, 4, 8, 64, name="shared") as fd:
        _sys.obj_pin(fd, pin_dir / "shared")
    before = _ids()
    with pytest.raises(PinMismatchError) as exc:
        pybpf.load(spec, pin_path=pin_dir)
    assert exc.value.path == str(pin_dir / "shared")
    assert "type" in exc.value.mismatches
    assert sorted(os.listdir(pin_dir)) == ["shared"]
    assert_nothing_left(before, spec)


def test_failed_load_removes_the_pins_it_made(build, pin_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "pinned.bpf.c"))
    prog = spec.programs["count"]  # replaced by a program that reads past its context: rejected
    prog.instructions = assemble("r0 = *(u64 *)(r1 + 4096)\nexit")
    prog.relocations, prog.core_relocations, prog.line_info = [], [], []
    prog.func_info = [fi for fi in prog.func_info if fi.insn_off == 0]
    before = _ids()
    with pytest.raises(VerifierError):
        pybpf.load(spec, pin_path=pin_dir)
    assert os.listdir(pin_dir) == []
    assert_nothing_left(before, spec)


@pytest.mark.parametrize("path", ["/bin/true", "/etc/hostname"])
def test_not_a_bpf_object(path: str) -> None:
    before = _ids()
    with pytest.raises(ELFError):
        pybpf.load(path)
    assert _ids() <= before | _ids()  # nothing of ours can exist: nothing was parsed
    with pytest.raises(BPFError):
        pybpf.load(b"\x7fELF" + bytes(60))


def test_missing_file() -> None:
    with pytest.raises(ELFError, match="cannot read"):
        pybpf.load("/nonexistent/prog.bpf.o")


def test_core_against_a_given_btf(build) -> None:  # type: ignore[no-untyped-def]
    """btf= replaces the kernel's BTF as the CO-RE target: one without task_struct fails cleanly."""
    from pybpf.btf import BTF, Int, IntEncoding

    spec = ObjectSpec.from_file(build(PROGS_LOAD / "core_task.bpf.c"))
    with pybpf.load(spec, btf=BTF.from_file("/sys/kernel/btf/vmlinux")) as obj:
        assert obj.programs["read_task"].info().xlated
    before = _ids()
    with pytest.raises(CORError, match="task_struct"):
        pybpf.load(spec, btf=BTF.from_types([Int("int", 4, IntEncoding.SIGNED, bits=32)]))
    assert_nothing_left(before, spec)
