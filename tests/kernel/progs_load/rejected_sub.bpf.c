// The verifier rejects an instruction inside a subprogram (placed after the entry when linked).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

static __noinline __u64 read_slot(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&values, &key);
	return *v; /* the subprogram forgets the NULL check */
}

SEC("xdp")
int calls_sub(struct xdp_md *ctx)
{
	return read_slot(1) + read_slot(2);
}

char LICENSE[] SEC("license") = "GPL";
