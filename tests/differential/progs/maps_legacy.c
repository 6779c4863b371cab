// cpus: v1 v2
// a legacy "maps" section map definition
#define SEC(x) __attribute__((section(x), used))
typedef unsigned int u32;

struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;

struct bpf_map_def SEC("maps") legacy = { .type = 2, .key_size = 4, .value_size = 8, .max_entries = 16 };
struct bpf_map_def SEC("maps") other = { .type = 1, .key_size = 4, .value_size = 4, .max_entries = 8 };

SEC("kprobe/do_sys_open") int maps_legacy(void *ctx)
{
	u32 k = 3;
	long *v = bpf_map_lookup_elem(&legacy, &k);
	u32 *w = bpf_map_lookup_elem(&other, &k);
	return (v ? (int)*v : 0) + (w ? (int)*w : 0);
}
