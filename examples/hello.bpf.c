// A small libbpf-style program: reports every execve (who runs what) through a
// ring buffer and counts execs per calling process name. Built by examples/demo.py.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct event {
	u32 pid;
	u32 ppid;
	char comm[16];
	char filename[64];
};

/* gives struct event a BTF entry, so Python can decode records by field name */
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[16]);
	__type(value, u64);
} exec_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile u32 target_ppid = 0;

SEC("tracepoint/syscalls/sys_enter_execve")
int trace_execve(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct event *e;
	u64 one = 1, *count;

	if (target_ppid && ppid != target_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
	count = bpf_map_lookup_elem(&exec_counts, e->comm);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&exec_counts, e->comm, &one, BPF_NOEXIST);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
