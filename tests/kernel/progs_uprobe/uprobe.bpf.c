// uprobe / uretprobe programs reporting what they saw in a hash map keyed by an event id.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

enum { EV_ENTRY_ARG = 1, EV_RET = 2, EV_LIB_ARG = 3, EV_LIB_RET = 4, EV_MALLOC_SIZE = 5, EV_MALLOC_CALLS = 6,
       EV_COOKIE = 7, EV_MULTI_CALLS = 8, EV_MULTI_COOKIES = 9, EV_MUL_A = 10, EV_MUL_B = 11 };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __s64);
} seen SEC(".maps");

static __always_inline void put(__u32 key, __s64 value)
{
	bpf_map_update_elem(&seen, &key, &value, BPF_ANY);
}

static __always_inline void add(__u32 key, __s64 value)
{
	__s64 *v = bpf_map_lookup_elem(&seen, &key);
	if (v)
		__sync_fetch_and_add(v, value);
	else
		put(key, value);
}

SEC("uprobe")
int BPF_UPROBE(on_add_one, int x)
{
	put(EV_ENTRY_ARG, x);
	put(EV_COOKIE, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(on_add_one_ret, int ret)
{
	put(EV_RET, ret);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(on_mul_sub, long a, long b)
{
	put(EV_MUL_A, a);
	put(EV_MUL_B, b);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(on_lib_square, int x)
{
	put(EV_LIB_ARG, x);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(on_lib_square_ret, int ret)
{
	put(EV_LIB_RET, ret);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(on_malloc, unsigned long size)
{
	if (size >= 12345 && size < 12345 + 1000)
		put(EV_MALLOC_SIZE, size);
	add(EV_MALLOC_CALLS, 1);
	return 0;
}

SEC("uprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	add(EV_MULTI_CALLS, 1);
	add(EV_MULTI_COOKIES, bpf_get_attach_cookie(ctx));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
