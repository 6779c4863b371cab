// cpus: v3
// kfuncs every program type may call (bpf_rcu_read_lock/unlock) around a packet parse
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} ttls SEC(".maps");

SEC("xdp") int kfunc_rcu(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 ttl;
	__u64 *count;
	int verdict = XDP_PASS;

	if (data + 23 > end)
		return XDP_ABORTED;
	bpf_rcu_read_lock();
	ttl = data[22];
	count = bpf_map_lookup_elem(&ttls, &ttl);
	if (count)
		*count += 1;
	if (ttl == 1)
		verdict = XDP_DROP;
	bpf_rcu_read_unlock();
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
