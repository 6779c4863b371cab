// Stack capture: a raw_tp on sys_enter records the kernel, user and build-id user stack of the
// target's getppid; uprobes on level3 record its user stack; a perf_event sampler counts (pid, kernel stack, user stack, comm) of the target.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define DEPTH 127
#define NR_GETPPID 110

const volatile __u32 target_tgid = 0;

// A stack goes to the bucket its hash picks; a different stack hashing to a taken bucket is
// refused with -EEXIST. 16384 buckets (bcc's profile default) keep that rare for the few stacks
// a test records; test_stacks checks that a collision shows as a missed stack.
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_STACK_BUILD_ID);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DEPTH * sizeof(struct bpf_stack_build_id));
} build_id_stacks SEC(".maps");

struct sample_key {
	__u32 pid;
	__s32 kern_stack_id;
	__s32 user_stack_id;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts SEC(".maps");

long kernel_stack_id = -1000;
long user_stack_id = -1000;
long build_id_stack_id = -1000;
__u64 hits;
long uprobe_stack_id = -1000;
long uretprobe_stack_id = -1000;

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->args[1] != NR_GETPPID)
		return 0;
	kernel_stack_id = bpf_get_stackid(ctx, &stacks, 0);
	user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	build_id_stack_id = bpf_get_stackid(ctx, &build_id_stacks, BPF_F_USER_STACK);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct sample_key key = {};
	__u64 one = 1, *count;

	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (key.pid != target_tgid)
		return 0;
	key.kern_stack_id = bpf_get_stackid(ctx, &stacks, 0);
	key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	count = bpf_map_lookup_elem(&counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

SEC("uprobe")
int on_level3(struct pt_regs *ctx)
{
	uprobe_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	return 0;
}

SEC("uretprobe")
int on_level3_return(struct pt_regs *ctx)
{
	uretprobe_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
