/* A field the kernel does not have, read directly (required) and probed (optional). */
#include "core_common.h"

struct task_struct___x {
    int pid;
    int pid_x;
} __core;

SEC("tp/sched/sched_switch")
int missing(struct task_struct___x *t, volatile unsigned long *sink)
{
    if (__builtin_preserve_field_info(t->pid_x, FIELD_EXISTS))
        KEEP(t->pid_x);
    KEEP(t->pid);
    return 0;
}
