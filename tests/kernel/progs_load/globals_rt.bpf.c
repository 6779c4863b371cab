// Global data round trip: a .rodata constant set before load, results written to .data/.bss.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 x = 1;
const volatile __u64 scale = 3;
__u64 out_data = 5;
__u64 out_bss;
__u32 runs;

SEC("syscall")
int round_trip(void *ctx)
{
	out_data = x * scale;
	out_bss = x + 100;
	runs++;
	return x;
}

char LICENSE[] SEC("license") = "GPL";
