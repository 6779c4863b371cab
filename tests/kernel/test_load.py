"""pybpf.load against the running kernel: every foundation fixture, global data, tail calls,
CO-RE against the kernel's task_struct, verifier errors with source lines, fd hygiene."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path

import pytest

import pybpf
import pybpf.cc
from pybpf import _sys
from pybpf.enums import MapFlags
from pybpf.errors import BPFError, NotSupportedError, VerifierError
from pybpf.loader.kconfig import system_config
from pybpf.loader.ksyms import KsymError
from pybpf.loader.programs import TRAMPOLINE_ATTACH, ProgramLoadError
from pybpf.spec import ObjectSpec

ROOT = Path(__file__).parents[1]
PROGS_ELF = ROOT / "unit" / "progs_elf"
PROGS_DIFF = ROOT / "differential" / "progs"
PROGS_CC = ROOT / "unit" / "progs_cc"
PROGS_LOAD = Path(__file__).parent / "progs_load"

#: differential programs the kernel accepts (the rest are disassembler fixtures that misuse
#: their context on purpose, or lack a license for GPL helpers; see test_rejected_fixtures)
LOADABLE_DIFF = {
    "alu32", "callback", "global_data", "jmp32", "kfunc_rcu", "ld_abs", "license", "maps_btf", "maps_legacy",
    "memcpy", "ringbuf", "sext_loads", "stack", "subprogs", "switch", "tail_call", "xdp_parse",
}
#: differential programs the ELF reader cannot read yet (weak kfunc as a value, inline asm
#: taking a label's address): not loader cases
ELF_UNREADABLE = {"kfunc", "inline_asm"}


def _cpu(src: Path) -> str:
    first = src.read_text().splitlines()[0]
    return first.removeprefix("// cpus:").split()[-1] if first.startswith("// cpus:") else "v3"


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("load_objs")
    cache: dict[Path, Path] = {}

    def compile_one(src: Path) -> Path:
        if src not in cache:
            inc = [src.parent] + ([src.parent / "include"] if (src.parent / "include").is_dir() else [])
            flags = [f"-mcpu={_cpu(src)}"] if src.parent == PROGS_DIFF else []
            cache[src] = pybpf.cc.compile(src, output=out / f"{src.name.split('.')[0]}.o",
                                          include_dirs=inc, cflags=flags)
        return cache[src]

    return compile_one


def _ids() -> set[tuple[str, int]]:
    """Every program and map id in the kernel (other processes may add theirs meanwhile)."""
    return ({("prog", i) for i in _sys.iter_ids(_sys.ObjectKind.PROG)}
            | {("map", i) for i in _sys.iter_ids(_sys.ObjectKind.MAP)})


def _names(spec: ObjectSpec) -> set[str]:
    return {n[:15] for n in spec.programs} | {n[:15] for n in spec.maps}


def _name_of(kind: str, obj_id: int) -> str | None:
    try:
        fd = _sys.get_fd_by_id(_sys.ObjectKind.PROG if kind == "prog" else _sys.ObjectKind.MAP, obj_id)
    except BPFError:
        return None  # gone meanwhile
    with fd:
        info = _sys.prog_info(fd, instructions=False).info if kind == "prog" else _sys.map_info(fd)
        return bytes(info.name).split(b"\0", 1)[0].decode()


def assert_nothing_left(before: set[tuple[str, int]], spec: ObjectSpec, grace: float = 1.0) -> None:
    """No program or map of ``spec`` created since ``before`` is still in the kernel.

    The kernel frees a closed program's maps after an RCU grace period, so this first waits
    (without touching the objects) for the new ids to go; only what is still there after
    ``grace`` seconds is opened to read its name. (Opening a prog array by id while the kernel
    is releasing it can leak it in the kernel, hence not earlier.)
    """
    names = _names(spec)
    deadline = time.monotonic() + grace
    while (new := _ids() - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = {(k, i, n) for k, i in new if (n := _name_of(k, i)) in names}
    assert not left, f"left in the kernel: {sorted(left)}"


def wait_gone(ids: set[tuple[str, int]], timeout: float = 5.0) -> set[tuple[str, int]]:
    """Wait for these program/map ids to leave the kernel; returns those still there."""
    deadline = time.monotonic() + timeout
    while (alive := ids & _ids()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def _assert_loaded(obj: pybpf.Collection, spec: ObjectSpec) -> None:
    loadable = {n for n, p in spec.programs.items()
                if p.type != pybpf.ProgramType.STRUCT_OPS or any(n in m.struct_ops_programs.values()
                                                                 for m in spec.maps.values())}
    assert set(obj.programs) == loadable
    assert set(obj.maps) == set(spec.maps)
    for name, prog in obj.programs.items():
        info = prog.info()
        assert info.id > 0
        assert info.name == name[:15]
        assert info.type == spec.programs[name].type
        assert info.xlated, f"{name}: no xlated instructions"
        assert len(info.tag) == 16
        for m in obj.maps.values():
            assert m.info().id > 0


@functools.lru_cache(maxsize=1)
def _has_trampolines() -> bool:
    """Probe: can this process load a minimal fentry program (``r0 = 0; exit``)?"""
    from pybpf.btf import Kind, kernel_btf
    from pybpf.enums import AttachType, ProgramType
    from pybpf.isa import assemble, encode

    target = kernel_btf().find_one("do_unlinkat", Kind.FUNC)
    try:
        _sys.prog_load(ProgramType.TRACING, encode(assemble("r0 = 0\nexit")), "GPL",
                       expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=target).close()
    except BPFError:
        return False
    return True


# ---- every fixture -------------------------------------------------------------------------


def _elf_spec(name: str, path: Path) -> ObjectSpec:
    """A fixture's spec, adapted where the fixture asks for what this machine cannot give."""
    spec = ObjectSpec.from_file(path)
    if name == "maps":  # asks for NUMA node 1
        s = spec.maps["sized"]
        if not Path("/sys/devices/system/node/node1").exists():
            s.numa_node, s.flags = 0, s.flags & ~MapFlags.NUMA_NODE
    if name == "globals" and "bpf_prog_active" not in __import__("pybpf.loader.ksyms").loader.ksyms.kallsyms():
        # the per-CPU variable is gone from newer kernels: load it as a weak extern
        spec.externs["bpf_prog_active"] = dataclasses.replace(spec.externs["bpf_prog_active"], weak=True)
    if name == "sections":
        for prog in ("p_freplace", "p_unknown"):  # see test_unloadable_program_types
            del spec.programs[prog]
        if "CONFIG_BPF_LIRC_MODE2" not in system_config():
            del spec.programs["p_lirc_mode2"]
    return _without_trampolines(spec)


