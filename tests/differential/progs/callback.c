// cpus: v3 v4
// a static callback passed to bpf_loop: ld_imm64 of a function address
#define SEC(x) __attribute__((section(x), used))
#define __noinline __attribute__((noinline))
typedef unsigned int u32;
typedef unsigned long long u64;

static long (*bpf_loop)(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags) = (void *) 181;

static int step(u32 index, void *ctx)
{
	*(u64 *)ctx += index;
	return index > 10;
}

SEC("socket") int callback(void *skb)
{
	u64 total = 0;
	bpf_loop(100, step, &total, 0);
	return (int)total;
}
