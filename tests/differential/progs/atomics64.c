// cpus: v3 v4
// 64-bit atomics: add/or/and/xor with and without fetch, xchg, cmpxchg
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;

SEC("socket") u64 atomics64(u64 *p)
{
	__sync_fetch_and_add(&p[0], 1);
	__sync_fetch_and_or(&p[1], 2);
	__sync_fetch_and_and(&p[2], 3);
	__sync_fetch_and_xor(&p[3], 4);
	u64 a = __sync_fetch_and_add(&p[4], 5);
	u64 b = __sync_fetch_and_or(&p[5], 6);
	u64 c = __sync_fetch_and_and(&p[6], 7);
	u64 d = __sync_fetch_and_xor(&p[7], 8);
	u64 e = __atomic_exchange_n(&p[8], 9, __ATOMIC_SEQ_CST);
	u64 f = __sync_val_compare_and_swap(&p[9], a, b);
	/* relaxed and unused: the non-fetching lock forms */
	__atomic_fetch_add(&p[10], 1, __ATOMIC_RELAXED);
	__atomic_fetch_or(&p[11], 2, __ATOMIC_RELAXED);
	__atomic_fetch_and(&p[12], 3, __ATOMIC_RELAXED);
	__atomic_fetch_xor(&p[13], 4, __ATOMIC_RELAXED);
	return a + b + c + d + e + f;
}
