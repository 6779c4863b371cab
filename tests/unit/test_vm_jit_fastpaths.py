"""Native fast paths of the JIT (bpf_map_lookup_elem on HASH and ARRAY maps without a Python
round trip) give exactly the interpreter's results: the same values found, the same misses, the
same map contents afterwards, through inserts, deletes from user space and index rebuilds."""

from __future__ import annotations

import pytest

from pybpf.enums import MapType, ProgramType
from pybpf.isa import assemble
from pybpf.vm import Runtime, VMError, jit, program_from_instructions
from pybpf.vm.jit import Tier, tier_of, use_tier
from pybpf.vm.maps import create_map
from pybpf.vm.maps.native_index import NativeIndex, IndexKind, fnv1a

pytestmark = pytest.mark.skipif(not jit.available(), reason=f"no JIT tier: {jit.unavailable_reason()}")


def _counter_source(address: int, keys: int, key_reg_store: str = "*(u32 *)(r10 - 4) = r6") -> str:
    """For key in 0..keys-1: bump the value if present (atomic add), else insert the key itself."""
    return f"""
r6 = 0
loop:
{key_reg_store}
r1 = {address} ll
r2 = r10
r2 += -4
call 1
if r0 == 0 goto miss
r1 = 1
lock *(u64 *)(r0 + 0) += r1
goto next
miss:
r1 = {address} ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
*(u64 *)(r10 - 16) = r6
r4 = 0
call 2
next:
r6 += 1
if r6 < {keys} goto loop
r0 = 0
exit
"""


def _run_both(map_type: MapType, keys: int, max_entries: int, steps: list[str]) -> list[list[tuple[int, int]]]:
    """The map's contents after each step, in the interpreter and in the JIT."""
    results = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            rt = Runtime()
            handle = rt.new_handle()
            m = rt.maps[handle] = create_map(rt.memory, handle, map_type, 4, 8, max_entries)
            prog = program_from_instructions(assemble(_counter_source(m.address, keys)), ProgramType.XDP, runtime=rt)
            seen = []
            for step in steps:
                if step == "run":
                    assert prog.test_run(bytes(64)).retval == 0
                elif step == "delete_some":
                    for k in list(m.keys())[::3]:
                        del m[k]
                elif step == "user_set":
                    m[5] = 1000
                seen.append(sorted(m.items()))
            assert tier_of(prog) == tier
            results.append(seen)
    return results


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.ARRAY])
def test_native_lookups_match_the_interpreter(map_type: MapType) -> None:
    steps = ["run", "run", "delete_some" if map_type == MapType.HASH else "user_set", "run", "user_set", "run"]
    interp, jitted = _run_both(map_type, 40, 64, steps)
    assert interp == jitted
    assert jitted[1] != jitted[0]  # the second run's lookups found the values the first run stored


def test_hash_index_survives_many_inserts_and_deletes() -> None:
    """Far more keys than the index's first capacity, deleted and re-inserted: tombstones and
    rebuilds must not lose or invent keys."""
    steps = ["run", "delete_some", "run", "delete_some", "delete_some", "run", "run"]
    interp, jitted = _run_both(MapType.HASH, 300, 400, steps)
    assert interp == jitted


def test_full_hash_map_misses_the_same_way() -> None:
    interp, jitted = _run_both(MapType.HASH, 50, 20, ["run", "run"])
    assert interp == jitted
    assert len(jitted[-1]) == 20


def test_array_lookup_out_of_range_is_null_in_both_tiers() -> None:
    interp, jitted = _run_both(MapType.ARRAY, 40, 16, ["run", "run"])
    assert interp == jitted


