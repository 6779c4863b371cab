// A program array with initial slots; the entry tail-calls slot `slot` (set in .rodata).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 slot = 1;

SEC("xdp") int target_one(struct xdp_md *ctx) { return 41; }
SEC("xdp") int target_two(struct xdp_md *ctx) { return 42; }

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jump SEC(".maps") = { .values = { [1] = (void *)&target_one, [2] = (void *)&target_two } };

SEC("xdp")
int entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump, slot);
	return 7; /* the slot was empty */
}

char LICENSE[] SEC("license") = "GPL";