def _without_trampolines(spec: ObjectSpec) -> ObjectSpec:
    """The spec without fentry/fexit/LSM programs where this kernel refuses them."""
    if not _has_trampolines():  # see test_trampoline_programs_without_trampolines
        for n in [n for n, p in spec.programs.items() if p.expected_attach_type in TRAMPOLINE_ATTACH]:
            del spec.programs[n]
    return spec


@pytest.mark.parametrize("src", sorted(PROGS_ELF.glob("*.c")), ids=lambda p: p.stem)
def test_elf_fixtures_load(build, src: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _elf_spec(src.stem, build(src))
    with pybpf.load(spec) as obj:
        _assert_loaded(obj, spec)


@pytest.mark.parametrize("src", sorted(p for p in PROGS_DIFF.glob("*.c") if p.stem in LOADABLE_DIFF),
                         ids=lambda p: p.stem)
def test_differential_fixtures_load(build, src: Path) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(src))
    with pybpf.load(spec) as obj:
        _assert_loaded(obj, spec)


@pytest.mark.parametrize("src", sorted(PROGS_CC.glob("*.bpf.c")), ids=lambda p: p.stem.split(".")[0])
def test_libbpf_style_samples_load(build, src: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _without_trampolines(ObjectSpec.from_file(build(src)))
    with pybpf.load(spec) as obj:
        _assert_loaded(obj, spec)


def test_rejected_fixtures_name_their_source_line(build) -> None:  # type: ignore[no-untyped-def]
    """The disassembler fixtures the verifier refuses each fail with a C source line."""
    rejected = 0
    for src in sorted(PROGS_DIFF.glob("*.c")):
        if src.stem in LOADABLE_DIFF | ELF_UNREADABLE:
            continue
        try:
            path = build(src)
        except pybpf.CompileError:
            continue  # needs a newer -mcpu than the zig clang offers for this target
        with pytest.raises(VerifierError) as exc:
            pybpf.load(path).close()
        assert exc.value.source_line.startswith(f"{src.name}:"), src.name
        rejected += 1
    assert rejected >= 10


def test_unloadable_program_types(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_ELF / "sections.c"))
    before = _ids()
    for name, err in (("p_freplace", NotSupportedError), ("p_unknown", ProgramLoadError)):
        one = spec.copy()
        one.programs = {name: one.programs[name]}
        with pytest.raises(err, match=name):
            pybpf.load(one)
    assert_nothing_left(before, spec)
    one = spec.copy()
    one.programs = {"p_struct_ops": one.programs["p_struct_ops"]}
    with pybpf.load(one) as obj:  # a struct_ops program in no table is not loaded (as libbpf does)
        assert obj.programs == {}


