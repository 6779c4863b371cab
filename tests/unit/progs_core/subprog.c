/* CO-RE relocations inside a .text subprogram, after a 64-bit immediate load (map value), so
 * that instruction slots and list positions differ. */
#include "core_common.h"

struct task_struct {
    int pid;
    int tgid;
} __core;

unsigned long counter;

static __attribute__((noinline)) long get_tgid(struct task_struct *t)
{
    return t->tgid;
}

SEC("tp/sched/sched_switch")
int with_subprog(struct task_struct *t)
{
    counter += 1;
    return get_tgid(t) + t->pid;
}
