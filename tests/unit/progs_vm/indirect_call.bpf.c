// An indirect call: clang emits `callx` (the kernel's verifier refuses it; the VM runs it).
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

typedef int (*op_t)(int);

static __attribute__((noinline)) int twice(int x) { return x * 2; }
static __attribute__((noinline)) int thrice(int x) { return x * 3; }

SEC("xdp") int pick(struct xdp_md *ctx)
{
	volatile int sel = ctx->ingress_ifindex;  /* volatile: keep the choice at run time */
	op_t f = sel > 1 ? twice : thrice;
	return f(7);
}

char LICENSE[] SEC("license") = "GPL";