def test_trampoline_programs_without_trampolines(build) -> None:  # type: ignore[no-untyped-def]
    if _has_trampolines():
        pytest.skip("fentry programs load here: they are covered by test_elf_fixtures_load")
    spec = ObjectSpec.from_file(build(PROGS_ELF / "sections.c"))
    spec.programs = {"p_fentry": spec.programs["p_fentry"]}
    with pytest.raises(NotSupportedError, match="fentry/fexit/LSM programs") as info:
        pybpf.load(spec)
    # the alternative is specific to the function: do_unlinkat has no tracepoint named like it
    assert "no tracepoint is named like do_unlinkat" in str(info.value)


def test_strong_missing_ksym_is_an_error(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_ELF / "globals.c"))
    spec.externs["bpf_prog_active"] = dataclasses.replace(
        spec.externs["bpf_prog_active"], name="pybpf_no_such_symbol")
    spec.externs = {e.name: e for e in spec.externs.values()}
    for p in spec.programs.values():
        for r in p.relocations:
            if r.symbol == "bpf_prog_active":
                r.symbol = "pybpf_no_such_symbol"
    before = _ids()
    with pytest.raises(KsymError, match="pybpf_no_such_symbol"):
        pybpf.load(spec)
    assert_nothing_left(before, spec)


# ---- behaviour -----------------------------------------------------------------------------


def test_tail_calls_through_initial_prog_array_slots(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "tail.bpf.c"))
    with pybpf.load(spec) as obj:
        assert obj.programs["entry"].test_run(data=bytes(64)).retval == 41
    spec.rodata["slot"] = 2
    with pybpf.load(spec) as obj:
        assert obj.programs["entry"].test_run(data=bytes(64)).retval == 42
    spec.rodata["slot"] = 3  # an empty slot: the tail call falls through
    with pybpf.load(spec) as obj:
        assert obj.programs["entry"].test_run(data=bytes(64)).retval == 7
        obj.maps["jump"][3] = obj.programs["target_two"]  # filled at run time
        assert obj.programs["entry"].test_run(data=bytes(64)).retval == 42


def test_global_data_round_trip(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "globals_rt.bpf.c"))
    spec.rodata["x"] = 7
    with pybpf.load(spec) as obj:
        assert obj.globals is not None
        assert obj.globals["out_data"] == 5 and obj.globals["out_bss"] == 0
        result = obj.programs["round_trip"].test_run()
        assert result.retval == 7
        assert obj.globals["out_data"] == 21  # x * scale, in .data
        assert obj.globals["out_bss"] == 107  # x + 100, in .bss
        assert obj.programs["round_trip"].test_run().retval == 7
        assert obj.globals["runs"] == 2
        obj.globals["runs"] = 40
        obj.programs["round_trip"].test_run()
        assert obj.globals["runs"] == 41
        rodata = next(m for n, m in obj.maps.items() if n.endswith(".rodata"))
        assert rodata.info().flags & MapFlags.RDONLY_PROG
        with pytest.raises(BPFError):  # frozen
            obj.globals["x"] = 9
    assert spec.rodata["x"] == 7  # the spec is not changed by loading


