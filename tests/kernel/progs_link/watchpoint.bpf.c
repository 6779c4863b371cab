// Hardware watchpoint on a kernel address: `find` stores the kernel address of watched[0] in
// where[0]; `poke` writes it (from BPF: a map update from user space runs with BPF programs
// disabled, so the watchpoint's program would not see it); `on_hit` (the watchpoint's program)
// counts the accesses and keeps the last address.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} watched SEC(".maps"), where SEC(".maps"), hits SEC(".maps"), hit_addr SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int find(void *ctx)
{
	__u32 zero = 0;
	__u64 *value = bpf_map_lookup_elem(&watched, &zero), addr;

	if (!value)
		return 0;
	addr = (__u64)value;
	bpf_map_update_elem(&where, &zero, &addr, BPF_ANY);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int poke(void *ctx)
{
	__u32 zero = 0;
	__u64 *value = bpf_map_lookup_elem(&watched, &zero);

	if (value)
		*(volatile __u64 *)value += 1;
	return 0;
}

SEC("perf_event")
int on_hit(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&hits, &zero), addr = ctx->addr;

	if (count)
		__sync_fetch_and_add(count, 1);
	bpf_map_update_elem(&hit_addr, &zero, &addr, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
