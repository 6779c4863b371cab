// cpus: v1 v3 v4
// bounded loops: backward jumps
#define SEC(x) __attribute__((section(x), used))

SEC("socket") int loops(int *ctx)
{
	int sum = 0;
	#pragma clang loop unroll(disable)
	for (int i = 0; i < 64; i++) {
		if (ctx[i & 7] == i)
			break;
		sum += ctx[i & 7] * i;
	}
	int j = 0;
	#pragma clang loop unroll(disable)
	while (j < 100 && sum > 0) {
		sum -= j * 3;
		j++;
	}
	return sum;
}
