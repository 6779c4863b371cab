"""``pybpf trace`` language features checked in the kernel: BTF-defined maps (their key/value
types reach the kernel), ``args`` of uprobes from DWARF, watchpoints, and output details.

Each test triggers the real event and asserts what the user sees.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from progs_trace import copy_binary, run_quiet, trace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trace_lang")


def _bpftool_json(*argv: str) -> object:
    out = subprocess.run(["bpftool", "-j", *argv], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def test_maps_carry_their_key_and_value_types_into_the_kernel(tmp: Path) -> None:
    cat = copy_binary("cat", tmp, "trbtfcat")
    seen: dict[str, object] = {}

    def while_tracing() -> None:
        run_quiet(str(cat), "/dev/null")
        shown = _bpftool_json("map", "show")
        assert isinstance(shown, list)
        ours = {m["name"]: m for m in shown if m.get("name") in ("AT_c", "AT_lo")}
        seen.update(ours)
        seen["dump"] = _bpftool_json("map", "dump", "id", str(ours["AT_c"]["id"]))
        seen["lo"] = _bpftool_json("map", "dump", "id", str(ours["AT_lo"]["id"]))

    run = trace('tracepoint:syscalls:sys_enter_openat /comm == "trbtfcat"/ { @c[comm] = count(); @lo = min(3); }',
                while_tracing)
    assert run.stderr == ""
    assert "@c[trbtfcat]:" in run.stdout
    for name in ("AT_c", "AT_lo"):
        assert seen[name]["btf_id"] > 0, seen[name]  # type: ignore[index]
    # bpftool decodes the entries through the map's BTF: a char[16] key, a named min/max value
    dump = seen["dump"]
    assert isinstance(dump, list) and dump[0]["formatted"]["key"] == "trbtfcat", dump
    lo = seen["lo"]
    assert isinstance(lo, list)
    per_cpu = lo[0]["formatted"]["values"]
    assert {"value": 3, "set": 1} in [v["value"] for v in per_cpu], lo
