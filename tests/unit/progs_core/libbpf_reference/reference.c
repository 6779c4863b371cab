/* Every relocation kind against the kernel, loaded once by libbpf (bpftool) to record the values
 * libbpf computes; see regen.py. A socket filter: it only stores relocated constants. */
#include "../core_common.h"

#ifndef TASK_BITFIELD
#define TASK_BITFIELD in_execve
#endif

struct sk_buff {
    unsigned char pkt_type:3;  /* in an anonymous struct in the kernel */
    unsigned char fclone:2;
    unsigned int len;
} __core;

struct task_struct {
    unsigned int TASK_BITFIELD:4;
    int pid;
    struct task_struct *real_parent;
    char comm[16];
} __core;

struct task_struct___old { int pid; } __core;      /* a flavor */
struct task_struct___x { int pid_x; } __core;      /* a field the kernel lacks */
struct no_such_struct { int a; } __core;           /* a type the kernel lacks */

enum bpf_map_type {
    BPF_MAP_TYPE_RINGBUF = 1,                     /* deliberately not the kernel's value */
    BPF_MAP_TYPE_NOT_IN_KERNEL = 2,
};

unsigned long vals[64];

#define ALL_KINDS(field)                                                        \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_BYTE_OFFSET);        \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_BYTE_SIZE);          \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_EXISTS);             \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_SIGNED);             \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_LSHIFT_U64);         \
    vals[i++] = __builtin_preserve_field_info(field, FIELD_RSHIFT_U64)

SEC("socket")
int reference(void *ctx)
{
    struct sk_buff *skb = ctx;
    struct task_struct *t = ctx;
    struct task_struct___old *o = ctx;
    int i = 0;

    ALL_KINDS(skb->pkt_type);
    ALL_KINDS(skb->fclone);
    ALL_KINDS(skb->len);
    ALL_KINDS(t->TASK_BITFIELD);
    ALL_KINDS(t->pid);
    ALL_KINDS(o->pid);
    vals[i++] = __builtin_preserve_field_info(t->real_parent, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(t->comm[3], FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(((struct task_struct___x *)ctx)->pid_x, FIELD_EXISTS);
    vals[i++] = ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF, ENUMVAL_VALUE);
    vals[i++] = ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF, ENUMVAL_EXISTS);
    vals[i++] = ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_NOT_IN_KERNEL, ENUMVAL_EXISTS);
    vals[i++] = __builtin_preserve_type_info(*t, TYPE_SIZE);
    vals[i++] = __builtin_preserve_type_info(*skb, TYPE_SIZE);
    vals[i++] = __builtin_preserve_type_info(*t, TYPE_EXISTS);
    vals[i++] = __builtin_preserve_type_info(*(struct no_such_struct *)ctx, TYPE_EXISTS);
    vals[i++] = __builtin_preserve_type_info(*o, TYPE_MATCHES);
    vals[i++] = __builtin_preserve_type_info(*skb, TYPE_MATCHES);
    vals[i++] = __builtin_btf_type_id(*t, TYPE_ID_TARGET);
    vals[i++] = __builtin_btf_type_id(*t, TYPE_ID_LOCAL);
    return 0;
}
