// Programs for bench/bench_vm.py: the same object runs in the kernel and in pybpf.vm.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, __u64); } counters SEC(".maps");

/* a multiply-xor (FNV-1a style) hash over 1,000 rounds */
SEC("xdp") int hash_loop(struct xdp_md *ctx)
{
	__u64 h = 0xcbf29ce484222325ULL;
	for (__u32 i = 0; i < 1000; i++) {
		h ^= i;
		h *= 0x100000001b3ULL;
	}
	return (__u32)(h ^ (h >> 32)) & 3;
}

struct eth { __u8 dst[6], src[6]; __u16 proto; } __attribute__((packed));
struct ip4 { __u8 vihl, tos; __u16 len, id, frag; __u8 ttl, proto; __u16 csum; __u32 saddr, daddr; };
struct udp { __u16 sport, dport, len, csum; };

/* parse Ethernet/IPv4/UDP, then fold the payload 8 bytes at a time */
SEC("xdp") int parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct eth *eth = data;
	if ((void *)(eth + 1) > end || eth->proto != __builtin_bswap16(0x0800))
		return XDP_PASS;
	struct ip4 *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->proto != 17)
		return XDP_PASS;
	struct udp *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return XDP_DROP;
	__u8 *p = (void *)(udp + 1);
	__u64 sum = 0;
	for (int i = 0; i < 200; i++) {
		if ((void *)(p + 8) > end)
			break;
		sum += *(__u64 *)p;
		p += 8;
	}
	return (sum & 1) ? XDP_PASS : XDP_TX;
}

/* count packets per first payload byte in a hash map */
SEC("xdp") int count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 43 > end)
		return XDP_PASS;
	__u32 key = *(__u8 *)(data + 42);
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v) {
		__sync_fetch_and_add(v, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counters, &key, &one, BPF_ANY);
	}
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
