"""pybpf's own BPF headers: helper declarations, map macros, printk, endian, UAPI constants."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

import pybpf.cc
from pybpf.btf import BTF
from pybpf.btf.types import Array, Enum, Enum64, Kind, Pointer, Struct
from pybpf.cc import headers
from pybpf.cc._gen_helpers import parse_header, parse_prototype
from pybpf.cc.headers import HelperPrototype, documented_helpers, render_helper_defs

UAPI_BPF_H = Path("/usr/include/linux/bpf.h")
ALL_HEADERS = """
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
"""
STRICT = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pybpf-cache")


@pytest.fixture(autouse=True)
def _cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(cache_root))


def _sections(obj: Path) -> dict[str, bytes]:
    with obj.open("rb") as f:
        return {s.name: s.data() for s in ELFFile(f).iter_sections() if s.name}


def _calls(code: bytes) -> list[tuple[int, int]]:
    """(helper id, the last constant put in r4 before it) for each helper call."""
    out, r4, i = [], None, 0
    while i < len(code):
        op, regs, _off, imm = struct.unpack_from("<BBhi", code, i)
        if op in (0xB7, 0xB4) and regs & 0xF == 4:
            r4 = imm
        if op == 0x85 and regs >> 4 == 0:
            out.append((imm, r4))
        i += 16 if op == 0x18 else 8
    return out


# ---- helper prototypes ------------------------------------------------------------------


def test_prototype_line_parsing() -> None:
    got = parse_prototype(" * long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, u64 flags)")
    assert got == {
        "name": "bpf_map_update_elem",
        "ret": "long",
        "params": [["struct bpf_map *", "map"], ["const void *", "key"], ["const void *", "value"], ["u64", "flags"]],
        "variadic": False,
    }
    printk = parse_prototype(" * long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)")
    assert printk is not None and printk["variadic"] and len(printk["params"]) == 2
    assert parse_prototype(" * \tDescription") is None


@pytest.mark.skipif(not UAPI_BPF_H.exists(), reason="no /usr/include/linux/bpf.h (linux-libc-dev) to compare with")
def test_committed_data_is_what_the_uapi_header_says() -> None:
    fresh = parse_header(UAPI_BPF_H.read_text())
    committed = [
        {"id": h.id, "name": h.name, "ret": h.ret, "params": [list(p) for p in h.params], "variadic": h.variadic}
        for h in documented_helpers()
    ]
    assert fresh == committed


def test_documented_helpers_are_unique_and_dense() -> None:
    helpers = documented_helpers()
    ids = [h.id for h in helpers]
    assert len(set(ids)) == len(ids) == len({h.name for h in helpers})
    assert ids == list(range(1, len(ids) + 1))
    assert len(ids) >= 211


def test_every_kernel_helper_has_a_documented_prototype() -> None:
    kernel = headers.kernel_helper_ids()
    if kernel is None:
        pytest.skip("kernel BTF not readable: the header declares every documented helper instead")
    documented = {h.name: h.id for h in documented_helpers()}
    missing = sorted(set(kernel) - set(documented))
    assert missing == [], f"helpers without a prototype (declared generically): {missing}"
    assert all(documented[name] == hid for name, hid in kernel.items())


def test_declarations_map_kernel_types_to_what_programs_see() -> None:
    decls = {h.name: h.declaration() for h in documented_helpers()}
    assert decls["bpf_map_lookup_elem"] == (
        "static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;"
    )
    assert decls["bpf_trace_printk"] == (
        "static long (* const bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) 6;"
    )
    assert decls["bpf_get_current_pid_tgid"] == "static __u64 (* const bpf_get_current_pid_tgid)(void) = (void *) 14;"
    assert "struct __sk_buff *skb" in decls["bpf_skb_vlan_push"]
    assert "struct xdp_md *xdp_md" in decls["bpf_xdp_adjust_head"]
    assert "struct sk_msg_md *msg" in decls["bpf_msg_redirect_map"]
    assert decls["bpf_cgrp_storage_get"] == (
        "static void *(* const bpf_cgrp_storage_get)(void *map, struct cgroup *cgroup, void *value, __u64 flags)"
        " = (void *) 210;"
    )


def test_header_keeps_only_kernel_helpers_with_kernel_ids() -> None:
    text = render_helper_defs({"bpf_map_lookup_elem": 1, "bpf_brand_new": 400})
    assert "bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;" in text
    assert "static long (* const bpf_brand_new)() = (void *) 400;" in text
    assert "bpf_map_update_elem" not in text
    every = render_helper_defs(None)
    assert every.count("(* const bpf_") == len(documented_helpers())
    assert "struct __sk_buff;" in every  # structs forward-declared before use


def test_generic_declaration_for_an_undocumented_helper() -> None:
    assert HelperPrototype(5, "bpf_x", "long", ()).declaration() == "static long (* const bpf_x)(void) = (void *) 5;"


# ---- compiling against the headers ---------------------------------------------------------


def test_all_headers_compile_cleanly_without_vmlinux() -> None:
    src = ALL_HEADERS + 'SEC("xdp") int p(struct xdp_md *ctx) { return XDP_PASS; }\nchar LICENSE[] SEC("license") = "GPL";\n'
    pybpf.cc.compile(src, cflags=STRICT)


def test_all_headers_compile_cleanly_after_vmlinux() -> None:
    src = '#include "vmlinux.h"\n' + ALL_HEADERS + 'SEC("xdp") int p(struct xdp_md *ctx) { return XDP_PASS; }\n'
    pybpf.cc.compile(src, cflags=STRICT)


@pytest.mark.skipif(not UAPI_BPF_H.exists(), reason="no /usr/include/linux/bpf.h (linux-libc-dev) on this host")
def test_host_uapi_header_then_ours() -> None:
    src = "#include <linux/bpf.h>\n" + ALL_HEADERS + (
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64);"
        ' __uint(max_entries, 1); } arr SEC(".maps");\n'
        'SEC("socket") int p(struct __sk_buff *skb) { return bpf_map_lookup_elem(&arr, &skb->len) ? 1 : 0; }\n'
    )
    pybpf.cc.compile(src, cflags=STRICT)


@pytest.mark.skipif(not UAPI_BPF_H.exists(), reason="no /usr/include/linux/bpf.h (linux-libc-dev) on this host")
def test_host_uapi_header_after_ours() -> None:
    src = "#include <linux/types.h>\n" + ALL_HEADERS + "#include <linux/bpf.h>\n" + (
        'SEC("xdp") int p(struct xdp_md *ctx) { return XDP_PASS + BPF_MAP_TYPE_HASH; }\n'
    )
    pybpf.cc.compile(src, cflags=STRICT)


def test_program_without_vmlinux_uses_our_uapi_constants() -> None:
    src = """
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_MMAPABLE);
} arr SEC(".maps");
SEC("xdp")
int pass(struct xdp_md *ctx)
{
	__u32 k = ctx->ingress_ifindex & 3;
	__u64 *v = bpf_map_lookup_elem(&arr, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
"""
    obj = pybpf.cc.compile(src, cflags=STRICT)
    sections = _sections(obj)
    assert {"xdp", ".maps", "license"} <= set(sections)
    assert [c for c, _ in _calls(sections["xdp"])] == [1]
    # ingress_ifindex is at offset 12 of struct xdp_md
    assert any(sections["xdp"][i] == 0x61 and sections["xdp"][i + 2] == 12 for i in range(0, len(sections["xdp"]), 8))


def test_map_definition_macros_encode_values_in_btf() -> None:
    src = """
#include <bpf/bpf_helpers.h>
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, int); __type(value, int); __uint(max_entries, 1); };
struct inner in0 SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, int);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { [1] = &in0 } };
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__ulong(map_extra, 0x123456789ULL);
} bloom SEC(".maps");
"""
    btf = BTF.from_bytes(_sections(pybpf.cc.compile(src))[".BTF"])

    def members(var_name: str) -> dict[str, int]:
        var = btf[btf.find_one(var_name, Kind.VAR)]
        st = btf[btf.resolve(var.type_id)]
        assert isinstance(st, Struct)
        return {m.name: m.type_id for m in st.members}

    def uint(type_id: int) -> int:
        ptr = btf[type_id]
        assert isinstance(ptr, Pointer)
        arr = btf[ptr.type_id]
        assert isinstance(arr, Array)
        return arr.nelems

    outer = members("outer")
    assert uint(outer["type"]) == 12 and uint(outer["max_entries"]) == 3
    values = btf[outer["values"]]
    assert isinstance(values, Array) and values.nelems == 0  # __array: a flexible array of pointers
    bloom = members("bloom")
    assert uint(bloom["type"]) == 30 and uint(bloom["pinning"]) == 1
    extra = btf[bloom["map_extra"]]
    assert isinstance(extra, (Enum, Enum64)) and extra.values[0].value == 0x123456789


def test_bpf_printk_picks_trace_printk_or_vprintk_by_argument_count() -> None:
    src = """
