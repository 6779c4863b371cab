// cpus: v1 v3
// a dense switch statement
#define SEC(x) __attribute__((section(x), used))

SEC("socket") int switch_prog(int *ctx)
{
	switch (ctx[0]) {
	case 0: return ctx[1] + 1;
	case 1: return ctx[2] * 3;
	case 2: return ctx[3] - 7;
	case 3: return ctx[1] ^ 9;
	case 5: return 11;
	case 8: return ctx[2] << 2;
	default: return -1;
	}
}
