// libbpf style: uprobe/uretprobe on a user function, with BPF_UPROBE / BPF_URETPROBE
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int BPF_UPROBE(uprobe_add, int a, int b)
{
	bpf_printk("uprobed_add ENTRY: a = %d, b = %d", a, b);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(uretprobe_add, int ret)
{
	bpf_printk("uprobed_add EXIT: return = %d", ret);
	return 0;
}

SEC("uprobe//proc/self/exe:uprobed_sub")
int BPF_UPROBE(uprobe_sub, int a, int b, int c, int d, int e, int f)
{
	bpf_printk("sub %d %d %d %d %d %d", a, b, c, d, e, f);
	return 0;
}
