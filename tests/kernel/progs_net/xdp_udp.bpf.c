// XDP: count the UDP packets to `port` and drop them when `drop` is set.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 port = 0;
const volatile __u8 drop = 0;

__u64 udp_packets;
__u64 other_packets;

SEC("xdp")
int xdp_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(0x0800) || ip->protocol != IPPROTO_UDP ||
	    ip->ihl != 5 || udp->dest != bpf_htons(port)) {
		__sync_fetch_and_add(&other_packets, 1);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&udp_packets, 1);
	return drop ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
