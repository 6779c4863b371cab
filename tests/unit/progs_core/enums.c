/* Enum values: the local value of BPF_MAP_TYPE_RINGBUF is deliberately wrong (1), so the
 * relocation visibly changes it; NOT_IN_KERNEL does not exist in the kernel's enum. */
#include "core_common.h"

enum bpf_map_type {
    BPF_MAP_TYPE_RINGBUF = 1,
    BPF_MAP_TYPE_NOT_IN_KERNEL = 2,
};

SEC("tp/sched/sched_switch")
int enums(volatile unsigned long *sink)
{
    KEEP(ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF, ENUMVAL_VALUE));
    KEEP(ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF, ENUMVAL_EXISTS));
    KEEP(ENUM_VALUE(enum bpf_map_type, BPF_MAP_TYPE_NOT_IN_KERNEL, ENUMVAL_EXISTS));
    return 0;
}
