/* Static maps (referenced through the section symbol), string literals in .rodata.str1.1,
 * a function called from a program section and static entry programs. */
#include "elf_test.h"

static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;

static struct {
    __uint(type, MAP_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} first SEC(".maps");

static struct {
    __uint(type, MAP_HASH);
    __uint(max_entries, 8);
    __type(key, u64);
    __type(value, u64);
} second SEC(".maps");

SEC("kprobe/a") int uses_second(void *ctx)
{
    u64 k = 1;
    bpf_trace_printk("hello %d\n", 10, 5);
    return bpf_map_lookup_elem(&second, &k) != 0;
}

SEC("kprobe/b") int uses_first(void *ctx)
{
    u32 k = 1;
    bpf_trace_printk("world\n", 7);
    return bpf_map_lookup_elem(&first, &k) != 0;
}

char LICENSE[] SEC("license") = "GPL";
