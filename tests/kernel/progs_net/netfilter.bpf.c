// netfilter: count the packets at the hook; drop them when `drop` is set.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u8 drop = 0;

__u64 packets;

SEC("netfilter")
int nf_count(struct bpf_nf_ctx *ctx)
{
	__sync_fetch_and_add(&packets, 1);
	return drop ? 0 : 1; /* NF_DROP : NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