def test_a_registered_python_lookup_helper_still_runs() -> None:
    """A runtime's own bpf_map_lookup_elem replaces the native path too."""
    with use_tier(Tier.JIT):
        rt = Runtime()
        handle = rt.new_handle()
        m = rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 8)
        m[0] = 1
        calls: list[int] = []

        def lookup(runtime: Runtime, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            calls.append(r1)
            return 0

        rt.register_helper(1, lookup)
        prog = program_from_instructions(assemble(_counter_source(m.address, 1)), ProgramType.XDP, runtime=rt)
        prog.test_run(bytes(64))
        assert tier_of(prog) == Tier.JIT
        assert calls == [m.address]


def test_map_created_after_the_program_was_bound() -> None:
    with use_tier(Tier.JIT):
        rt = Runtime()
        first = rt.new_handle()
        rt.maps[first] = create_map(rt.memory, first, MapType.HASH, 4, 8, 8)
        later = first + 10
        prog = program_from_instructions(assemble(_counter_source((0xE << 60) | later, 3)), ProgramType.XDP,
                                         runtime=rt)
        with pytest.raises(VMError, match="not a map pointer"):
            prog.test_run(bytes(64))
        m = rt.maps[later] = create_map(rt.memory, later, MapType.HASH, 4, 8, 8)
        for _ in range(3):
            prog.test_run(bytes(64))
        assert dict(m.items()) == {0: 2, 1: 3, 2: 4}


def test_native_lookup_of_a_key_outside_fast_memory_faults_like_the_interpreter() -> None:
    messages = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            rt = Runtime()
            handle = rt.new_handle()
            m = rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 8)
            prog = program_from_instructions(assemble(f"r1 = {m.address} ll\nr2 = 16\ncall 1\nexit"),
                                             ProgramType.XDP, runtime=rt)
            with pytest.raises(VMError) as info:
                prog.test_run(bytes(64))
            messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_fnv1a_known_values() -> None:
    assert fnv1a(b"") == 0xCBF29CE484222325
    assert fnv1a(b"a") == 0xAF63DC4C8601EC8C


def test_index_remove_and_rebuild_keep_the_live_keys() -> None:
    index = NativeIndex(IndexKind.HASH, 4)
    for k in range(100):
        index.insert(k.to_bytes(4, "little"), (k + 10) << 32)
    for k in range(0, 100, 2):
        index.remove(k.to_bytes(4, "little"))
    for k in range(100, 150):
        index.insert(k.to_bytes(4, "little"), (k + 10) << 32)
    live = {key: index._slots[i * index.slot_words] for key, i in index._pos.items()}
    assert live == {k.to_bytes(4, "little"): (k + 10) << 32 for k in list(range(1, 100, 2)) + list(range(100, 150))}


def test_context_pointers_follow_new_packets_across_entries() -> None:
    """xdp_md data/data_end served from the native cache stay right when the packet changes
    between runs (a new test_run, a head moved by a helper in an earlier run)."""
    src = """
r6 = r1
r2 = *(u32 *)(r6 + 4)
r3 = *(u32 *)(r6 + 0)
r2 -= r3
if r2 > 100 goto shrink
r0 = r2
exit
shrink:
r1 = r6
r2 = 16
call 44
r0 = 1000
exit
"""
    results = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            prog = program_from_instructions(assemble(src), ProgramType.XDP)
            seen = [prog.test_run(bytes(n), repeat=repeat).retval
                    for n in (60, 64, 200, 90, 200) for repeat in (1, 3)]
            assert tier_of(prog) == tier
            results.append(seen)
    assert results[0] == results[1]
    assert results[1][:4] == [60, 60, 64, 64]


_ATOMICS = [("+=", ""), ("|=", ""), ("&=", ""), ("^=", ""),
            ("", "atomic_fetch_add"), ("", "atomic_fetch_or"), ("", "atomic_fetch_and"), ("", "atomic_fetch_xor")]


