// cpus: v1 v2 v3 v4
// static __noinline subprograms in .text called from two programs (BPF-to-BPF calls)
#define SEC(x) __attribute__((section(x), used))
#define __noinline __attribute__((noinline))

static __noinline int square(int x) { return x * x; }
static __noinline int add3(int a, int b, int c) { return a + b + c; }
static __noinline int chain(int x) { return square(x) + add3(x, 1, 2); }

SEC("socket") int prog_a(int *ctx) { return chain(ctx[0]) + square(ctx[1]); }
SEC("socket") int prog_b(int *ctx) { return add3(ctx[0], ctx[1], chain(ctx[2])); }
