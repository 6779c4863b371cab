// Stands in for what pybpf.trace.codegen emits for
//   BEGIN { printf("begin %d\n", 42); }
//   tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @c = count(); printf("getppid from %d\n", pid);
//                                                         if (@c >= limit) { exit(); } }
//   END { printf("end\n"); }
// so the runtime's session loop can be tested against the kernel before code generation exists.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u64 cpid = 0;
const volatile __s64 limit = 0;	/* 0: never exit() */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ringbuf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(key_size, 8);
	__uint(value_size, 8);
	__uint(max_entries, 16);
} AT_c SEC(".maps");

struct printf_i64 { __u64 id; __s64 v; };

static void emit_i64(__u64 id, __s64 v)
{
	struct printf_i64 r = { id, v };
	bpf_ringbuf_output(&ringbuf, &r, sizeof(r), 0);
}

static void emit(__u64 id)
{
	bpf_ringbuf_output(&ringbuf, &id, sizeof(id), 0);
}

SEC("raw_tp/begin")
int begin(void *ctx)
{
	emit_i64(0, 42);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 zero = 0, one = 1;
	__s64 *c;

	if (pid != cpid)
		return 0;
	c = bpf_map_lookup_elem(&AT_c, &zero);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&AT_c, &zero, &one, BPF_ANY);
	emit_i64(1, pid);
	c = bpf_map_lookup_elem(&AT_c, &zero);
	if (limit && c && *c >= limit)
		emit(2);
	return 0;
}

SEC("raw_tp/end")
int end(void *ctx)
{
	emit(3);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
