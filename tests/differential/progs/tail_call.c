// cpus: v1 v3
// bpf_tail_call through a program array
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
typedef unsigned int u32;

static long (*bpf_tail_call)(void *ctx, void *prog_array_map, u32 index) = (void *) 12;

struct {
	__uint(type, 3);
	__uint(max_entries, 8);
	__uint(key_size, 4);
	__uint(value_size, 4);
} jump_table SEC(".maps");

SEC("socket") int tail_call(void *skb)
{
	bpf_tail_call(skb, &jump_table, 2);
	return 0;
}
