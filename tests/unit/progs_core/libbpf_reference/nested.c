/* Harder accesses, loaded once by libbpf (bpftool) to record its values; see regen.py:
 * nested structs, fields inside the kernel's anonymous unions, flavors with other member types,
 * typedef roots, and type matching of enums, typedefs and self-referencing structs. */
#include "../core_common.h"

struct sched_entity {
    unsigned long long vruntime;
} __core;

struct task_struct {
    struct sched_entity se;
    char comm[16];
    short pid;                                    /* an int in the kernel */
} __core;

struct task_struct___anon {
    union {
        int pid;                                  /* a plain member in the kernel */
    };
} __core;

struct task_struct___m {                          /* matches: pointers compared by name */
    int pid;
    struct task_struct___m *real_parent;
} __core;

struct task_struct___n {                          /* does not match: pid is a long here */
    long pid;
} __core;

struct sk_buff {
    struct sk_buff *next;                         /* in an anonymous union + struct */
    unsigned int len;
} __core;

typedef int pid_t;

enum bpf_map_type___v2 {
    BPF_MAP_TYPE_RINGBUF = 1,
    BPF_MAP_TYPE_HASH = 2,
};

unsigned long vals[64];

SEC("socket")
int nested(void *ctx)
{
    struct task_struct *t = ctx;
    struct sk_buff *skb = ctx;
    int i = 0;

    vals[i++] = __builtin_preserve_field_info(t->se.vruntime, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(t->se.vruntime, FIELD_BYTE_SIZE);
    vals[i++] = __builtin_preserve_field_info(t->se, FIELD_BYTE_SIZE);
    vals[i++] = __builtin_preserve_field_info(t->comm[15], FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(t->comm, FIELD_BYTE_SIZE);
    vals[i++] = __builtin_preserve_field_info(t->pid, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(t->pid, FIELD_BYTE_SIZE);
    vals[i++] = __builtin_preserve_field_info(t->pid, FIELD_LSHIFT_U64);
    vals[i++] = __builtin_preserve_field_info(t->pid, FIELD_RSHIFT_U64);
    vals[i++] = __builtin_preserve_field_info(((struct task_struct___anon *)ctx)->pid, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(skb->next, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_field_info(skb->len, FIELD_BYTE_OFFSET);
    vals[i++] = __builtin_preserve_type_info(*(struct task_struct___m *)ctx, TYPE_MATCHES);
    vals[i++] = __builtin_preserve_type_info(*(struct task_struct___n *)ctx, TYPE_MATCHES);
    vals[i++] = __builtin_preserve_type_info(*(struct task_struct___n *)ctx, TYPE_EXISTS);
    vals[i++] = __builtin_preserve_type_info(*(pid_t *)ctx, TYPE_SIZE);
    vals[i++] = __builtin_preserve_type_info(*(pid_t *)ctx, TYPE_MATCHES);
    vals[i++] = __builtin_preserve_type_info(*(enum bpf_map_type___v2 *)ctx, TYPE_MATCHES);
    vals[i++] = __builtin_preserve_type_info(*(enum bpf_map_type___v2 *)ctx, TYPE_SIZE);
    vals[i++] = ENUM_VALUE(enum bpf_map_type___v2, BPF_MAP_TYPE_HASH, ENUMVAL_VALUE);
    vals[i++] = __builtin_btf_type_id(*(enum bpf_map_type___v2 *)ctx, TYPE_ID_TARGET);
    return 0;
}
