// An fentry program (BPF trampoline): loads only where the kernel allows trampolines.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;
__u64 fentry_hits;

SEC("fentry/do_sys_openat2")
int BPF_PROG(on_fentry_openat2, int dfd, const char *filename)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