def test_core_reads_of_current_task_match_proc(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "core_task.bpf.c"))
    spec.rodata["target_tgid"] = os.getpid()
    with pybpf.load(spec) as obj:
        with _sys.raw_tracepoint_open(obj.programs["read_task"].fd, "sys_enter"):
            os.getpid()
        g = obj.globals
        assert g is not None and g["hits"] >= 1
        status = dict(line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines()
                      if ":\t" in line)
        assert g["seen_tgid"] == int(status["Tgid"]) == os.getpid()
        assert g["seen_pid"] == int(status["Pid"])
        assert g["seen_ppid"] == int(status["PPid"]) == os.getppid()
        comm = Path("/proc/self/comm").read_text().strip()
        assert g["seen_comm"].rstrip(b"\0").decode() == comm


def test_verifier_error_names_the_c_source_line(build) -> None:  # type: ignore[no-untyped-def]
    src = PROGS_LOAD / "rejected.bpf.c"
    line_no = next(i for i, text in enumerate(src.read_text().splitlines(), 1) if "no NULL check" in text)
    before = _ids()
    spec = ObjectSpec.from_file(build(src))
    with pytest.raises(VerifierError) as exc:
        pybpf.load(spec)
    err = exc.value
    assert err.source_line == f"rejected.bpf.c:{line_no}: return *value + 1; /* no NULL check */"
    assert f"rejected.bpf.c:{line_no}" in str(err)
    assert "unchecked" in str(err)  # the program's name
    assert "invalid mem access" in err.log
    assert_nothing_left(before, spec)  # the map created before the program was closed again


def test_log_level_keeps_the_log_on_success(build) -> None:  # type: ignore[no-untyped-def]
    with pybpf.load(build(PROGS_LOAD / "tail.bpf.c"), log_level=2) as obj:
        assert "processed" in obj.programs["entry"].log
    with pybpf.load(build(PROGS_LOAD / "tail.bpf.c")) as obj:
        assert obj.programs["entry"].log == ""


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_no_fd_remains_after_close(build) -> None:  # type: ignore[no-untyped-def]
    paths = [build(PROGS_ELF / "subprogs.c"), build(PROGS_LOAD / "tail.bpf.c"), build(PROGS_CC / "kprobe_core.bpf.c"),
             build(PROGS_DIFF / "maps_btf.c")]
    pybpf.load(paths[0]).close()  # warm caches (kernel BTF, feature probes)
    before_fds = _open_fds()
    for path in paths:
        with pybpf.load(path) as obj:
            assert _open_fds() > before_fds
            ours = ({("prog", p.id) for p in obj.programs.values()}
                    | {("map", m.info().id) for m in obj.maps.values()})
        assert obj.closed
        obj.close()  # a second close does nothing
        assert _open_fds() == before_fds
        assert not wait_gone(ours)


def test_unknown_program_or_map_name_lists_the_names(build) -> None:  # type: ignore[no-untyped-def]
    with pybpf.load(build(PROGS_LOAD / "tail.bpf.c")) as obj:
        programs, maps = sorted(obj.programs), sorted(obj.maps)
        with pytest.raises(KeyError, match=f"no program 'nope' \\(it has: {', '.join(programs)}\\)"):
            obj.programs["nope"]
        with pytest.raises(KeyError, match=f"no map 'nope' \\(it has: {', '.join(maps)}\\)"):
            obj.maps["nope"]
        assert obj.maps.get("nope") is None and "nope" not in obj.programs
        assert repr(obj) == f"<Collection programs={programs} maps={maps}>"
    assert repr(obj).endswith(" closed>") and all(p.closed for p in obj.programs.values())


