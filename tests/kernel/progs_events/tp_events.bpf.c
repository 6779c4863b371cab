// A real kernel event source: the openat(2) tracepoint of the target process reports the
// file name through a ring buffer and a perf buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct open_event {
	__u32 pid;
	__u32 tid;
	char comm[16];
	char name[128];
};

struct open_event *open_event_type __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} opens_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 128);
} opens_pb SEC(".maps");

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
	__u64 id = bpf_get_current_pid_tgid();
	struct open_event *e;

	if ((id >> 32) != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&opens_rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->name, sizeof(e->name), ctx->filename);
	bpf_perf_event_output(ctx, &opens_pb, BPF_F_CURRENT_CPU, e, sizeof(*e));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
