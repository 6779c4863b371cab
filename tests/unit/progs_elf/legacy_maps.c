/* The legacy `maps` section: struct bpf_map_def. */
#include "elf_test.h"

struct bpf_map_def { u32 type; u32 key_size; u32 value_size; u32 max_entries; u32 map_flags; };

struct bpf_map_def SEC("maps") counts = { .type = MAP_HASH, .key_size = 4, .value_size = 8, .max_entries = 256, .map_flags = F_NO_PREALLOC };
struct bpf_map_def SEC("maps") table = { .type = MAP_ARRAY, .key_size = 4, .value_size = 64, .max_entries = 10 };

SEC("socket") int legacy(void *ctx)
{
    u32 k = 1;
    bpf_map_lookup_elem(&table, &k);
    return bpf_map_lookup_elem(&counts, &k) != 0;
}

char LICENSE[] SEC("license") = "GPL";
