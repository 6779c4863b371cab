// CO-RE reads of the current task_struct, from a raw tracepoint on sys_enter, for one tgid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 target_tgid = 0;

__u32 seen_pid;
__u32 seen_tgid;
__u32 seen_ppid;
char seen_comm[16];
__u64 hits;

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ(task, tgid) != target_tgid)
		return 0;
	seen_pid = BPF_CORE_READ(task, pid);
	seen_tgid = BPF_CORE_READ(task, tgid);
	seen_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&seen_comm, task, comm);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
