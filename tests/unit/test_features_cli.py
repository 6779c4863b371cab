"""``pybpf features`` over the FakeSyscalls seam: table, JSON, helpers."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator

import pytest

from pybpf import _sys, features
from pybpf._sys.abi import Command
from pybpf._sys.attrs import Attr, MapCreateAttr
from pybpf._sys.fake import FakeSyscalls
from pybpf.cli import main
from pybpf.cli.features import format_table
from pybpf.enums import MapType


@pytest.fixture(autouse=True)
def fake() -> Iterator[FakeSyscalls]:
    features.clear_cache()
    with _sys.override(FakeSyscalls()) as f:
        def create(attr: Attr) -> int:
            assert isinstance(attr, MapCreateAttr)
            if attr.map_type == MapType.ARENA:
                raise OSError(errno.EINVAL, "unknown map type")
            return f.new_fd()

        f.on(Command.MAP_CREATE, create)
        yield f
    features.clear_cache()


def test_table_alignment() -> None:
    text = format_table([("a", "yes", "1.0", "fine"), ("longer_name", "no", "6.9", "why not")])
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "SUPPORTED", "SINCE", "REASON"]
    starts = {line.index("yes") if "yes" in line else line.index("no ") for line in lines[1:]}
    assert starts == {len("longer_name") + 2}  # the second column starts at the same offset
    assert lines[2].endswith("why not")


def test_map_types_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--only", "map_types"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Kernel {os.uname().release} (")
    assert "\nMap types:\nNAME " in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[4:] if line.strip()}
    assert rows["hash"] == "yes" and rows["ringbuf"] == "yes"
    assert rows["arena"] == "no"
    assert "does not know this map type" in next(line for line in out.splitlines() if line.startswith("arena"))
    assert len(rows) == len(features.MAP_TYPES)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--json", "--only", "map_types", "--only", "program_types"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"map_types", "program_types"}
    assert data["map_types"]["arena"] == {
        "supported": False, "min_kernel": "6.9",
        "reason": data["map_types"]["arena"]["reason"],
    }
    assert "EINVAL" in data["map_types"]["arena"]["reason"]
    assert data["program_types"]["xdp"]["supported"] is True


def test_helpers_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "helpers", "--prog-type", "xdp", "--json", "--supported-only"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["program_type"] == "xdp"
    assert "bpf_xdp_adjust_head" in data["helpers"]  # the fake kernel refuses nothing


def test_helpers_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "helpers", "--prog-type", "sched_cls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Helpers for sched_cls programs (")
    assert out[1].split()[:2] == ["HELPER", "CALLABLE"]
    assert out[2].split()[:2] == ["bpf_map_lookup_elem", "yes"]


def test_unknown_program_type_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["features", "helpers", "--prog-type", "nope"])
    assert info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
