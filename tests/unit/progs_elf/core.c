/* CO-RE relocations in a program and in a subprogram it calls; strings in .rodata.str1.1. */
#include "elf_test.h"

struct task_struct { int pid; int tgid; struct task_struct *real_parent; } __attribute__((preserve_access_index));

static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;

static __noinline int parent_tgid(struct task_struct *t)
{
    return __builtin_preserve_access_index(t->real_parent->tgid);
}

SEC("tp_btf/sched_process_fork") int on_fork(u64 *ctx)
{
    struct task_struct *t = (void *)ctx[0];
    static const char fmt[] = "pid %d\n";
    bpf_trace_printk(fmt, sizeof(fmt), t->pid);
    return parent_tgid(t) + __builtin_preserve_access_index(t->tgid);
}

char LICENSE[] SEC("license") = "GPL";
