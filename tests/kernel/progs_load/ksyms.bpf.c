// An untyped kernel symbol (its kallsyms address), kfuncs and __kconfig values.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern const void do_unlinkat __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_PYBPF_NOT_A_CONFIG __kconfig __weak;

__u64 unlinkat_addr;
__u32 kernel_version;
int hz;
int bpf_syscall;
int absent = -1;

SEC("syscall")
int read_ksyms(void *ctx)
{
	bpf_rcu_read_lock();
	unlinkat_addr = (__u64)&do_unlinkat;
	kernel_version = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	absent = CONFIG_PYBPF_NOT_A_CONFIG;
	bpf_rcu_read_unlock();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
