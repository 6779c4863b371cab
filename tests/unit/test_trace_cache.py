"""The cache of compiled ``pybpf trace`` programs (pybpf.trace.cache): what makes a new key, what
makes an entry stale, and that a damaged entry is a recompile, never a crash."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybpf.cli.trace import cached_program
from pybpf.trace import cache as C
from pybpf.trace.codegen.result import CompiledScript

PROGRAM = 'BEGIN { printf("hello %d\\n", 7); @n[comm] = count(); @h = hist(3); exit(); }'
KERNEL = ("6.18.0", "#1 SMP", "x86_64", (5516713, 1), ("vmlinux",))


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path))
    return tmp_path


def _key(text: str = PROGRAM, params: tuple[str, ...] = (), **kw: object) -> str:
    return C.cache_key(text, "stdin", params, unsafe=bool(kw.pop("unsafe", False)), kernel=KERNEL, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the key


def test_the_same_inputs_give_the_same_key_in_another_process() -> None:
    code = f"""
        from pybpf.trace.cache import cache_key
        print(cache_key({PROGRAM!r}, "stdin", ("a", "1"), unsafe=False, kernel={KERNEL!r}))
    """
    other = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                           check=True, timeout=60).stdout.strip()
    assert other == _key(params=("a", "1"))


@pytest.mark.parametrize("change", [
    {"text": PROGRAM.replace("hello", "hullo")},
    {"params": ("1",)},
    {"unsafe": True},
])
def test_a_different_program_text_parameter_or_option_is_a_different_key(change: dict[str, object]) -> None:
    assert _key(**change) != _key()  # type: ignore[arg-type]


def test_another_kernel_is_another_key() -> None:
    base = _key()
    for i, part in enumerate(KERNEL):
        other = list(KERNEL)
        other[i] = ("changed", part)
        assert C.cache_key(PROGRAM, "stdin", (), unsafe=False, kernel=tuple(other)) != base, i


def test_the_command_pid_is_in_the_key_only_when_the_program_reads_cpid() -> None:
    assert _key(cpid=1234) == _key(cpid=0)
    uses = 'BEGIN { printf("%d\\n", cpid); }'
    assert _key(uses, cpid=1234) != _key(uses, cpid=4321)


def test_kernel_identity_names_the_kernel_btf_and_its_modules(tmp_path: Path) -> None:
    (tmp_path / "vmlinux").write_bytes(b"x" * 10)
    before = C.kernel_identity(str(tmp_path))
    assert before[:3] == os.uname()[2:5]
    assert before[3][0] == 10  # type: ignore[index]
    (tmp_path / "nf_tables").write_bytes(b"")  # a module with BTF was loaded
    assert C.kernel_identity(str(tmp_path)) != before


def test_cache_dir_is_the_c_compiler_cache_dir(root: Path) -> None:
    from pybpf.cc.cache import cache_dir

    assert C.TraceCache().root == cache_dir() / "trace" == root / "trace"


@pytest.mark.parametrize(("value", "flag", "on"), [
    (None, False, True), ("0", False, False), ("off", False, False), ("1", True, False), ("1", False, True),
])
def test_the_cache_can_be_bypassed(monkeypatch: pytest.MonkeyPatch, value: str | None, flag: bool, on: bool) -> None:
    if value is None:
        monkeypatch.delenv("PYBPF_TRACE_CACHE", raising=False)
    else:
        monkeypatch.setenv("PYBPF_TRACE_CACHE", value)
    assert C.enabled(flag) is on


# --------------------------------------------------------------------------- entries


def _same(a: CompiledScript, b: CompiledScript) -> None:
    for f in dataclasses.fields(a):
        if f.name in ("typed", "ir"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "object_spec":
            for g in dataclasses.fields(x):
                u, v = getattr(x, g.name), getattr(y, g.name)
                if g.name == "btf":
                    assert u.to_bytes() == v.to_bytes()
                else:
                    assert u == v, g.name
        else:
            assert x == y, f.name


def test_a_stored_script_reads_back_equal_without_its_ast_and_ir(root: Path) -> None:
    script = cached_program(PROGRAM, "stdin", (), unsafe=False)
    assert script.typed is not None
    again = C.TraceCache().lookup(C.cache_key(PROGRAM, "stdin", (), unsafe=False))
    assert again is not None
    assert again.typed is None and again.ir == ""
    _same(script, again)
    assert [p.name for p in again.probes] == ["BEGIN"]
    assert again.maps["@n"].percpu and again.maps["@h"].bucket_key


def test_a_second_run_reads_the_cache_and_a_bypassed_run_does_not(root: Path) -> None:
    first = cached_program(PROGRAM, "stdin", (), unsafe=False)
    assert first.typed is not None  # compiled
    assert cached_program(PROGRAM, "stdin", (), unsafe=False).typed is None  # from the cache
    assert cached_program(PROGRAM, "stdin", (), unsafe=False, use_cache=False).typed is not None
    assert cached_program(PROGRAM, "stdin", ("x",), unsafe=False).typed is not None  # another parameter


def _kept_damaged(entry: tuple[object, ...]) -> tuple[object, ...]:
    """``entry`` whose BTF kept apart has a packed line info that is not bytes."""
    blob, func_info, line_info, infos = entry[4]  # type: ignore[misc]
    return (*entry[:4], (blob, func_info, {name: 7 for name in line_info}, infos))


def _entry(root: Path) -> Path:
    entries = list((root / "trace").rglob("*.bin"))
    assert len(entries) == 1, entries
    return entries[0]


@pytest.mark.parametrize("damage", [
    pytest.param(lambda raw: b"", id="empty"),
    pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
    pytest.param(lambda raw: b"garbage" + raw, id="bad-magic"),
    pytest.param(lambda raw: raw[:-40] + bytes(40), id="zeroed-tail"),
    pytest.param(lambda raw: C.MAGIC + marshal.dumps((C.FORMAT + 99, "", [], None)), id="other-format"),
    pytest.param(lambda raw: raw.replace(b"pybpf.trace.types", b"pybpf.trace.typex"), id="unknown-module"),
    pytest.param(lambda raw: raw.replace(b"pybpf.spec:ProgramSpec", b"pybpf.spec:ObjectSpec\x00\x00\x00\x00"),
                 id="bad-class-name"),
    pytest.param(lambda raw: C.MAGIC + marshal.dumps(_kept_damaged(marshal.loads(raw[len(C.MAGIC):]))),
                 id="bad-kept-btf"),
])
def test_a_damaged_entry_is_compiled_again_and_rewritten(root: Path, damage: object,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    cached_program(PROGRAM, "stdin", (), unsafe=False)
    path = _entry(root)
    good = path.read_bytes()
    path.write_bytes(damage(good))  # type: ignore[operator]
    assert C.TraceCache().lookup(C.cache_key(PROGRAM, "stdin", (), unsafe=False)) is None
    script = cached_program(PROGRAM, "stdin", (), unsafe=False)
    assert script.typed is not None  # compiled again...
    assert cached_program(PROGRAM, "stdin", (), unsafe=False).typed is None  # ...and stored again


def test_an_entry_never_instantiates_a_class_outside_the_allowlist() -> None:
    with pytest.raises(C.CacheFormatError):
        C.decode(("c", "subprocess:Popen", {"args": "true"}))
    with pytest.raises(C.CacheFormatError):
        C.decode(("e", "os:system", "true"))
    with pytest.raises(C.CacheFormatError):
        C.encode(Path("/"))


def test_a_changed_probed_binary_makes_the_entry_stale(root: Path, tmp_path: Path) -> None:
    binary = tmp_path / "trcachebin"
    shutil.copy("/bin/true", binary)
    program = f"uprobe:{binary}:0x1000 {{ @c = count(); }}"
    assert cached_program(program, "stdin", (), unsafe=False).typed is not None
    assert cached_program(program, "stdin", (), unsafe=False).typed is None
    with open(binary, "ab") as f:
        f.write(b"\0")  # rebuilt: another size and mtime
    assert cached_program(program, "stdin", (), unsafe=False).typed is not None
    assert cached_program(program, "stdin", (), unsafe=False).typed is None


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(blocker))  # a file where the directory should be
    assert cached_program(PROGRAM, "stdin", (), unsafe=False).typed is not None


def test_kaddr_programs_are_keyed_by_the_module_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    program = 'BEGIN { printf("%x\\n", kaddr("some_module_symbol")); }'
    monkeypatch.setattr(C, "_module_addresses", lambda: "nf_tables 356352 0 - Live 0xffffffffc0a00000\n")
    before = _key(program)
    assert _key() == _key()  # programs without kaddr() do not read /proc/modules
    monkeypatch.setattr(C, "_module_addresses", lambda: "nf_tables 356352 0 - Live 0xffffffffc0b00000\n")
    assert _key(program) != before


def test_a_cache_hit_imports_nothing_of_the_compiler(root: Path) -> None:
    """What a cached launch imports, up to attaching: no parser, analyser, code generation,
    llvmlite, syntax tree, ELF reader or pyelftools; nor what only other programs or options
    need: pybpf.btf (the BTF is loaded as the entry keeps it), struct_ops/ksyms support,
    test-run checks, iterators, link info, numpy record types, map formatting and -f json (until
    maps are printed or JSON asked for), -c/system() helpers, strftime/inet, platform; nor
    argparse (a plain command line is parsed without it), logging (until something logs a
    warning), the analyser's model (the runtime reads pybpf.trace.layouts), pathlib (the cache,
    tracefs and sysfs paths are strings; with urllib.parse) or ipaddress (LPM keys)."""
    cached_program(PROGRAM, "stdin", (), unsafe=False)
    code = f"""
        import sys
        from pybpf.cli import _launch_args
        assert _launch_args(["trace", "-e", {PROGRAM!r}]) is not None
        from pybpf.cli.trace import _compiled, _prepared_loader
        launch = _compiled({PROGRAM!r}, "stdin", (), unsafe=False, cpid=0, use_cache=True, record=True)
        assert launch.script.typed is None and launch.script.object_spec.btf is None
        assert launch.prepared is not None
        assert launch.record_launch is not None  # the entry has no launch record yet: this run records one
        _prepared_loader(launch.prepared)
        from pybpf.trace.runtime.output import make_printer
        from pybpf.trace.runtime.session import Session
        from pybpf.events import RingBuffer
        from pybpf import link
        link.tracepoint
        import pybpf.loader, pybpf.collection, pybpf.loader.programs
        print(" ".join(sorted(sys.modules)))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True,
                         timeout=120, env={**os.environ, "PYBPF_CACHE_DIR": str(root)})
    mods = set(out.stdout.strip().splitlines()[-1].split())
    assert "pybpf.trace.cache" in mods and "pybpf.loader.prepared" in mods
    compiler = {"llvmlite", "elftools", "pybpf.elf", "pybpf.trace.parser", "pybpf.trace.lexer", "pybpf.trace.ast",
                "pybpf.trace.semantic.analyser", "pybpf.trace.codegen.compile", "pybpf.stacks.elfsyms", "pybpf.cc",
                "pybpf.cli.disasm", "hashlib"}
    assert not compiler & mods, sorted(compiler & mods)
    not_needed = {"pybpf.btf", "pybpf.btf.types", "pybpf.btf.container", "pybpf.loader.btf_sanitize",
                  "pybpf.loader.struct_ops", "pybpf.loader.ksyms", "pybpf.program_run", "pybpf.link.iter",
                  "pybpf.link.info", "pybpf.events.dtype", "pybpf.trace.runtime.aggregations",
                  "pybpf.trace.runtime.json", "numpy", "json", "subprocess", "shlex", "shutil", "datetime", "socket",
                  "platform", "importlib.util", "argparse", "gettext", "locale", "logging", "traceback",
                  "pybpf.trace.semantic", "pybpf.trace.semantic.model", "pybpf.cli._help", "pathlib",
                  "urllib.parse", "ipaddress"}
    assert not not_needed & mods, sorted(not_needed & mods)


