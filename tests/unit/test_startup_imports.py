"""Start-up cost of the ``pybpf`` command before it reaches a subcommand: the console script and
the modules every run imports (``pybpf``, ``pybpf.cli`` and what a cached ``pybpf trace`` launch
needs first) use none of the standard library modules that cost milliseconds to import."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pybpf

#: each costs 3-12 ms of a start-up on a slow machine (``typing`` alone ~8 ms: it imports
#: ``re``, ``enum``, ``collections``, ``functools``, ``contextlib``)
COSTLY = {"typing", "enum", "re", "dataclasses", "collections", "contextlib", "functools", "inspect",
          "threading", "signal"}

#: the directory holding the ``pybpf`` package, as this test process imports it
_PACKAGE_PARENT = str(Path(pybpf.__file__).resolve().parent.parent)


def _modules_imported_by(code: str) -> set[str]:
    """The modules a new interpreter imports while running ``code``: run without ``site`` (``-S``,
    with pybpf's directory put on ``sys.path``), so that nothing a site or sitecustomize module
    imports beforehand can hide a module pybpf imports."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {_PACKAGE_PARENT!r})
        before = set(sys.modules)
    """) + textwrap.dedent(code) + textwrap.dedent("""
        print(" ".join(sorted(set(sys.modules) - before)))
    """)
    out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.strip().splitlines()[-1].split())


def test_command_start_up_imports_none_of_the_costly_modules() -> None:
    imported = _modules_imported_by(
        "import pybpf.cli, pybpf.errors, pybpf._cache_dir, pybpf._log, pybpf._lazy, pybpf._process, pybpf.trace")
    assert {"pybpf", "pybpf.cli", "pybpf.errors", "pybpf.trace"} <= imported
    assert not COSTLY & imported, sorted(COSTLY & imported)


def test_lazy_package_names_still_resolve() -> None:
    """The enums and the other re-exports are attributes of ``pybpf`` (loaded on first use)."""
    from pybpf import AttachType, LinkType, MapType, ProgramType
    from pybpf.enums import MapType as EnumsMapType

    assert MapType is EnumsMapType
    assert MapType.HASH.name == "HASH"
    assert {AttachType.__name__, LinkType.__name__, ProgramType.__name__} == {"AttachType", "LinkType", "ProgramType"}
    for name in pybpf.__all__:
        getattr(pybpf, name)
    assert set(pybpf.__all__) <= set(dir(pybpf))


def test_importing_an_enum_from_pybpf_imports_enum_then() -> None:
    imported = _modules_imported_by("from pybpf import MapType\nprint(MapType.ARRAY)")
    assert {"enum", "pybpf.enums"} <= imported


def _installed_script() -> Path:
    script = Path(sys.executable).parent / "pybpf"
    assert script.is_file(), f"no pybpf command next to {sys.executable}: install pybpf (bash scripts/setup-env)"
    return script


def test_installed_command_is_the_plain_script() -> None:
    """The ``pybpf`` command pip installed imports only ``sys`` and ``pybpf.cli`` (an entry-point
    wrapper would import ``re``) and runs with the interpreter it was installed for."""
    script = _installed_script()
    text = script.read_text()
    first = text.splitlines()[0]
    assert first.startswith("#!") and "python" in first, first
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"sys", "pybpf.cli"}


def test_installed_command_runs() -> None:
    out = subprocess.run([str(_installed_script()), "map", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: pybpf map")
    out = subprocess.run([str(_installed_script()), "map"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "pybpf map: error: the following arguments are required: ACTION" in out.stderr
