// A map pinned by name, and a global-data section, to check pin reuse and mismatches.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared SEC(".maps");

__u64 total;

SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 one = 1, *v = bpf_map_lookup_elem(&shared, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&shared, &key, &one, BPF_ANY);
	total++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
