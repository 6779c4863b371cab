// cpus: v1 v4
// sign-extending register moves (movsx with -mcpu=v4)
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;

SEC("socket") long movsx(u64 *ctx)
{
	u64 v = ctx[0];
	long a = (signed char)v;
	long b = (short)(v >> 8);
	long c = (int)(v >> 16);
	int d = (signed char)(int)ctx[1];
	int e = (short)(int)ctx[2];
	return a + b + c + d + e;
}
