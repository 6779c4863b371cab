// A syscall tracepoint: records the file name the target process passes to openat(2).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[256]);
} last_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} opens SEC(".maps");

/* the record of syscalls:sys_enter_openat (events/syscalls/sys_enter_openat/format) */
struct openat_args {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct openat_args *ctx)
{
	__u32 zero = 0;
	char *slot;
	__u64 *count;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	slot = bpf_map_lookup_elem(&last_name, &zero);
	if (slot)
		bpf_probe_read_user_str(slot, 256, ctx->filename);
	count = bpf_map_lookup_elem(&opens, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

/* the same hook with another body, for Link.update */
SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat_v2(struct openat_args *ctx)
{
	__u32 zero = 0;
	__u64 *count;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	count = bpf_map_lookup_elem(&opens, &zero);
	if (count)
		__sync_fetch_and_add(count, 1000);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
