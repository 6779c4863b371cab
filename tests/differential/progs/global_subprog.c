// cpus: v3 v4
// a global (non-static) function in .text and a static one in the program's own section
#define SEC(x) __attribute__((section(x), used))
#define __noinline __attribute__((noinline))

__noinline int global_helper(int x) { return x ? x * 7 : -1; }
static __noinline int local_helper(int x) { return x + 100; }

SEC("xdp") int global_subprog(int *ctx) { return global_helper(ctx[0]) + local_helper(ctx[1]); }
