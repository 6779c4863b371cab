// cpus: v3 v4
// 32-bit atomics on w registers: add/or/and/xor with and without fetch, xchg, cmpxchg
#define SEC(x) __attribute__((section(x), used))
typedef unsigned int u32;

SEC("socket") u32 atomics32(u32 *p)
{
	__sync_fetch_and_add(&p[0], 1);
	__sync_fetch_and_or(&p[1], 2);
	__sync_fetch_and_and(&p[2], 3);
	__sync_fetch_and_xor(&p[3], 4);
	u32 a = __sync_fetch_and_add(&p[4], 5);
	u32 b = __sync_fetch_and_or(&p[5], 6);
	u32 c = __sync_fetch_and_and(&p[6], 7);
	u32 d = __sync_fetch_and_xor(&p[7], 8);
	u32 e = __atomic_exchange_n(&p[8], 9, __ATOMIC_SEQ_CST);
	u32 f = __sync_val_compare_and_swap(&p[9], a, b);
	/* relaxed and unused: the non-fetching lock forms */
	__atomic_fetch_add(&p[10], 1, __ATOMIC_RELAXED);
	__atomic_fetch_or(&p[11], 2, __ATOMIC_RELAXED);
	__atomic_fetch_and(&p[12], 3, __ATOMIC_RELAXED);
	__atomic_fetch_xor(&p[13], 4, __ATOMIC_RELAXED);
	return a + b + c + d + e + f;
}
