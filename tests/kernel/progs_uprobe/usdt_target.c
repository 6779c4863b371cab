// Host test binary with USDT probes (<sys/sdt.h> from systemtap-sdt-dev). Waits for a line on
// stdin (so a test can attach first), fires the probes, then prints whether the semaphore-guarded
// probe's code ran ("guarded=1").
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

/* with _SDT_HAS_SEMAPHORES every probe names a semaphore; only "guarded" is tested by the code */
#define SEMAPHORE(name) unsigned short pybpftest_##name##_semaphore __attribute__((unused, section(".probes")))
SEMAPHORE(args);
SEMAPHORE(deref);
SEMAPHORE(guarded);

struct point { int x, y; };

__attribute__((noinline)) static void fire(int n, const char *msg, struct point *pt)
{
	long big = -1234567890123L;
	short neg = (short)-n;
	DTRACE_PROBE5(pybpftest, args, n, neg, msg, big, 5);
	DTRACE_PROBE2(pybpftest, deref, pt->x, pt->y);
}

int main(int argc, char **argv)
{
	char line[16];
	int n = argc > 1 ? atoi(argv[1]) : 42;
	int guarded = 0;
	struct point pt = { n * 2, -n * 3 };

	if (!fgets(line, sizeof line, stdin))
		return 1;
	/* on the stack, so the page is present when the probe reads it (BPF cannot fault pages in) */
	char msg[] = "hello usdt";
	fire(n, msg, &pt);
	if (pybpftest_guarded_semaphore) {
		guarded = 1;
		DTRACE_PROBE1(pybpftest, guarded, n + 1);
	}
	printf("guarded=%d\n", guarded);
	return 0;
}
