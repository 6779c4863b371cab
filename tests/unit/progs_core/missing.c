/* Fields the kernel does not have: pid_x is read only behind an existence check (guarded),
 * tgid_x is read unconditionally (a required relocation that cannot be satisfied). */
#include "core_common.h"

struct task_struct___x {
    int pid;
    int pid_x;
    int tgid_x;
} __core;

SEC("tp/sched/sched_switch")
int missing(struct task_struct___x *t, volatile unsigned long *sink)
{
    if (__builtin_preserve_field_info(t->pid_x, FIELD_EXISTS))
        KEEP(t->pid_x);
    KEEP(t->pid);
    KEEP(t->tgid_x);
    return 0;
}