def test_externs_kconfig_untyped_ksym_and_kfuncs(build) -> None:  # type: ignore[no-untyped-def]
    from pybpf.loader.kconfig import kernel_version_code
    from pybpf.loader.ksyms import kallsyms

    path = build(PROGS_LOAD / "ksyms.bpf.c")
    with pybpf.load(path) as obj:
        obj.programs["read_ksyms"].test_run()
        g = obj.globals
        assert g is not None
        assert g["unlinkat_addr"] == kallsyms()["do_unlinkat"] != 0
        assert g["kernel_version"] == kernel_version_code(os.uname().release)
        assert g["hz"] == int(system_config()["CONFIG_HZ"])
        assert g["bpf_syscall"] == 1
        assert g["absent"] == 0  # weak and not in the configuration
    with pybpf.load(path, kconfig={"CONFIG_HZ": 1000}) as obj:  # overrides win
        obj.programs["read_ksyms"].test_run()
        assert obj.globals is not None and obj.globals["hz"] == 1000


def test_typed_ksym(build) -> None:  # type: ignore[no-untyped-def]
    """A typed __ksym is passed as its kernel BTF id; the kernel then needs its address."""
    from pybpf.loader.ksyms import kallsyms

    path = build(PROGS_LOAD / "typed_ksym.bpf.c")
    if "runqueues" not in kallsyms():  # kernels without CONFIG_KALLSYMS_ALL list no variables
        with pytest.raises(VerifierError, match="find the address for kernel symbol 'runqueues'"):
            pybpf.load(path)
        return
    with pybpf.load(path) as obj:
        obj.programs["read_rq"].test_run()
        assert obj.globals is not None and 0 <= obj.globals["rq_cpu"] < os.cpu_count()  # type: ignore[operator]


def test_map_in_map_initial_slots(build) -> None:  # type: ignore[no-untyped-def]
    spec = _elf_spec("maps", build(PROGS_ELF / "maps.c"))
    with pybpf.load(spec) as obj:
        outer = obj.maps["outer"]
        assert outer[2] == obj.maps["inner_a"].info().id
        assert outer[5] == obj.maps["inner_b"].info().id
        assert 0 not in outer or outer[0] is None


def test_struct_ops_table_registers_with_the_kernel(build) -> None:  # type: ignore[no-untyped-def]
    avail = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "tcp_ca.bpf.c"))
    with pybpf.load(spec) as obj:
        assert "not_in_any_table" not in obj.programs  # in no table: not loaded, as libbpf does
        ssthresh = obj.programs["pybpf_ssthresh"]
        assert ssthresh.type == pybpf.ProgramType.STRUCT_OPS
        m = obj.maps["pybpf_ca"]
        assert m.info().type == pybpf.MapType.STRUCT_OPS
        assert "pybpf_test_ca" not in avail.read_text().split()  # loading is not registering
        _sys.map_update_elem(m.fd, bytes(4), obj.struct_ops["pybpf_ca"])
        try:
            assert "pybpf_test_ca" in avail.read_text().split()
        finally:
            _sys.map_delete_elem(m.fd, bytes(4))
        assert "pybpf_test_ca" not in avail.read_text().split()


def test_struct_ops_of_an_unknown_kernel_type(build) -> None:  # type: ignore[no-untyped-def]
    spec = ObjectSpec.from_file(build(PROGS_LOAD / "tcp_ca.bpf.c"))
    from pybpf.btf import Kind, Struct

    btf = spec.btf
    assert btf is not None
    tid = btf.find_one("tcp_congestion_ops", Kind.STRUCT)
    t = btf[tid]
    assert isinstance(t, Struct)
    spec.btf = btf.with_types({tid: Struct("pybpf_no_such_ops", t.size, t.members)})
    before = _ids()
    with pytest.raises(NotSupportedError, match="struct pybpf_no_such_ops"):
        pybpf.load(spec)
    assert_nothing_left(before, spec)


def test_verifier_error_in_a_subprogram(build) -> None:  # type: ignore[no-untyped-def]
    src = PROGS_LOAD / "rejected_sub.bpf.c"
    line_no = next(i for i, text in enumerate(src.read_text().splitlines(), 1) if "forgets the NULL" in text)
    with pytest.raises(VerifierError) as exc:
        pybpf.load(build(src))
    assert exc.value.source_line == f"rejected_sub.bpf.c:{line_no}: return *v; /* the subprogram forgets the NULL check */"
