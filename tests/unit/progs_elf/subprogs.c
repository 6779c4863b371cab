/* BPF-to-BPF calls: static functions in .text shared by several programs, nested calls,
 * a global (non-static) subprogram, and a bpf_loop callback taken by address. */
#include "elf_test.h"

u64 total;

static __noinline int leaf(int x) { return x * 7 + 1; }
static __noinline int middle(int x) { return leaf(x) + leaf(x + 1) + 3; }
static __noinline int other(int x) { return x ^ 0x55; }
__noinline int global_sub(int x) { return x > 4 ? x - 4 : other(x); }

static int loop_cb(u32 index, void *ctx) { total += index; return 0; }

SEC("xdp") int uses_middle(void *ctx) { return middle(2) + other(1); }
SEC("xdp") int uses_leaf(void *ctx) { return leaf(5); }
SEC("tc") int uses_global(void *ctx) { return global_sub(9) + middle(1); }
SEC("tp/syscalls/sys_enter_getpid") int uses_loop(void *ctx) { bpf_loop(4, loop_cb, 0, 0); return 0; }
SEC("socket") int no_calls(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
