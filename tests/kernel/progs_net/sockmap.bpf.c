// sk_msg verdict on a SOCKMAP: count messages and bytes sent by the sockets in the map;
// refuse them when `drop` is set.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u8 drop = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

__u64 messages;
__u64 bytes;

SEC("sk_msg")
int msg_verdict(struct sk_msg_md *msg)
{
	__sync_fetch_and_add(&messages, 1);
	__sync_fetch_and_add(&bytes, msg->size);
	return drop ? SK_DROP : SK_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} rx_socks SEC(".maps");

__u64 skbs;
__u64 skb_bytes;

// sk_skb verdict on rx_socks: the data a socket in the map receives passes through here
SEC("sk_skb/verdict")
int skb_verdict(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&skbs, 1);
	__sync_fetch_and_add(&skb_bytes, skb->len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
