// Socket filter: count the packets queued to the socket; drop them all when `drop` is set.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u8 drop = 0;

__u64 seen;
__u64 seen_bytes;

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&seen, 1);
	__sync_fetch_and_add(&seen_bytes, skb->len);
	return drop ? 0 : skb->len;
}

char LICENSE[] SEC("license") = "GPL";
