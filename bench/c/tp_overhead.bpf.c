// bench_tracepoint_overhead: the cheapest useful tracepoint program -- count the events of one process.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
__u64 events;

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&events, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int count_sys_enter(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&events, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
