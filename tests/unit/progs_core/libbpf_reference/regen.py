"""Regenerate the libbpf reference fixture (needs root, bpftool and a kernel with BTF).

    sudo .venv/bin/python tests/unit/progs_core/libbpf_reference/regen.py

For each NAME.c here:

1. compiles NAME.c (the test compiles it again, with the defines recorded in NAME.json);
2. has libbpf (through ``bpftool prog load``) apply the CO-RE relocations and load it, then
   reads the relocated immediates back from ``bpftool prog dump xlated``;
3. writes NAME.min.btf (``bpftool gen min_core_btf``: the kernel types the object needs,
   offsets unchanged) and NAME.json: for each relocation, libbpf's value.

tests/unit/test_core_reference.py resolves NAME.o against NAME.min.btf with pybpf and compares.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[3] / "src"))

from pybpf.btf import kernel_btf  # noqa: E402
from pybpf.btf.types import CoreRelocKind  # noqa: E402
from pybpf.cc import compile as cc_compile  # noqa: E402
from pybpf.spec import ObjectSpec  # noqa: E402

PIN = "/sys/fs/bpf/pybpf_core_reference"


def main() -> None:
    for source in sorted(HERE.glob("*.c")):
        regen(source)


def regen(source: Path) -> None:
    defines = {"TASK_BITFIELD": task_bitfield()}
    obj = Path(cc_compile(source, include_dirs=[HERE.parent], defines=defines))
    subprocess.run(["bpftool", "prog", "load", str(obj), PIN], check=True)
    try:
        xlated = subprocess.run(["bpftool", "prog", "dump", "xlated", "pinned", PIN],
                                check=True, capture_output=True, text=True).stdout
    finally:
        Path(PIN).unlink()
    imm_at = {}
    for line in xlated.splitlines():
        m = re.match(r"\s*(\d+): \((b7|18)\) r\d+ = (-?(?:0x)?[0-9a-f]+)$", line)
        if m:
            imm_at[int(m.group(1))] = int(m.group(3), 0)
    spec = ObjectSpec.from_file(obj)
    assert spec.btf is not None
    (prog,) = spec.programs.values()
    expected = []
    for r in prog.core_relocations:
        entry = {
            "type": spec.btf.name_of(r.type_id), "access": r.access, "kind": r.relo_kind.name,
            "insn_off": r.insn_off, "libbpf_value": imm_at[r.insn_off],
        }
        if r.relo_kind == CoreRelocKind.TYPE_ID_TARGET:  # an id in vmlinux: keep its name too
            entry["libbpf_target_name"] = kernel_btf().name_of(imm_at[r.insn_off])
        expected.append(entry)
    out = {"defines": defines, "relocations": expected}
    source.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    subprocess.run(["bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux",
                    str(source.with_suffix(".min.btf")), str(obj)], check=True)


def task_bitfield() -> str:
    """A multi-bit bitfield of this kernel's task_struct."""
    from pybpf.btf import Kind, Struct

    k = kernel_btf()
    task = k[k.find_one("task_struct", Kind.STRUCT)]
    assert isinstance(task, Struct)
    return next(m.name for m in task.members if m.bitfield_size > 1)


if __name__ == "__main__":
    main()
