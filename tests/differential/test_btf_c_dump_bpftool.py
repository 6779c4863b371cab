"""``pybpf btf dump`` against ``bpftool btf dump``: raw output byte for byte, and the C header
declaring the same types, enumerators and typedefs (and compiling with BTF's layout)."""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from pybpf import cc
from pybpf.btf import BTF
from pybpf.btf.c_dump import dump_c
from pybpf.btf.c_dump_check import layout_asserts
from pybpf.cli import btf as cli_btf

BPFTOOL = shutil.which("bpftool")
VMLINUX = Path("/sys/kernel/btf/vmlinux")

pytestmark = [
    pytest.mark.skipif(BPFTOOL is None, reason="bpftool (Debian package 'bpftool') is not installed"),
    pytest.mark.skipif(not VMLINUX.exists(), reason="the kernel exposes no BTF (CONFIG_DEBUG_INFO_BTF)"),
]

OBJECT_PROG = r"""
#include <bpf/bpf_helpers.h>

struct event { unsigned int pid; char comm[16]; long long ts; unsigned int flag: 1, kind: 7; };
enum color { RED = -1, GREEN = 5 };
typedef int (*handler_t)(struct event *, ...);

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, unsigned int);
    __type(value, struct event);
} events SEC(".maps");

volatile const int threshold = 3;
enum color last_color;
handler_t handler;
static __attribute__((noinline)) int helper(struct event *e) { return e->kind + threshold; }

SEC("xdp")
int prog(void *ctx)
{
    unsigned int key = 0;
    struct event *e = bpf_map_lookup_elem(&events, &key);
    last_color = GREEN;
    return e ? helper(e) : 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def pybpf_btf(*argv: str) -> str:
    """Run ``pybpf btf ...`` in-process and return what it printed."""
    parser = argparse.ArgumentParser(prog="pybpf")
    cli_btf.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["btf", *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    return out.getvalue()


def bpftool(*argv: str) -> str:
    return subprocess.run([BPFTOOL, *argv], check=True, capture_output=True, text=True).stdout  # type: ignore[list-item]


@pytest.fixture(scope="module")
def object_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.compile(OBJECT_PROG, output=tmp_path_factory.mktemp("obj") / "prog.o", cache=False)


def test_raw_dump_of_the_kernel_equals_bpftool() -> None:
    ours = pybpf_btf("dump", str(VMLINUX), "--format", "raw")
    theirs = bpftool("btf", "dump", "file", str(VMLINUX), "format", "raw")
    assert ours.count("\n") > 100_000
    assert ours == theirs


def test_raw_dump_of_an_object_equals_bpftool(object_file: Path) -> None:
    ours = pybpf_btf("dump", str(object_file))
    theirs = bpftool("btf", "dump", "file", str(object_file), "format", "raw")
    for kind in ("VAR", "DATASEC", "FUNC", "FUNC_PROTO", "ENUM", "STRUCT"):
        assert f"] {kind} " in ours
    assert ours == theirs


def _declarations(header: str) -> dict[str, set[str] | int]:
    return {
        "tags": set(re.findall(r"^(?:struct|union|enum) \w+ \{", header, re.M)),
        "enumerators": set(re.findall(r"^\t+(\w+) = ", header, re.M)),
        "typedefs": header.count("\ntypedef "),
    }


def test_c_dump_declares_what_bpftool_declares() -> None:
    ours = pybpf_btf("dump", str(VMLINUX), "--format", "c")
    theirs = bpftool("btf", "dump", "file", str(VMLINUX), "format", "c")
    mine, ref = _declarations(ours), _declarations(theirs)
    assert len(mine["tags"]) > 10_000  # type: ignore[arg-type]
    assert mine == ref
    assert ours == dump_c(BTF.from_file(VMLINUX))


def test_c_dump_of_an_object_compiles_with_its_layout(object_file: Path, tmp_path: Path) -> None:
    header = pybpf_btf("dump", str(object_file), "--format", "c", "--header-guard", "PROG_H")
    assert "struct event {" in header and "typedef int (*handler_t)(struct event *, ...);" in header
    assert "enum color {\n\tRED = -1,\n\tGREEN = 5,\n};" in header
    (tmp_path / "prog.h").write_text(header)
    btf = BTF.from_file(object_file)
    cc.compile(f'#include "prog.h"\n{layout_asserts(btf)}', include_dirs=[tmp_path],
               cflags=["-Wall", "-Werror"], cache=False)
