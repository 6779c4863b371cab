// Programs whose BPF_PROG_TEST_RUN has rules of its own (see pybpf.program_run).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

__u64 raw_arg1;
__u32 raw_cpu;

SEC("raw_tp/sys_enter")
int raw_args(struct bpf_raw_tracepoint_args *ctx)
{
	raw_arg1 = ctx->args[1];
	raw_cpu = bpf_get_smp_processor_id();
	return 7;
}

struct add_args {
	__u64 a;
	__u64 sum;
};

SEC("syscall")
int add_one(struct add_args *args)
{
	args->sum = args->a + 1;
	return 5;
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;

	keys->ip_proto = 17; /* what the run's data_out (the flow keys) shows */
	return BPF_OK;
}

SEC("sk_lookup")
int port_80(struct bpf_sk_lookup *ctx)
{
	return ctx->local_port == 80 ? SK_PASS : SK_DROP;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
