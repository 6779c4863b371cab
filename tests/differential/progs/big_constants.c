// cpus: v1 v4
// 64-bit constants loaded with ld_imm64 (including negative and high-bit values)
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;

SEC("socket") u64 big_constants(u64 *ctx)
{
	u64 a = ctx[0] ^ 0x123456789abcdef0ULL;
	u64 b = ctx[1] + 0xffffffff00000000ULL;
	u64 c = ctx[2] * 0x8000000000000001ULL;
	u64 d = ctx[3] & 0x00000000ffffffffULL;
	u64 e = ctx[4] | 0x100000000ULL;
	return a + b + c + d + e - 0x7fffffffffffffffULL;
}
