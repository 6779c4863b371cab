// cgroup programs: count UDP egress packets to `port`; rewrite or refuse IPv4 connects.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 port = 0;
const volatile __u16 redirect_from = 0;
const volatile __u16 redirect_to = 0;
const volatile __u16 refuse = 0;

__u64 egress_packets;
__u64 connects;

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;

	if (skb->protocol != bpf_htons(0x0800) || bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) ||
	    ip.protocol != IPPROTO_UDP || bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)))
		return 1;
	if (udp.dest == bpf_htons(port))
		__sync_fetch_and_add(&egress_packets, 1);
	return 1;
}

SEC("cgroup/connect4")
int rewrite_connect4(struct bpf_sock_addr *ctx)
{
	__sync_fetch_and_add(&connects, 1);
	if (ctx->user_port == bpf_htons(refuse))
		return 0;
	if (ctx->user_port == bpf_htons(redirect_from))
		ctx->user_port = bpf_htons(redirect_to);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
