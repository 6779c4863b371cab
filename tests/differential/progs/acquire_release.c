// cpus: v4
// load-acquire and store-release (LLVM 21+ emits them for cpu v4)
#define SEC(x) __attribute__((section(x), used))
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

SEC("socket") u64 acquire_release(u64 *p)
{
	u64 a = __atomic_load_n(&p[0], __ATOMIC_ACQUIRE);
	u32 b = __atomic_load_n((u32 *)&p[1], __ATOMIC_ACQUIRE);
	u16 c = __atomic_load_n((u16 *)&p[2], __ATOMIC_ACQUIRE);
	u8 d = __atomic_load_n((u8 *)&p[3], __ATOMIC_ACQUIRE);
	__atomic_store_n(&p[4], a, __ATOMIC_RELEASE);
	__atomic_store_n((u32 *)&p[5], b, __ATOMIC_RELEASE);
	__atomic_store_n((u16 *)&p[6], c, __ATOMIC_RELEASE);
	__atomic_store_n((u8 *)&p[7], d, __ATOMIC_RELEASE);
	return a + b + c + d;
}
