// USDT programs reading their arguments through <bpf/usdt.bpf.h>.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

enum { EV_CNT = 1, EV_N = 2, EV_NEG = 3, EV_BIG = 4, EV_CONST = 5, EV_COOKIE = 6, EV_X = 7, EV_Y = 8,
       EV_GUARDED = 9, EV_MISSING = 10, EV_HITS = 11 };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __s64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[32]);
} text SEC(".maps");

static __always_inline void put(__u32 key, __s64 value)
{
	bpf_map_update_elem(&seen, &key, &value, BPF_ANY);
}

SEC("usdt")
int BPF_USDT(on_args, int n, short neg, const char *msg, long big, int five)
{
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&text, &zero);
	long missing = 0;

	put(EV_CNT, bpf_usdt_arg_cnt(ctx));
	put(EV_N, n);
	put(EV_NEG, neg);
	put(EV_BIG, big);
	put(EV_CONST, five);
	put(EV_COOKIE, bpf_usdt_cookie(ctx));
	put(EV_MISSING, bpf_usdt_arg(ctx, 7, &missing));
	if (buf)
		bpf_probe_read_user_str(buf, 32, msg);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_deref, int x, int y)
{
	put(EV_X, x);
	put(EV_Y, y);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_guarded, int v)
{
	put(EV_GUARDED, v);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
