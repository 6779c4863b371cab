/* task_struct fields as direct loads (LDX offsets) and as builtins (ALU immediates). */
#include "core_common.h"

struct task_struct {
    int pid;
    struct task_struct *real_parent;
    char comm[16];
} __core;

SEC("tp/sched/sched_switch")
int read_task(struct task_struct *t, volatile unsigned long *sink)
{
    KEEP(t->pid);                                                  /* LDX u32 */
    KEEP(t->real_parent);                                          /* LDX u64 */
    KEEP(t->comm[2]);                                              /* LDX u8, access 0:2:2 */
    KEEP(__builtin_preserve_field_info(t->pid, FIELD_BYTE_OFFSET));
    KEEP(__builtin_preserve_field_info(t->real_parent, FIELD_BYTE_OFFSET));
    KEEP(__builtin_preserve_field_info(t->pid, FIELD_BYTE_SIZE));
    KEEP(__builtin_preserve_field_info(t->pid, FIELD_SIGNED));
    KEEP(__builtin_preserve_field_info(t->pid, FIELD_EXISTS));
    KEEP(__builtin_preserve_type_info(*t, TYPE_EXISTS));
    KEEP(__builtin_preserve_type_info(*t, TYPE_SIZE));
    KEEP(__builtin_btf_type_id(*t, TYPE_ID_TARGET));
    KEEP(__builtin_btf_type_id(*t, TYPE_ID_LOCAL));
    return 0;
}
