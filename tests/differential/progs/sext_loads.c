// cpus: v1 v4
// sign-extending loads (ldsx with -mcpu=v4, shifts before)
#define SEC(x) __attribute__((section(x), used))
typedef signed char s8;
typedef short s16;
typedef int s32;

struct srec { s8 a; s16 b; s32 c; };

SEC("socket") long sext_loads(struct srec *in)
{
	long x = in->a;
	long y = in->b;
	long z = in->c;
	return x * 3 + y * 5 + z;
}
