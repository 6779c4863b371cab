// sk_lookup: steer packets to local port `port` to the socket in socks[0].
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u16 port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

__u64 steered;

SEC("sk_lookup")
int steer(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	struct bpf_sock *sk;
	long err;

	if (ctx->local_port != port)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&socks, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (!err)
		__sync_fetch_and_add(&steered, 1);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
