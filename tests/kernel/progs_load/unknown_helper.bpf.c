// Calls a helper id no kernel has.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

static long (*bpf_no_such_helper)(void) = (void *)99999;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} before SEC(".maps");

SEC("xdp")
int calls_unknown(struct xdp_md *ctx)
{
	return bpf_no_such_helper();
}

char LICENSE[] SEC("license") = "GPL";
