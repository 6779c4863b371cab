"""The precompiled vmlinux.h: built once next to the generated header, used when a source starts
with ``#include "vmlinux.h"`` and the flags match, else the plain header; objects equivalent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import pybpf.cc
from pybpf.bcc.dialect import StaticKernel, rewrite
from pybpf.btf import c_dump
from pybpf.cc import discover_compiler, headers, pch
from pybpf.spec import ObjectSpec

PROG = """// a CO-RE tracing program
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, u32); __type(value, u64); } seen SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int tp(struct trace_event_raw_sys_enter *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    u32 pid = BPF_CORE_READ(t, real_parent, tgid);
    u64 one = 1;
    bpf_map_update_elem(&seen, &pid, &one, BPF_ANY);
    bpf_printk("parent %d", pid);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""

needs_btf = pytest.mark.skipif(headers.kernel_btf_digest() is None,
                               reason="this kernel exposes no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")


@pytest.fixture
def cache(cc_cache_dir: Path) -> Path:
    return cc_cache_dir


@pytest.fixture
def commands(compiler_commands: list[list[str]]) -> list[list[str]]:
    """Every compiler command pybpf.cc.compile runs (PCH builds are not in it)."""
    return compiler_commands


def _pchs(cache: Path) -> list[Path]:
    return sorted((cache / "vmlinux").glob("*/vmlinux.h.*.pch"))


def _equivalent(a: Path, b: Path) -> None:
    """Same programs (code, relocations, CO-RE relocations by type name), maps and BTF types."""
    sa, sb = ObjectSpec.from_file(a), ObjectSpec.from_file(b)
    assert sa.btf is not None and sb.btf is not None
    assert sa.programs.keys() == sb.programs.keys() and sa.maps.keys() == sb.maps.keys()
    for name, pa in sa.programs.items():
        pb = sb.programs[name]
        assert pa.instructions == pb.instructions
        assert pa.relocations == pb.relocations
        core_a = [(r.insn_off, r.access, r.relo_kind, sa.btf.name_of(r.type_id)) for r in pa.core_relocations]
        core_b = [(r.insn_off, r.access, r.relo_kind, sb.btf.name_of(r.type_id)) for r in pb.core_relocations]
        assert core_a == core_b and core_a
    for name, ma in sa.maps.items():
        mb = sb.maps[name]
        assert (ma.type, ma.key_size, ma.value_size, ma.max_entries) == (mb.type, mb.key_size, mb.value_size,
                                                                        mb.max_entries)
    # type ids may be numbered differently: compare the types as C
    assert sorted(c_dump.dump_c(sa.btf).splitlines()) == sorted(c_dump.dump_c(sb.btf).splitlines())


# ---- pure functions ---------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ('#include "vmlinux.h"\nint x;', True),
    ("#include <vmlinux.h>\n", True),
    ('/* licence\n  text */\n// note\n\n  #  include "vmlinux.h"\n', True),
    ('#line 1 "<preamble>"\n#include "vmlinux.h"\n#include <bcc_helpers.h>\n', True),
    ('#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include "vmlinux.h"\n', False),
    ('#include <bpf/bpf_helpers.h>\n#include "vmlinux.h"\n', False),
    ('#include "vmlinux.h" /* x */ extra\n', False),
    ("int x;\n", False),
    ("", False),
])
def test_starts_with_vmlinux(source: str, expected: bool) -> None:
    assert pch.starts_with_vmlinux(source) is expected


def test_pch_key_ignores_include_dirs_but_not_defines(tmp_path: Path) -> None:
    compiler = discover_compiler()
    base = ["-target", "bpfel", "-O2", "-g", "-D__TARGET_ARCH_x86"]
    path = pch.pch_path(tmp_path, compiler, [*base, "-I", "/a", "-idirafter", "/usr/include", "-I/b"])
    assert path.parent == tmp_path and path.name.startswith("vmlinux.h.") and path.suffix == ".pch"
    assert pch.pch_relevant_flags([*base, "-I", "/a", "-I/b", "-fdebug-prefix-map=/x=."]) == base
    assert path == pch.pch_path(tmp_path, compiler, base)
    assert path != pch.pch_path(tmp_path, compiler, [*base, "-DX=1"])
    assert path != pch.pch_path(tmp_path, compiler, [f for f in base if f != "-g"])
    other = dataclasses.replace(compiler, version=compiler.version + " (other)")
    assert path != pch.pch_path(tmp_path, other, base)