@pytest.mark.parametrize("size", ["u32", "u64"])
@pytest.mark.parametrize("op,fetch", _ATOMICS)
def test_inline_atomics_match_between_tiers(op: str, fetch: str, size: str) -> None:
    """The interpreter's in-place atomics (generated inline) and the JIT's, on the stack and on
    the read-only context (where both must fault the same way)."""
    stmt = (f"lock *({size} *)(r10 - 8) {op} r2" if op
            else f"r2 = {fetch}(({size} *)(r10 - 8), r2)")
    src = f"""
r3 = 0x0f0f0f0f0f0f0f0f ll
*(u64 *)(r10 - 8) = r3
r2 = 0x3c3c3c3c12345678 ll
{stmt}
r0 = *(u64 *)(r10 - 8)
r0 ^= r2
exit
"""
    bad = src.replace("(r10 - 8) ", "(r1 + 0) ").replace("(r10 - 8),", "(r1 + 0),")
    results = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            prog = program_from_instructions(assemble(src), ProgramType.SOCKET_FILTER)
            bad_prog = program_from_instructions(assemble(bad), ProgramType.XDP)
            with pytest.raises(VMError) as info:
                bad_prog.test_run(bytes(64))
            results.append((prog.run(), str(info.value)))
    assert results[0] == results[1]
    assert "r1" in bad and results[0][0] != 0x0F0F0F0F0F0F0F0F ^ 0x3C3C3C3C12345678


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.ARRAY])
@pytest.mark.parametrize("flags", [0, 1, 2, 4])
def test_native_updates_match_the_interpreter(map_type: MapType, flags: int) -> None:
    """bpf_map_update_elem over existing and missing keys with each flag: the same return
    values and contents in both tiers (the value is copied from the stack, then from the
    element itself)."""
    def source(address: int) -> str:
        return f"""
r9 = r1
r6 = 0
r7 = 0
loop:
*(u32 *)(r10 - 4) = r6
r1 = r6
r1 *= 7
r1 += r9
*(u64 *)(r10 - 16) = r1
r1 = {address} ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = {flags}
call 2
r7 <<= 1
r7 ^= r0
r1 = {address} ll
r2 = r10
r2 += -4
call 1
if r0 == 0 goto next
r8 = r0
r1 = {address} ll
r2 = r10
r2 += -4
r3 = r8
r4 = {flags}
call 2
r7 ^= r0
next:
r6 += 1
if r6 < 12 goto loop
r0 = r7
exit
"""
    results = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            rt = Runtime()
            handle = rt.new_handle()
            m = rt.maps[handle] = create_map(rt.memory, handle, map_type, 4, 8, 8)
            for k in (1, 2, 5):
                m[k] = 100 + k
            prog = program_from_instructions(assemble(source(m.address)), ProgramType.XDP, runtime=rt)
            runs = [prog.run(salt) for salt in (3, 1000, 77)]
            assert tier_of(prog) == tier
            results.append((runs, sorted(m.items())))
    assert results[0] == results[1]


def test_updates_of_existing_elements_stay_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first run inserted the keys, the JIT's updates do not reach the Python map."""
    from pybpf.vm.maps import HashMap

    calls: list[bytes] = []
    real = HashMap.bpf_update

    def counting(self: HashMap, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        calls.append(key)
        return real(self, key, value, flags, cpu)

    monkeypatch.setattr(HashMap, "bpf_update", counting)
    with use_tier(Tier.JIT):
        rt = Runtime()
        handle = rt.new_handle()
        m = rt.maps[handle] = create_map(rt.memory, handle, MapType.HASH, 4, 8, 8)
        src = f"""
r6 = r1
r6 &= 0xff
*(u32 *)(r10 - 4) = r6
*(u64 *)(r10 - 16) = r1
r1 = {m.address} ll
r2 = r10
r2 += -4
call 1
r1 = {m.address} ll
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
call 2
exit
"""
        prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
        for value in (0x103, 0x203, 0x104, 0x303, 0x204):
            assert prog.run(value) == 0
    assert dict(m.items()) == {3: 0x303, 4: 0x204}
    assert len(calls) == 2  # the two inserts


def test_percpu_array_and_cpu_id_follow_the_runtime_cpu() -> None:
    """PERCPU_ARRAY lookups/updates and bpf_get_smp_processor_id answer for ``runtime.cpu``,
    changed between runs, in both tiers alike."""
    results = []
    for tier in (Tier.INTERPRETER, Tier.JIT):
        with use_tier(tier):
            rt = Runtime(ncpus=4)
            handle = rt.new_handle()
            m = rt.maps[handle] = create_map(rt.memory, handle, MapType.PERCPU_ARRAY, 4, 8, 4, ncpus=4)
            src = _counter_source(m.address, 6).replace("r0 = 0\nexit", "call 8\nexit")
            prog = program_from_instructions(assemble(src), ProgramType.XDP, runtime=rt)
            seen = []
            for cpu in (0, 2, 2, 3, 1, 2, 0):
                rt.cpu = cpu
                seen.append(prog.run())
            assert tier_of(prog) == tier
            results.append((seen, [list(v) for v in m.values()]))
    assert results[0] == results[1]
    assert results[1][0] == [0, 2, 2, 3, 1, 2, 0]
    assert results[1][1][0][2] == 3  # cpu 2 ran three times


def test_a_registered_cpu_helper_still_runs() -> None:
    with use_tier(Tier.JIT):
        rt = Runtime()
        rt.register_helper(8, lambda runtime, *args: 77)
        prog = program_from_instructions(assemble("call 8\nexit"), ProgramType.XDP, runtime=rt)
        assert prog.run() == 77
        assert tier_of(prog) == Tier.JIT
