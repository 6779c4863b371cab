// cpus: v1 v3 v4
// BTF-defined maps: lookup, update, delete through helper calls
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
typedef unsigned int u32;
typedef unsigned long long u64;

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *) 2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *) 3;

struct {
	__uint(type, 1);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, 2);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} config SEC(".maps");

SEC("socket") int maps_btf(u32 *ctx)
{
	u32 key = ctx[0], zero = 0;
	u64 one = 1, *val, *cfg;
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return 0;
	val = bpf_map_lookup_elem(&counts, &key);
	if (val)
		__sync_fetch_and_add(val, *cfg);
	else
		bpf_map_update_elem(&counts, &key, &one, 0);
	if (key == 42)
		bpf_map_delete_elem(&counts, &key);
	return 1;
}
