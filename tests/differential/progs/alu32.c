// cpus: v3 v4
// 32-bit arithmetic on w registers (alu32)
#define SEC(x) __attribute__((section(x), used))
typedef unsigned int u32;
typedef int s32;

SEC("socket") int alu32(u32 *ctx)
{
	u32 a = ctx[0], b = ctx[1], c = ctx[2];
	u32 r = a + b;
	r -= c;
	r *= a;
	r /= (b | 1);
	r %= (c | 3);
	r |= a << 7;
	r &= b >> 3;
	r ^= (u32)((s32)c >> 5);
	r += 12345;
	r <<= (a & 15);
	r >>= (b & 15);
	r = (u32)((s32)r >> (c & 15));
	r = -r;
	return r ^ 0xff00ff;
}
