"""bcc module aliases, python -m pybpf.bcc, the syscall table, utils, ctypes from BTF, record types."""

from __future__ import annotations

import ctypes as ct
import io
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.bcc import syscall, utils
from pybpf.bcc.compat import bcc_aliases
from pybpf.bcc.tables.ctypes_btf import CtypesBuilder, find_record
from pybpf.bcc.tables.events import cast_record, deliver, record_type_text

PY = sys.executable
UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def test_aliases_only_while_active() -> None:
    assert "bcc" not in sys.modules
    with bcc_aliases():
        import bcc  # type: ignore[import-not-found]
        import bcc.table  # type: ignore[import-not-found]
        from bcc.syscall import syscall_name  # type: ignore[import-not-found]
        from bcc.utils import printb  # type: ignore[import-not-found]

        import pybpf.bcc
        assert bcc is pybpf.bcc and callable(printb) and syscall_name(0) == syscall.syscall_name(0)
        assert bcc.table.HashTable.__name__ == "HashTable"
        with pytest.raises(ImportError, match="does not provide 'bcc.nonexistent'"):
            import bcc.nonexistent  # type: ignore[import-not-found]  # noqa: F401
    assert "bcc" not in sys.modules and "bcc.utils" not in sys.modules


@pytest.mark.skipif(platform.machine() != "x86_64" or not UNISTD.exists(), reason="needs the x86_64 UAPI header")
def test_syscall_table_matches_the_uapi_header() -> None:
    defined = {int(m[2]): m[1] for m in re.finditer(r"#define __NR_(\w+)\s+(\d+)", UNISTD.read_text())}
    assert {nr: n.decode() for nr, n in syscall.syscalls.items()} == defined
    assert syscall.syscall_name(56) == b"clone" and syscall.syscall_number("getrandom") == 318


def test_syscall_unknown() -> None:
    assert syscall.syscall_name(99999) == b"[unknown: 99999]"
    with pytest.raises(KeyError):
        syscall.syscall_number("not_a_syscall")


def test_aarch64_table_is_asm_generic() -> None:
    from pybpf.bcc._syscall_table import AARCH64

    assert AARCH64[63] == "read" and AARCH64[220] == "clone" and AARCH64[56] == "openat" and "open" not in AARCH64.values()


def test_printb_writes_raw_bytes() -> None:
    class Out(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.buffer = io.BytesIO()

    out = Out()
    utils.printb(b"%-6d %s" % (42, b"bash"), file=out)
    utils.printb(b"x", file=out, nl=0)
    assert out.buffer.getvalue() == b"42     bash\nx"
    assert bytes(utils.ArgString("abc")) == b"abc" and str(utils.ArgString("abc")) == "abc"
    assert 0 in utils.get_online_cpus() and len(utils.get_possible_cpus()) >= len(utils.get_online_cpus())


def test_python_m_runs_a_bcc_script(tmp_path: Path) -> None:
    script = tmp_path / "tool.py"
    (tmp_path / "helper_mod.py").write_text("VALUE = 1\n")
    script.write_text(
        "import sys\n"
        "import helper_mod\n"
        "from bcc.utils import printb\n"
        "from bcc.syscall import syscall_name\n"
        "import bcc.table\n"
        "from bcc import BPF\n"
        "printb(b'%s %s' % (syscall_name(int(sys.argv[1])), BPF.__module__.encode()))\n"
        "assert __name__ == '__main__'\n")
    for cmd in ([PY, "-m", "pybpf.bcc", str(script), "0"], [PY, "-m", "pybpf.cli", "bcc", str(script), "0"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        expected = "read" if platform.machine() == "x86_64" else "io_setup"
        assert done.stdout == f"{expected} pybpf.bcc.bpf\n"


def test_record_type_text() -> None:
    text = """
struct data_t { u32 pid; char comm[16]; };
BPF_PERF_OUTPUT(events);
BPF_RINGBUF_OUTPUT(rb, 8);
BPF_PERF_OUTPUT(other);
int f(void *ctx) {
    struct data_t data = {};
    events.perf_submit(ctx, &data, sizeof(data));
    struct val *v = rb.ringbuf_reserve(sizeof(struct val));
    my_t *p = 0;
    other.perf_submit(ctx, p, sizeof(*p));
    return 0;
}"""
    assert record_type_text(text, "events") == "struct data_t"
    assert record_type_text(text, "rb") == "struct val"
    assert record_type_text(text, "other") == "my_t"
    assert record_type_text(text, "missing") is None


def test_ctypes_from_btf_match_the_c_layout() -> None:
    from pybpf.cc import compile as cc_compile
    from pybpf.spec import ObjectSpec

    src = """
typedef unsigned int u32; typedef unsigned long long u64;
struct rec { u32 pid; u64 ts; char comm[16]; unsigned char flag; struct { short a; } inner; union { u32 x; u64 y; } u; };
struct rec r __attribute__((used));
enum e { A = 1, B = 2 } ev __attribute__((used));
"""
    spec = ObjectSpec.from_file(cc_compile(src, name="t.c"))
    b = CtypesBuilder(spec.btf)
    rec = b.build(find_record(spec.btf, "rec"))
    assert ct.sizeof(rec) == 48
    assert [f[0] for f in rec._fields_][:3] == ["pid", "__pad_1", "ts"]
    assert rec.ts.offset == 8 and rec.comm.offset == 16 and rec.flag.offset == 32 and rec.u.offset == 40
    r = rec(pid=7, ts=1 << 40, comm=b"bash")
    assert (r.pid, r.ts, r.comm) == (7, 1 << 40, b"bash")
    # a record handed to a callback as an address stays readable after the callback returns
    got = []
    deliver(lambda cpu, data, size: got.append((cpu, cast_record(rec, data), size)), 3, bytes(r))
    assert got[0][0] == 3 and got[0][1].comm == b"bash" and got[0][2] == 48
