// cpus: v4
// signed division and modulo (cpu v4)
#define SEC(x) __attribute__((section(x), used))

SEC("socket") long sdiv_smod(long *ctx)
{
	long a = ctx[0], b = ctx[1] | 1;
	int c = (int)ctx[2], d = (int)ctx[3] | 1;
	return a / b + a % b + a / -7 + a % 9 + c / d + c % d + c / 3 + c % -5;
}
