"""``__ksym`` externs in the VM: kernel variables get the addresses the caller registers
(``Runtime.register_ksym``); kfunc calls run Python registered by name with the helper API
(``register_helper("name", func)``) or a built-in; whatever is missing is an error naming it
and saying how to give it; a missing ``__weak`` variable is NULL as in the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

import pybpf.vm as vm
from pybpf.enums import ProgramType
from pybpf.isa import Instruction, assemble
from pybpf.vm import VMError, jit, program_from_instructions

PROGS = Path(__file__).parent / "progs_vm"


@pytest.fixture(scope="module")
def obj() -> Path:
    from pybpf.cc import compile as cc_compile

    return Path(cc_compile(PROGS / "ksyms.bpf.c"))


@pytest.fixture(params=["interpreter", "jit"])
def tier(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    with jit.use_tier(request.param):
        yield request.param


def _give_ksyms(coll: vm.VMCollection, active: int, counter: int) -> None:
    rt = coll.runtime
    rt.register_ksym("bpf_prog_active", coll.register_memory(active.to_bytes(4, "little"), name="bpf_prog_active"))
    rt.register_ksym("some_counter", coll.register_memory(counter.to_bytes(4, "little"), name="some_counter"))


def test_registered_ksyms_and_kfunc(obj: Path, tier: str) -> None:
    with vm.load(obj) as coll:
        _give_ksyms(coll, active=7, counter=5)
        coll.register_helper("scale", lambda rt, value, factor, *_: value * factor)
        assert coll.programs["ksyms"].test_run(bytes(64)).retval == (7 + 5) * 3
        assert jit.tier_of(coll.programs["ksyms"]) == tier


def test_ksyms_given_to_load(obj: Path) -> None:
    """vm.load(ksyms=...): contents (mapped read-only) or an address; register_helper for the kfunc."""
    with vm.load(obj, ksyms={"bpf_prog_active": (2).to_bytes(4, "little"), "some_counter": b"\x03\0\0\0"}) as coll:
        coll.register_helper("scale", lambda rt, value, factor, *_: value * factor)
        assert coll.programs["ksyms"].test_run(bytes(64)).retval == 15
        address = coll.register_ksym("maybe_missing", b"?")
        assert coll.runtime.memory.read(address, 1) == b"?"


def test_weak_ksym_is_null_unless_given(obj: Path) -> None:
    with vm.load(obj) as coll:
        _give_ksyms(coll, active=1, counter=2)
        coll.runtime.register_ksym("maybe_missing", coll.register_memory(b"x"))
        coll.register_helper("scale", lambda rt, value, factor, *_: value)
        assert coll.programs["ksyms"].test_run(bytes(64)).retval == 1003


def test_missing_ksym_names_it_and_how_to_register_it(obj: Path) -> None:
    with vm.load(obj) as coll, pytest.raises(VMError) as err:
        coll.programs["ksyms"].test_run(bytes(64))
    assert "kernel symbol 'bpf_prog_active' has no address in the VM" in str(err.value)
    assert "register_ksym('bpf_prog_active', address)" in str(err.value)
    assert err.value.pc is not None and err.value.program == "ksyms"


def test_unregistered_kfunc_names_it(obj: Path, tier: str) -> None:
    with vm.load(obj) as coll:
        _give_ksyms(coll, active=1, counter=2)
        with pytest.raises(VMError, match=r"kfunc 'scale' is not implemented in the VM; add it with "
                                          r"register_helper\('scale', func\)"):
            coll.programs["ksyms"].test_run(bytes(64))


def test_builtin_task_reference_kfuncs(obj: Path, tier: str) -> None:
    with vm.load(obj) as coll:
        assert coll.programs["task_ref"].test_run(bytes(64)).retval == 1


def test_registered_kfunc_replaces_a_builtin(obj: Path, tier: str) -> None:
    calls: list[str] = []
    with vm.load(obj) as coll:
        coll.register_helper("bpf_task_release", lambda rt, *args: calls.append("release") or 0)
        assert coll.programs["task_ref"].test_run(bytes(64)).retval == 1
    assert calls == ["release"]


def test_weak_kfunc_exists_only_when_implemented(obj: Path, tier: str) -> None:
    with vm.load(obj) as coll:
        assert coll.programs["weak_kfunc"].test_run(bytes(64)).retval == 1
    with vm.load(obj) as coll:
        coll.register_helper("maybe_kfunc", lambda rt, x, *_: x + 1)
        assert coll.programs["weak_kfunc"].test_run(bytes(64)).retval == 21


def test_helper_names_still_register_helpers() -> None:
    prog = program_from_instructions(assemble("call bpf_get_prandom_u32\nexit"), ProgramType.XDP)
    prog.runtime.register_helper("get_prandom_u32", lambda rt, *args: 42)
    assert prog.run() == 42


def test_kfunc_call_by_raw_btf_id_says_how_to_keep_names(tier: str) -> None:
    prog = program_from_instructions([Instruction(0x85, 0, 2, 0, 1234), *assemble("r0 = 1\nexit")], ProgramType.XDP)
    with pytest.raises(VMError, match="kfunc call to kernel BTF id 1234, which names no kfunc the VM knows"):
        prog.run()



def test_kconfig_externs_take_the_given_values() -> None:
    """__kconfig externs: overrides over the running kernel's configuration, as pybpf.load does;
    LINUX_KERNEL_VERSION computed; a missing __weak one is 0."""
    from pybpf.cc import compile as cc_compile
    from pybpf.loader.kconfig import kernel_version_code

    obj = cc_compile(Path(__file__).parent.parent / "kernel" / "progs_load" / "ksyms.bpf.c")
    with vm.load(obj, ksyms={"do_unlinkat": 0x1234}, kconfig={"CONFIG_HZ": 300, "CONFIG_BPF_SYSCALL": True}) as coll:
        assert coll.programs["read_ksyms"].test_run(ctx=b"").retval == 0
        g = coll.globals
        assert g is not None
        assert (g["unlinkat_addr"], g["hz"], g["bpf_syscall"], g["absent"]) == (0x1234, 300, 1, 0)
        assert g["kernel_version"] == kernel_version_code()