def test_the_btf_kept_apart_gives_the_whole_script_back(root: Path) -> None:
    from pybpf.btf import BTF

    script = cached_program(PROGRAM, "stdin", (), unsafe=False)
    key = C.cache_key(PROGRAM, "stdin", (), unsafe=False)
    bare, prepared = C.TraceCache().lookup_prepared(key)  # type: ignore[misc]
    assert prepared is not None and bare.object_spec.btf is None
    assert prepared.blob == script.object_spec.btf.to_bytes()
    assert all(not p.func_info and not p.line_info for p in bare.object_spec.programs.values())
    assert set(prepared.func_info) == set(script.object_spec.programs)
    whole = C.TraceCache().lookup(key)
    assert whole is not None and isinstance(whole.object_spec.btf, BTF)
    _same(script, whole)


def test_btf_is_kept_apart_only_when_loading_needs_nothing_else_of_it() -> None:
    from pybpf.btf import BTF, Float
    from pybpf.cli.trace import compile_program
    from pybpf.loader.prepared import prepare_btf

    spec = compile_program(PROGRAM, "stdin", (), unsafe=False).object_spec
    assert prepare_btf(spec) is not None
    assert prepare_btf(dataclasses.replace(spec, btf=None)) is None
    name, prog = next(iter(spec.programs.items()))
    with_core = dataclasses.replace(prog, core_relocations=[object()])  # CO-RE reads the object's types
    assert prepare_btf(dataclasses.replace(spec, programs={**spec.programs, name: with_core})) is None
    kconfig = dataclasses.replace(next(iter(spec.maps.values())), section=".kconfig")
    assert prepare_btf(dataclasses.replace(spec, maps={**spec.maps, "kconfig": kconfig})) is None
    # a kind younger than ring buffers (FLOAT, 5.13) is replaced on kernels without it: kept whole
    with_float = BTF.from_types([t for _, t in spec.btf.types()] + [Float("float", 4)])
    assert prepare_btf(dataclasses.replace(spec, btf=with_float)) is None


