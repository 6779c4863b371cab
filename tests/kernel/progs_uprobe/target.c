// Host test binary for uprobes: waits for a line on stdin (so a test can attach with the
// pid filter first), then calls its functions with the number given in argv[1].
#include <stdio.h>
#include <stdlib.h>

int lib_square(int x); /* from libuptarget.so when built with it (-DWITH_LIB) */

__attribute__((noinline)) int add_one(int x)
{
	asm volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) long mul_sub(long a, long b)
{
	asm volatile("" ::: "memory");
	return a * b - 7;
}

int main(int argc, char **argv)
{
	char line[16];
	int n = argc > 1 ? atoi(argv[1]) : 41;
	long r;

	if (!fgets(line, sizeof line, stdin))
		return 1;
	r = add_one(n);
	r += mul_sub(n, 3);
#ifdef WITH_LIB
	r += lib_square(n);
#endif
	void *volatile p = malloc(12345 + n); /* volatile: gcc may not drop the malloc/free pair */
	free(p);
	printf("%ld\n", r);
	return 0;
}
