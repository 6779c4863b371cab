/* Global data in every kind of data section, and kconfig / ksym / kfunc externs. */
#include "elf_test.h"

const volatile u32 min_us = 1000;
const volatile u64 target_pid = 0x1122334455667788ULL;
const volatile char comm[16] = "bash";
u32 counter = 42;
u64 hits[4] = {1, 2, 3, 4};
u64 zeroed;
u32 more_zero[8];
u32 custom_value SEC(".data.custom") = 0xdeadbeef;
const volatile u16 custom_ro SEC(".rodata.custom") = 7;

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern const void bpf_prog_active __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("tp/syscalls/sys_enter_write") int use_globals(void *ctx)
{
    bpf_rcu_read_lock();
    counter += min_us + comm[1];
    hits[2] += target_pid;
    zeroed++;
    more_zero[3] = custom_value + custom_ro;
    bpf_rcu_read_unlock();
    return LINUX_KERNEL_VERSION + CONFIG_HZ + CONFIG_BPF_SYSCALL + (long)&bpf_prog_active;
}

char LICENSE[] SEC("license") = "GPL";
