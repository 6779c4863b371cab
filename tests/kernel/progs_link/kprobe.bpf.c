// kprobe / ksyscall / fentry programs: attachable only where the kernel has kprobes / trampolines.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;
__u64 kprobe_hits;

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(on_openat2, int dfd, const char *filename)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("ksyscall/openat")
int on_ksys_openat(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