def test_bcc_rewritten_source_includes_vmlinux_first() -> None:
    result = rewrite('BPF_HASH(counts, u32, u64);\nint kprobe__do_nanosleep(void *ctx) { return 0; }', kernel=StaticKernel(has_kprobes=True))
    assert pch.starts_with_vmlinux(result.c_source)


# ---- with the compiler ------------------------------------------------------------------------

@needs_btf
def test_pch_built_once_then_used_and_objects_equivalent(cache: Path, commands: list[list[str]],
                                                        tmp_path: Path) -> None:
    plain = pybpf.cc.compile(PROG, output=tmp_path / "plain" / "prog.o")  # builds the PCH meanwhile
    assert "-include-pch" not in commands[-1]
    built = _pchs(cache)
    assert len(built) == 1 and built[0].parent == next((cache / "vmlinux").glob("*/vmlinux.h")).parent
    assert built[0].read_bytes()[:4] == b"CPCH"
    stamp = built[0].stat().st_mtime_ns

    with_pch = pybpf.cc.compile(PROG, output=tmp_path / "pch" / "prog.o", cache=False)
    cmd = commands[-1]
    assert cmd[cmd.index("-include-pch") + 1] == str(built[0])
    _equivalent(plain, with_pch)
    assert _pchs(cache) == built and built[0].stat().st_mtime_ns == stamp  # not rebuilt


@needs_btf
def test_object_cache_key_does_not_depend_on_the_pch(cache: Path, commands: list[list[str]]) -> None:
    first = pybpf.cc.compile(PROG)  # plain header (the PCH is built meanwhile)
    assert _pchs(cache)
    n = len(commands)
    assert pybpf.cc.compile(PROG) == first  # a hit although the PCH now exists
    assert len(commands) == n


@needs_btf
def test_other_defines_use_the_plain_header_and_build_nothing(cache: Path, commands: list[list[str]]) -> None:
    pybpf.cc.compile(PROG, defines={"PYBPF_TEST_FLAG": "1"})
    assert "-include-pch" not in commands[-1]
    assert _pchs(cache) == []
    pybpf.cc.compile(PROG, cache=False)  # the default flags build it
    built = _pchs(cache)
    assert len(built) == 1
    pybpf.cc.compile(PROG, cflags=["-DPYBPF_TEST_FLAG=2"], cache=False)  # a PCH for other flags is not used
    assert "-include-pch" not in commands[-1]
    assert _pchs(cache) == built


@needs_btf
def test_source_with_a_define_first_uses_the_plain_header(cache: Path, commands: list[list[str]]) -> None:
    pybpf.cc.compile(PROG, cache=False)
    assert _pchs(cache)
    pybpf.cc.compile("#define MY_FLAG 1\n" + PROG, cache=False)
    assert "-include-pch" not in commands[-1]


@needs_btf
def test_refused_pch_falls_back_to_the_plain_header_and_is_rebuilt(cache: Path, commands: list[list[str]], tmp_path: Path) -> None:
    pybpf.cc.compile(PROG, cache=False)
    (built,) = _pchs(cache)
    built.write_bytes(b"CPCH but not really a precompiled header")
    obj = pybpf.cc.compile(PROG, output=tmp_path / "fallback.o", cache=False)
    assert "-include-pch" in commands[-2] and "-include-pch" not in commands[-1]
    assert ObjectSpec.from_file(obj).programs["tp"].instructions
    assert not built.exists()  # dropped: the next compile builds it again, then uses it
    pybpf.cc.compile(PROG, cache=False)
    assert built.read_bytes()[:4] == b"CPCH" and built.stat().st_size > 1 << 20
    pybpf.cc.compile(PROG, cache=False)
    assert "-include-pch" in commands[-1]


def test_users_own_vmlinux_gets_no_pch(cache: Path, commands: list[list[str]], tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "vmlinux.h").write_text("#ifndef V\n#define V\ntypedef unsigned int u32;\n#endif\n")
    pybpf.cc.compile('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int f(void *c) { u32 x = 2; return x; }\n',
                     include_dirs=[own], cache=False)
    assert "-include-pch" not in commands[-1]
    assert not (cache / "vmlinux").exists()
