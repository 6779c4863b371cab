"""vmlinux.h: generated from the kernel BTF only when included, cached by the BTF's hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import pybpf.cc
from pybpf.btf import c_dump
from pybpf.cc import driver, headers
from pybpf.errors import CompileError, NotSupportedError

FIXTURE_INCLUDE = Path(__file__).parent / "progs_cc" / "include"
USES_VMLINUX = """
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tp_btf/sched_switch") int f(unsigned long long *ctx) { return sizeof(struct task_struct) > 0; }
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(root))
    return root


def _forbid_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(root: Path) -> Path:
        raise AssertionError("vmlinux.h was generated")

    monkeypatch.setattr(driver, "vmlinux_include_dir", boom)


def test_generated_once_and_cached_by_btf_hash(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if headers.kernel_btf_digest() is None:
        pytest.skip("this kernel exposes no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
    pybpf.cc.compile(USES_VMLINUX)
    generated = list((cache / "vmlinux").glob("*/vmlinux.h"))
    assert len(generated) == 1
    text = generated[0].read_text()
    assert "struct task_struct {" in text and "__VMLINUX_H__" in text
    digest = hashlib.sha256(headers.KERNEL_BTF_PATH.read_bytes()).hexdigest()
    assert headers.kernel_btf_digest() == digest
    # a second program reuses the file: the dumper is not called again
    monkeypatch.setattr(c_dump, "dump_c", lambda *a, **k: pytest.fail("dump_c called again"))
    pybpf.cc.compile(USES_VMLINUX + "\nint another;\n")


def test_not_generated_when_not_included(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_generation(monkeypatch)
    pybpf.cc.compile('#include <bpf/bpf_helpers.h>\nSEC("xdp") int f(void *c) { return 2; }\n')
    assert not (cache / "vmlinux").exists()


def test_users_own_vmlinux_wins(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_generation(monkeypatch)
    src = '#include "vmlinux.h"\nint f(struct pt_regs *r) { return r->di; }\n'
    pybpf.cc.compile(src, include_dirs=[FIXTURE_INCLUDE])


def test_vmlinux_included_from_a_header_is_generated_on_retry(cache: Path, tmp_path: Path) -> None:
    if headers.kernel_btf_digest() is None:
        pytest.skip("this kernel exposes no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "common.h").write_text('#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n')
    src = '#include "common.h"\nSEC("xdp") int f(struct xdp_md *ctx) { return XDP_PASS; }\n'
    assert pybpf.cc.compile(src, include_dirs=[inc]).exists()
    assert list((cache / "vmlinux").glob("*/vmlinux.h"))


def test_no_kernel_btf_says_what_to_do(cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(headers, "KERNEL_BTF_PATH", tmp_path / "absent")
    headers.kernel_btf_digest.cache_clear()
    try:
        with pytest.raises(NotSupportedError, match="include_dirs"):
            pybpf.cc.compile(USES_VMLINUX)
    finally:
        headers.kernel_btf_digest.cache_clear()


def test_helper_header_follows_the_kernel(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(headers, "kernel_helper_ids", lambda: {"bpf_map_lookup_elem": 1})
    monkeypatch.setattr(headers, "_HELPER_DEFS_FORMAT", -1)  # a fresh cache key
    src = '#include <bpf/bpf_helpers.h>\nint f(void) { return bpf_get_smp_processor_id(); }\n'
    with pytest.raises(CompileError) as info:
        pybpf.cc.compile(src, cflags=["-Werror=implicit-function-declaration"])
    assert any("bpf_get_smp_processor_id" in m.message for m in info.value.messages)