#include <bpf/bpf_helpers.h>
SEC("tp/x/a") int a(void *c) { bpf_printk("none"); return 0; }
SEC("tp/x/b") int b(void *c) { bpf_printk("%d %d %d", 1, 2, 3); return 0; }
SEC("tp/x/c") int d(void *c) { bpf_printk("%d %d %d %d", 1, 2, 3, 4); return 0; }
SEC("tp/x/d") int e(void *c) { bpf_printk("%d%d%d%d%d%d%d%d%d%d%d%d", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12); return 0; }
"""
    s = _sections(pybpf.cc.compile(src, cflags=STRICT))
    assert [c for c, _ in _calls(s["tp/x/a"])] == [6]
    assert [c for c, _ in _calls(s["tp/x/b"])] == [6]
    assert _calls(s["tp/x/c"]) == [(177, 4 * 8)]  # bpf_trace_vprintk(fmt, size, data, 32)
    assert _calls(s["tp/x/d"]) == [(177, 12 * 8)]
    rodata = s[".rodata"]
    assert b"none\0" in rodata and b"%d %d %d %d\0" in rodata


def test_tail_call_static_uses_helper_12_with_a_constant_slot() -> None:
    src = """
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } jt SEC(".maps");
SEC("xdp") int entry(struct xdp_md *ctx) { bpf_tail_call_static(ctx, &jt, 2); return XDP_PASS; }
"""
    code = _sections(pybpf.cc.compile(src, cflags=STRICT))["xdp"]
    ops = [struct.unpack_from("<BBhi", code, i) for i in range(0, len(code), 8)]
    call = next(i for i, (op, regs, _, imm) in enumerate(ops) if op == 0x85 and imm == 12)
    op, regs, _off, imm = ops[call - 1]
    assert (op, regs & 0xF, imm) == (0xB7, 3, 2)  # r3 = 2 right before the call


def test_endian_helpers_convert_constants_at_compile_time() -> None:
    src = """
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
__u16 s = bpf_htons(0x0102);
__u32 l = bpf_htonl(0x01020304);
__u64 q = bpf_cpu_to_be64(0x0102030405060708ULL);
__u16 cs = __bpf_constant_ntohs(0x0102);
__u32 back = bpf_ntohl(bpf_htonl(0xdeadbeef));
SEC("xdp") int f(struct xdp_md *ctx) {
	switch (ctx->ingress_ifindex) { case __bpf_constant_htons(80): return 1; }
	return bpf_ntohs(ctx->rx_queue_index);
}
"""
    data = _sections(pybpf.cc.compile(src, cflags=STRICT))[".data"]
    assert bytes.fromhex("0102") in data  # big-endian bytes in memory
    assert bytes.fromhex("01020304") in data
    assert bytes.fromhex("0102030405060708") in data
    assert (0xDEADBEEF).to_bytes(4, "little") in data


def test_externs_for_kconfig_and_ksyms_land_in_their_sections() -> None:
    src = """
