// A minimal TCP congestion control as a struct_ops table (registered by writing the map).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("struct_ops/pybpf_ssthresh")
__u32 BPF_PROG(pybpf_ssthresh, struct sock *sk) { return 10; }

SEC("struct_ops/pybpf_undo_cwnd")
__u32 BPF_PROG(pybpf_undo_cwnd, struct sock *sk) { return 10; }

SEC("struct_ops/pybpf_cong_avoid")
void BPF_PROG(pybpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked) { }

SEC("struct_ops/unused")
__u32 BPF_PROG(not_in_any_table, struct sock *sk) { return 1; }

SEC(".struct_ops")
struct tcp_congestion_ops pybpf_ca = {
	.ssthresh = (void *)pybpf_ssthresh,
	.undo_cwnd = (void *)pybpf_undo_cwnd,
	.cong_avoid = (void *)pybpf_cong_avoid,
	.flags = 0,
	.name = "pybpf_test_ca",
};

char LICENSE[] SEC("license") = "GPL";
