// Event producers for the reader tests: socket filter programs run with BPF_PROG_TEST_RUN(repeat=N)
// each write one numbered record per run to a ring buffer or a perf event array.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u64 seq;
	__u32 pid;
	__s32 neg;
	char tag[12];
	__u16 small;
	__u8 pad[2];
};

/* keeps struct event in the object's BTF (types of locals are not emitted) */
struct event *event_type __attribute__((unused));

const volatile __u32 discard_every = 0;	/* discard records whose seq % discard_every == 0 */
const volatile __u32 rb_extra = 0;	/* bytes added to each variable-size record */
__u64 seq = 0;
__u64 rb_fail = 0;
__u64 pb_fail = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 128);	/* >= the CPUs of the test machine */
} pb SEC(".maps");

static __always_inline void fill(struct event *e, __u64 n)
{
	e->seq = n;
	e->pid = bpf_get_smp_processor_id();
	e->neg = -(__s32)n;
	__builtin_memcpy(e->tag, "pybpf-event", 12);
	e->small = (__u16)(n * 3);
	e->pad[0] = e->pad[1] = 0;
}

SEC("socket")
int rb_reserve(struct __sk_buff *ctx)
{
	__u64 n = __sync_fetch_and_add(&seq, 1);
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&rb_fail, 1);
		return 0;
	}
	fill(e, n);
	if (discard_every && n % discard_every == 0)
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("socket")
int rb_output(struct __sk_buff *ctx)
{
	struct event e;
	__u64 n = __sync_fetch_and_add(&seq, 1);

	fill(&e, n);
	if (bpf_ringbuf_output(&rb, &e, sizeof(e), 0))
		__sync_fetch_and_add(&rb_fail, 1);
	return 0;
}

/* one record to each of two ring buffers */
SEC("socket")
int rb_both(struct __sk_buff *ctx)
{
	struct event e;
	__u64 n = __sync_fetch_and_add(&seq, 1);

	fill(&e, n);
	if (bpf_ringbuf_output(&rb, &e, sizeof(e), 0))
		__sync_fetch_and_add(&rb_fail, 1);
	e.seq = n + 1000000;
	if (bpf_ringbuf_output(&rb2, &e, sizeof(e), 0))
		__sync_fetch_and_add(&rb_fail, 1);
	return 0;
}

/* records of two sizes: a u64 (even seq) and a struct event (odd seq) */
SEC("socket")
int rb_mixed(struct __sk_buff *ctx)
{
	struct event e;
	__u64 n = __sync_fetch_and_add(&seq, 1);

	fill(&e, n);
	if (n & 1)
		bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	else
		bpf_ringbuf_output(&rb, &n, sizeof(n), 0);
	return 0;
}

SEC("socket")
int pb_output(struct __sk_buff *ctx)
{
	struct event e;
	__u64 n = __sync_fetch_and_add(&seq, 1);

	fill(&e, n);
	if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		__sync_fetch_and_add(&pb_fail, 1);
	return 0;
}

/* ---- user ring buffer: records written from Python, drained here and echoed to rb ---- */
struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} urb SEC(".maps");

__u64 drained = 0;
__u64 drained_seq_sum = 0;
__s64 drain_ret = 0;

static long on_sample(struct bpf_dynptr *dynptr, void *ctx)
{
	struct event e;

	if (bpf_dynptr_read(&e, sizeof(e), dynptr, 0, 0))
		return 1;	/* stop: a sample of another size */
	drained++;
	drained_seq_sum += e.seq;
	e.small += 1;	/* changed on the way back, so the test sees the program handled it */
	bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	return 0;
}

SEC("socket")
int urb_drain(struct __sk_buff *ctx)
{
	drain_ret = bpf_user_ringbuf_drain(&urb, on_sample, NULL, 0);
	return 0;
}

/* ---- bpf_printk for the trace_pipe reader ---- */
const volatile __u64 printk_tag = 0;

SEC("socket")
int printk(struct __sk_buff *ctx)
{
	bpf_printk("pybpf-events %llu says %d", printk_tag, 42);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
