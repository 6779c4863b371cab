"""Shared set-up of the differential tests: the reference tools and the compiled test programs.

Each C program under ``progs/`` starts with a ``// cpus: v1 v3 ...`` line naming the
``-mcpu`` levels it is compiled at; every (program, cpu) pair is one test case.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROGS_DIR = Path(__file__).parent / "progs"
OBJDUMP = "llvm-objdump-19"
LLVM_MC = "llvm-mc-19"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that takes ``prog_case`` over all (program, cpu) pairs."""
    if "prog_case" in metafunc.fixturenames:
        cases = program_cases()
        metafunc.parametrize("prog_case", cases, ids=[case_id(c) for c in cases])


@pytest.fixture(scope="session")
def all_prog_cases() -> list[tuple[Path, str]]:
    return program_cases()


@pytest.fixture(scope="session")
def progs_dir() -> Path:
    return PROGS_DIR


def program_cases() -> list[tuple[Path, str]]:
    """(source, cpu) pairs from the ``// cpus:`` header of every program."""
    cases = []
    for src in sorted(PROGS_DIR.glob("*.c")):
        first = src.read_text().splitlines()[0]
        if not first.startswith("// cpus:"):
            raise ValueError(f"{src.name}: first line must be '// cpus: v1 v2 ...'")
        cases += [(src, cpu) for cpu in first.removeprefix("// cpus:").split()]
    return cases


def case_id(case: tuple[Path, str]) -> str:
    return f"{case[0].stem}-{case[1]}"


def require_tool(name: str) -> str:
    """The path of a reference tool; skip (saying which package has it) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian/Ubuntu package llvm-19); it is the reference these tests compare against")
    return path


@pytest.fixture(scope="session")
def objdump() -> str:
    return require_tool(OBJDUMP)


@pytest.fixture(scope="session")
def llvm_mc() -> str:
    return require_tool(LLVM_MC)


_compiled: dict[tuple[Path, str], Path] = {}


@pytest.fixture(scope="session")
def compile_prog(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """compile_prog(src, cpu) -> path of the object, compiled once per session with pybpf.cc."""
    from pybpf.cc import compile as cc_compile

    outdir = tmp_path_factory.mktemp("progs")

    def build(src: Path, cpu: str) -> Path:
        key = (src, cpu)
        if key not in _compiled:
            out = outdir / f"{src.stem}-{cpu}.o"
            _compiled[key] = cc_compile(src, output=out, cflags=[f"-mcpu={cpu}"])
        return _compiled[key]

    return build
