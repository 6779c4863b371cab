/* Every missing access is behind an existence check: loads in strict mode too. */
#include "core_common.h"

struct task_struct___x {
    int pid;
    int pid_x;
} __core;

struct no_such_struct {
    int a;
} __core;

SEC("tp/sched/sched_switch")
int guarded(struct task_struct___x *t, volatile unsigned long *sink)
{
    if (__builtin_preserve_field_info(t->pid_x, FIELD_EXISTS))
        KEEP(t->pid_x);
    if (__builtin_preserve_type_info(*(struct no_such_struct *)0, TYPE_EXISTS))
        KEEP(((struct no_such_struct *)t)->a);
    KEEP(t->pid);
    return 0;
}
