// cpus: v1 v2 v3 v4
// every 64-bit arithmetic operation, register and immediate forms
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;
typedef long long s64;

SEC("socket") u64 alu64(u64 *ctx)
{
	u64 a = ctx[0], b = ctx[1], c = ctx[2];
	u64 r = a + b;
	r -= c;
	r *= a;
	r /= (b | 1);
	r %= (c | 3);
	r |= a << 7;
	r &= b >> 3;
	r ^= (u64)((s64)c >> 5);
	r += 0x12345;
	r -= 77;
	r *= 13;
	r /= 5;
	r %= 1000003;
	r <<= (a & 31);
	r >>= (b & 31);
	r = (u64)((s64)r >> (c & 31));
	r = -r;
	return r ^ 0xff00ff;
}
