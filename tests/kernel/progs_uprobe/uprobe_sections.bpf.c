// Programs whose sections fully name their hooks (attached by Collection.attach_all);
// TARGET (the test binary's path) and USDT_TARGET come from -D flags.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __s64);
} seen SEC(".maps");

static __always_inline void put(__u32 key, __s64 value)
{
	bpf_map_update_elem(&seen, &key, &value, BPF_ANY);
}

SEC("uprobe/" TARGET ":add_one")
int BPF_UPROBE(sec_add_one, int x)
{
	put(1, x);
	return 0;
}

SEC("uretprobe/" TARGET ":add_one")
int BPF_URETPROBE(sec_add_one_ret, int ret)
{
	put(2, ret);
	return 0;
}

SEC("uprobe.multi/" TARGET ":mul_*")
int sec_multi(struct pt_regs *ctx)
{
	put(3, PT_REGS_PARM2(ctx));
	return 0;
}

SEC("usdt/" USDT_TARGET ":pybpftest:args")
int BPF_USDT(sec_usdt, int n)
{
	put(4, n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
