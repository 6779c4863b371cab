// Raw tracepoint sys_enter and tp_btf sys_enter: count the target's syscalls and record its pid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

__u32 raw_seen_pid;
__u64 raw_hits;
__u32 btf_seen_pid;
__u64 btf_hits;
__u64 btf_nr_counts[512];

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) != target_tgid)
		return 0;
	raw_seen_pid = id >> 32;
	__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_btf_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if ((pid_tgid >> 32) != target_tgid)
		return 0;
	btf_seen_pid = pid_tgid >> 32;
	if (id >= 0 && id < 512)
		__sync_fetch_and_add(&btf_nr_counts[id], 1);
	__sync_fetch_and_add(&btf_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
