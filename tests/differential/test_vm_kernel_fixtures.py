"""Every fixture program of the earlier issues that BPF_PROG_TEST_RUN can drive, run in the
kernel and in the VM on the same packets: same retval, same data_out, same map contents."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pybpf
import pybpf.vm
from pybpf.cc import compile as cc_compile
from pybpf.enums import MapType, ProgramType
from pybpf.errors import BPFError, SyscallError

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).parent.parent
FIXTURE_DIRS = [ROOT / "differential" / "progs", ROOT / "unit" / "progs_elf", ROOT / "kernel" / "progs_load"]

#: program types whose test run takes a packet
PACKET_TYPES = {ProgramType.XDP, ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT}

#: programs whose results depend on the moment or the machine (time, randomness, the CPU,
#: the calling task): they run in both, but their outputs are not compared
NONDETERMINISTIC = {"helpers"}


def _udp_packet(daddr: bytes = b"\x7f\x00\x00\x01", ttl: int = 64) -> bytes:
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + 8, 1, 0, ttl, 17, 0, b"\x0a\x00\x00\x01", daddr)
    udp = struct.pack("!HHHH", 1234, 53, 16, 0) + b"payload!"
    return eth + ip + udp


PACKETS = [bytes(64), _udp_packet(), _udp_packet(b"\x0a\x00\x00\x02", ttl=1), bytes(range(256)) * 2,
           b"\xff" * 6 + b"\x01" * 6 + b"\x86\xdd" + bytes(60)]


def _cases() -> list[tuple[Path, str]]:
    cases = []
    for d in FIXTURE_DIRS:
        for src in sorted(d.glob("*.c")):
            first = src.read_text().splitlines()[0]
            cpus = first.removeprefix("// cpus:").split() if first.startswith("// cpus:") else ["v3"]
            cases += [(src, cpu) for cpu in cpus]
    return cases


CASES = _cases()


def _comparable_maps(obj: object) -> list[str]:
    out = []
    for name, m in obj.maps.items():  # type: ignore[attr-defined]
        if m.type in (MapType.ARRAY, MapType.HASH, MapType.LRU_HASH) and not name.endswith(".rodata"):
            out.append(name)
    return out


#: how many (fixture, cpu) cases the kernel loads and test_run drives today; fewer means a fixture
#: stopped loading or running, which this test must notice (the others are not meant for test_run:
#: tracing programs, or disassembler fixtures the verifier refuses on purpose)
MIN_COMPARED_CASES = 40


def _drivable(src: Path, cpu: str) -> tuple[pybpf.ObjectSpec | None, str]:
    """The fixture's spec when test_run can drive one of its programs, else why not."""
    try:
        spec = pybpf.ObjectSpec.from_file(cc_compile(src, cflags=[f"-mcpu={cpu}"]))
    except BPFError as exc:
        return None, f"not built or not read: {str(exc).splitlines()[0]}"
    if not any(p.type in PACKET_TYPES for p in spec.programs.values()):
        return None, "no program test_run can drive with a packet"
    return spec, ""


def _compare(src: Path, spec: pybpf.ObjectSpec, tier: str) -> str:
    """Runs ``spec`` in the kernel and the VM; '' when they agree, else what differs."""
    runnable = [p for p in spec.programs.values() if p.type in PACKET_TYPES]
    kobj = pybpf.load(spec.copy())
    compared = 0
    with kobj, pybpf.vm.load(spec.copy(), log_trace=False, tier=tier) as vobj:
        for pspec in runnable:
            kprog, vprog = kobj.programs[pspec.name], vobj.programs[pspec.name]
            for packet in PACKETS:
                try:
                    want = kprog.test_run(packet)
                except SyscallError:
                    continue  # the kernel refuses this input for this program type
                got = vprog.test_run(packet)
                if src.stem in NONDETERMINISTIC:
                    continue
                if got.retval != want.retval:
                    return f"{pspec.name}: retval vm={got.retval:#x} kernel={want.retval:#x}"
                if got.data_out != want.data_out:
                    return f"{pspec.name}: data_out differs"
                compared += 1
        if src.stem not in NONDETERMINISTIC:
            for name in _comparable_maps(kobj):
                kmap, vmap = kobj.maps[name], vobj.maps[name]
                kitems = {kmap.encode_key(k): kmap.encode_value(v) for k, v in kmap.items()}
                vitems = {vmap.encode_key(k): vmap.encode_value(v) for k, v in vmap.items()}
                if vitems != kitems:
                    return f"map {name} differs"
    if src.stem not in NONDETERMINISTIC and not compared:
        return "no input was accepted by the kernel"
    return ""


@pytest.mark.parametrize("tier", ["interpreter", "jit"])
def test_every_drivable_fixture_matches_kernel(tier: str) -> None:
    if tier == "jit":
        from pybpf.vm import jit

        assert jit.available(), f"the JIT tier is unavailable: {jit.unavailable_reason()}"
    mismatches, not_loaded, compared = [], [], []
    for src, cpu in CASES:
        case = f"{src.parent.name}/{src.stem}-{cpu}"
        spec, _why_not = _drivable(src, cpu)
        if spec is None:
            continue
        try:
            problem = _compare(src, spec, tier)
        except BPFError as exc:  # the verifier refuses it: not a program meant to run
            not_loaded.append(f"{case}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        if problem:
            mismatches.append(f"{case}: {problem}")
        else:
            compared.append(case)
    assert not mismatches, "VM and kernel differ:\n" + "\n".join(mismatches)
    assert len(compared) >= MIN_COMPARED_CASES, (
        f"only {len(compared)} fixture cases ran in both (expected at least {MIN_COMPARED_CASES}); "
        "the kernel refused:\n" + "\n".join(not_loaded))
