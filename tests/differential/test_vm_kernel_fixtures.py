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


@pytest.mark.parametrize("tier", ["interpreter", "jit"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0].parent.name}/{c[0].stem}-{c[1]}" for c in CASES])
def test_fixture_matches_kernel(case: tuple[Path, str], tier: str) -> None:
    src, cpu = case
    if tier == "jit":
        from pybpf.vm import jit

        if not jit.available():
            pytest.skip(f"the JIT tier is unavailable: {jit.unavailable_reason()}")
    try:
        obj_path = cc_compile(src, cflags=[f"-mcpu={cpu}"])
    except BPFError as exc:
        pytest.skip(f"does not compile on its own ({str(exc).splitlines()[0]})")
    try:
        spec = pybpf.ObjectSpec.from_file(obj_path)
    except BPFError as exc:
        pytest.skip(f"the ELF reader does not take it ({str(exc).splitlines()[0]})")
    runnable = [p for p in spec.programs.values() if p.type in PACKET_TYPES]
    if not runnable:
        pytest.skip("no program test_run can drive with a packet (tracing/kprobe/struct_ops/...)")
    try:
        kobj = pybpf.load(spec.copy())
    except BPFError as exc:
        pytest.skip(f"the kernel does not load it ({type(exc).__name__}: {str(exc).splitlines()[0]})")
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
                assert got.retval == want.retval, f"{pspec.name}: retval vm={got.retval:#x} kernel={want.retval:#x}"
                assert got.data_out == want.data_out, f"{pspec.name}: data_out differs"
                compared += 1
        if src.stem not in NONDETERMINISTIC:
            for name in _comparable_maps(kobj):
                kmap, vmap = kobj.maps[name], vobj.maps[name]
                kitems = {kmap.encode_key(k): kmap.encode_value(v) for k, v in kmap.items()}
                vitems = {vmap.encode_key(k): vmap.encode_value(v) for k, v in vmap.items()}
                assert vitems == kitems, f"map {name} differs"
    if src.stem not in NONDETERMINISTIC:
        assert compared, "no input was accepted by the kernel"
