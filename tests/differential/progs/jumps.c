// cpus: v1 v2 v3 v4
// every conditional jump, signed and unsigned, against registers and immediates
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;
typedef long long s64;

SEC("socket") int jumps(u64 *ctx)
{
	u64 a = ctx[0], b = ctx[1];
	s64 sa = (s64)ctx[2], sb = (s64)ctx[3];
	int r = 0;
	if (a == b) r += 1;
	if (a != 7) r += 2;
	if (a > b) r += 3;
	if (a >= 100) r += 4;
	if (a < b) r += 5;
	if (b <= 9) r += 6;
	if (sa > sb) r += 7;
	if (sa >= -5) r += 8;
	if (sa < sb) r += 9;
	if (sb <= -100) r += 10;
	if (a & 0x40) r += 11;
	if (a & b) r += 12;
	return r;
}
