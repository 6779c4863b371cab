// Producer of the event benchmarks: each run of a socket filter program (driven by BPF_PROG_TEST_RUN with
// repeat=N) writes one 32-byte numbered record to the ring buffer or the perf event array.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u64 seq;
	__u32 cpu;
	__s32 neg;
	char tag[12];
	__u32 pad;
};

struct event *event_type __attribute__((unused));	/* keeps struct event in the BTF */

__u64 seq = 0;
__u64 rb_fail = 0;
__u64 pb_fail = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 128);
} pb SEC(".maps");

static __always_inline void fill(struct event *e)
{
	e->seq = __sync_fetch_and_add(&seq, 1);
	e->cpu = bpf_get_smp_processor_id();
	e->neg = -(__s32)e->seq;
	__builtin_memcpy(e->tag, "pybpf-bench", 12);
	e->pad = 0;
}

SEC("socket")
int rb_produce(struct __sk_buff *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&rb_fail, 1);
		return 0;
	}
	fill(e);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("socket")
int pb_produce(struct __sk_buff *ctx)
{
	struct event e;

	fill(&e);
	if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		__sync_fetch_and_add(&pb_fail, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