def test_the_least_recently_used_entries_are_pruned(root: Path) -> None:
    cache = C.TraceCache(max_entries=2)
    script = cached_program(PROGRAM, "stdin", (), unsafe=False, use_cache=False)
    paths = []
    for i in range(3):
        key = f"{i:02d}" + "0" * 62
        paths.append(cache.store(key, script))
        os.utime(paths[-1], ns=(i * 10**9, i * 10**9))  # stored one after the other
    assert all(p is not None and p.exists() for p in paths[1:]) and not paths[0].exists()  # type: ignore[union-attr]
    assert cache.lookup("01" + "0" * 62) is not None  # a hit makes it the most recent...
    cache.store("03" + "0" * 62, script)
    assert cache.path("01" + "0" * 62).exists() and not cache.path("02" + "0" * 62).exists()  # ...so 02 goes


def test_an_entry_others_could_have_written_is_ignored(root: Path) -> None:
    cached_program(PROGRAM, "stdin", (), unsafe=False)
    path = _entry(root)
    key = C.cache_key(PROGRAM, "stdin", (), unsafe=False)
    assert C.TraceCache().lookup(key) is not None
    path.chmod(0o666)
    assert C.TraceCache().lookup(key) is None
    path.chmod(0o600)
    assert C.TraceCache().lookup(key) is not None
    if os.geteuid() == 0:  # only root can give the file away
        os.chown(path, 4242, -1)
        assert C.TraceCache().lookup(key) is None
