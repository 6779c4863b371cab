/* BTF-defined maps with every field, map-in-map with initial slots, a program array. */
#include "elf_test.h"

struct value { u64 packets; u64 bytes; u32 flags; };

struct {
    __uint(type, MAP_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, struct value);
    __uint(map_flags, F_NO_PREALLOC);
} flows SEC(".maps");

struct {
    __uint(type, MAP_ARRAY);
    __uint(max_entries, 16);
    __uint(key_size, 4);
    __uint(value_size, 24);
    __uint(pinning, PIN_BY_NAME);
    __uint(numa_node, 1);
    __uint(map_flags, F_NUMA_NODE);
} sized SEC(".maps");

struct {
    __uint(type, MAP_RINGBUF);
    __uint(max_entries, 1 << 16);
} events SEC(".maps");

struct {
    __uint(type, MAP_BLOOM_FILTER);
    __uint(max_entries, 100);
    __type(value, u64);
    __uint(map_extra, 5);
} bloom SEC(".maps");

struct inner_map {
    __uint(type, MAP_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
    __uint(type, MAP_ARRAY_OF_MAPS);
    __uint(max_entries, 8);
    __type(key, u32);
    __array(values, struct inner_map);
} outer SEC(".maps") = { .values = { [2] = &inner_a, [5] = &inner_b } };

struct {
    __uint(type, MAP_HASH_OF_MAPS);
    __uint(max_entries, 2);
    __type(key, u32);
    __array(values, struct {
        __uint(type, MAP_HASH);
        __uint(max_entries, 32);
        __type(key, u64);
        __type(value, u32);
    });
} outer_hash SEC(".maps");

SEC("xdp") int tail_one(void *ctx) { return 1; }
SEC("xdp") int tail_two(void *ctx) { return 2; }

struct {
    __uint(type, MAP_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __array(values, int (void *));
} jumps SEC(".maps") = { .values = { [0] = (void *)&tail_one, [3] = (void *)&tail_two } };

SEC("xdp") int entry(void *ctx)
{
    u32 key = 0;
    struct value *v = bpf_map_lookup_elem(&flows, &key);
    if (v)
        v->packets++;
    void *in = bpf_map_lookup_elem(&outer, &key);
    if (in)
        bpf_map_lookup_elem(in, &key);
    bpf_map_lookup_elem(&sized, &key);
    bpf_tail_call(ctx, &jumps, 3);
    return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
