// cpus: v1 v4
// byte swaps: be16/be32/be64 before v4, bswap16/32/64 with v4
#define SEC(x) __attribute__((section(x), used))
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

SEC("socket") u64 bswap(u64 *ctx)
{
	u16 a = __builtin_bswap16((u16)ctx[0]);
	u32 b = __builtin_bswap32((u32)ctx[1]);
	u64 c = __builtin_bswap64(ctx[2]);
	return a + b + c;
}
