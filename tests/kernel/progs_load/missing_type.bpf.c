// CO-RE against a type the kernel lacks: the relocation cannot be satisfied.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct pybpf_no_such_kernel_type {
	int no_such_field;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} before SEC(".maps");

SEC("raw_tp/sys_enter")
int reads_missing(void *ctx)
{
	struct pybpf_no_such_kernel_type *p = (void *)bpf_get_current_task();
	return BPF_CORE_READ(p, no_such_field);
}

char LICENSE[] SEC("license") = "GPL";
