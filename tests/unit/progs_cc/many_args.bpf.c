// BPF_KPROBE with 8 arguments, BPF_PROBE_READ, BPF_CORE_READ_USER and bpf_core_cast
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct plain_node {
	struct plain_node *next;
	int value;
};

long sum;

SEC("kprobe/eight")
int BPF_KPROBE(eight, long a, long b, long c, long d, long e, long f, long g, long h)
{
	sum = a + b + c + d + e + f + g + h;
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(walk, struct plain_node *head)
{
	sum = BPF_PROBE_READ(head, next, next, value);
	return 0;
}

SEC("fentry/do_nanosleep")
int BPF_PROG(cast, void *unused)
{
	struct task_struct *t = bpf_core_cast((void *)bpf_get_current_task(), struct task_struct);
	sum = t->pid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
