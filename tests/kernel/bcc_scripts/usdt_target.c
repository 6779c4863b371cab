// A test binary with a USDT probe: waits for a line on stdin, then fires tick(1..N).
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <time.h>

__attribute__((noinline)) int slow_read(int ms)
{
	struct timespec t = { 0, ms * 1000000L };
	nanosleep(&t, 0);
	return ms;
}

int main(int argc, char **argv)
{
	char line[16];
	int n = argc > 1 ? atoi(argv[1]) : 3;
	if (!fgets(line, sizeof line, stdin))
		return 1;
	for (int i = 1; i <= n; i++) {
		DTRACE_PROBE1(pybpfbcc, tick, i);
		slow_read(10);
	}
	printf("done %d\n", n);
	return 0;
}
