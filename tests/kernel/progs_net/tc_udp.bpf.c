// tc / tcx: count the UDP packets to `port` per direction (loopback: no Ethernet header
// either, but lo's skbs carry a zeroed Ethernet header, so the IP header is at offset 14).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 port = 0;
const volatile __u8 drop = 0;

__u64 ingress_packets;
__u64 egress_packets;
__u64 second_packets;

static __always_inline int is_ours(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end)
		return 0;
	return skb->protocol == bpf_htons(0x0800) && ip->protocol == IPPROTO_UDP && ip->ihl == 5 &&
	       udp->dest == bpf_htons(port);
}

SEC("tcx/ingress")
int tc_ingress(struct __sk_buff *skb)
{
	if (!is_ours(skb))
		return TCX_NEXT;
	__sync_fetch_and_add(&ingress_packets, 1);
	return drop ? TCX_DROP : TCX_NEXT;
}

SEC("tcx/egress")
int tc_egress(struct __sk_buff *skb)
{
	if (is_ours(skb))
		__sync_fetch_and_add(&egress_packets, 1);
	return TCX_NEXT;
}

SEC("tc")
int tc_second(struct __sk_buff *skb)
{
	if (is_ours(skb))
		__sync_fetch_and_add(&second_packets, 1);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
