// cpus: v1 v2
// the only atomic before cpu v3: lock add without fetch
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;
typedef unsigned int u32;

SEC("socket") int atomic_add_v1(u64 *p)
{
	__sync_fetch_and_add(&p[0], 1);
	__sync_fetch_and_add((u32 *)&p[1], 7);
	__sync_fetch_and_add(&p[2], p[3]);
	return 0;
}
