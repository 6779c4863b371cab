/* Bitfields: all six field-info kinds. TASK_BITFIELD names a bitfield of the running kernel's
 * task_struct (the test finds one and passes -DTASK_BITFIELD=name). */
#include "core_common.h"

#ifndef TASK_BITFIELD
#define TASK_BITFIELD in_execve
#endif

struct sk_buff {
    unsigned char pkt_type:3;
    unsigned char fclone:2;
} __core;

struct task_struct {
    unsigned int TASK_BITFIELD:4;
} __core;

#define ALL_KINDS(field)                                                 \
    KEEP(__builtin_preserve_field_info(field, FIELD_BYTE_OFFSET));       \
    KEEP(__builtin_preserve_field_info(field, FIELD_BYTE_SIZE));         \
    KEEP(__builtin_preserve_field_info(field, FIELD_EXISTS));            \
    KEEP(__builtin_preserve_field_info(field, FIELD_SIGNED));            \
    KEEP(__builtin_preserve_field_info(field, FIELD_LSHIFT_U64));        \
    KEEP(__builtin_preserve_field_info(field, FIELD_RSHIFT_U64))

SEC("tp/sched/sched_switch")
int bits(struct sk_buff *skb, struct task_struct *t, volatile unsigned long *sink)
{
    ALL_KINDS(skb->pkt_type);
    ALL_KINDS(skb->fclone);
    ALL_KINDS(t->TASK_BITFIELD);
    return 0;
}
