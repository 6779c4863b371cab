// sockops fills a SOCKMAP with the connections to `port` made in the cgroup; sk_msg counts
// what those sockets send.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

__u64 established;
__u64 messages;

SEC("sockops")
int track(struct bpf_sock_ops *skops)
{
	__u32 zero = 0;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || skops->remote_port != bpf_htonl(port))
		return 1;
	if (!bpf_sock_map_update(skops, &socks, &zero, BPF_ANY))
		__sync_fetch_and_add(&established, 1);
	return 1;
}

SEC("sk_msg")
int count_msg(struct sk_msg_md *msg)
{
	__sync_fetch_and_add(&messages, 1);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
