/* A flavored local type: task_struct___old matches the kernel's task_struct. */
#include "core_common.h"

struct task_struct___old {
    int pid;
} __core;

SEC("tp/sched/sched_switch")
int read_old(struct task_struct___old *t, volatile unsigned long *sink)
{
    KEEP(t->pid);
    KEEP(__builtin_preserve_field_info(t->pid, FIELD_BYTE_OFFSET));
    return 0;
}