#include <bpf/bpf_helpers.h>
extern unsigned int CONFIG_HZ __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig __weak;
extern const void bpf_prog_active __ksym;
SEC("tp/x/y") int f(void *c) { return CONFIG_HZ + (CONFIG_BPF_SYSCALL == TRI_YES) + (long)&bpf_prog_active; }
"""
    btf = BTF.from_bytes(_sections(pybpf.cc.compile(src, cflags=STRICT))[".BTF"])
    secs = {btf[i].name: [btf[v.type_id].name for v in btf[i].vars] for i, t in btf.types() if t.kind is Kind.DATASEC}
    assert set(secs[".kconfig"]) == {"CONFIG_HZ", "CONFIG_BPF_SYSCALL"}
    assert secs[".ksyms"] == ["bpf_prog_active"]


def test_memset_and_memcpy_are_expanded_inline_not_called() -> None:
    src = """
#include <bpf/bpf_helpers.h>
void *memset(void *s, int c, unsigned long n);
struct big { long a[4]; char s[24]; };
struct big g;
SEC("xdp") int f(struct xdp_md *ctx)
{
	struct big b;
	memset(&b, 0, sizeof(b));
	b.a[1] = ctx->data;
	memcpy(&g, &b, sizeof(b));
	memmove(&g.a[1], &g.a[0], 16);
	return XDP_PASS;
}
"""
    code = _sections(pybpf.cc.compile(src, cflags=STRICT))["xdp"]
    opcodes = [code[i] for i in range(0, len(code), 8)]
    assert 0x85 not in opcodes  # no call at all: no unresolvable extern memset/memcpy
