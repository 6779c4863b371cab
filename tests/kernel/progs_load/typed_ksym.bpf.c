// A typed kernel variable: the per-CPU runqueues, read on the current CPU.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern struct rq runqueues __ksym;

int rq_cpu = -1;

SEC("syscall")
int read_rq(void *ctx)
{
	struct rq *rq = bpf_this_cpu_ptr(&runqueues);

	rq_cpu = rq->cpu;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
