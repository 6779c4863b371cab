// Programs for the VM's end-to-end tests: maps of every family, globals, tail calls, helpers.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>


struct event { __u32 pid; __u32 len; char comm[16]; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } pcpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __type(value, __u32); } fifo SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");

const volatile __u32 multiplier = 1;
__u64 total = 0;
__u32 last_len;

SEC("xdp") int count(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 key = len & 7;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	__u32 zero = 0;
	__u64 *p = bpf_map_lookup_elem(&pcpu, &zero);
	if (p)
		*p += len;
	bpf_map_update_elem(&lru, &len, &len, BPF_ANY);
	bpf_map_push_elem(&fifo, &len, BPF_EXIST);
	total += len * multiplier;
	last_len = len;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->len = len;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &len, sizeof(len));
	bpf_printk("len %u total %llu", len, total);
	return 2;
}

SEC("xdp") int trim(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, 14))
		return 0;
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 1 > end)
		return 0;
	*(__u8 *)data = 0xAB;
	if (bpf_xdp_adjust_tail(ctx, -4))
		return 0;
	return 2;
}

SEC("xdp") int overrun(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&pcpu, &zero);
	if (!v)
		return 0;
	volatile int i = 1;  /* the verifier would refuse this; the VM stops it */
	return ((__u64 *)v)[i];
}
char LICENSE[] SEC("license") = "GPL";
