// Stack test target: main -> level1 -> level2 -> level3, built with frame pointers.
// "syscall": waits for a byte on stdin, then level3 makes getppid with an inline `syscall`
// instruction (so the sampled user ip is inside level3, not in a libc wrapper without a frame).
// "spin SECONDS": waits for a byte on stdin, then level3 spins for SECONDS.
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static int spin;
static double seconds;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void level3(void)
{
	if (spin) {
		double end = now() + seconds;

		do {
			for (int i = 0; i < 1000000; i++)
				sink++;
		} while (now() < end);
		return;
	}
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
	sink += ret;
}

__attribute__((noinline)) void level2(void)
{
	level3();
	sink++;
}

__attribute__((noinline)) void level1(void)
{
	level2();
	sink++;
}

int main(int argc, char **argv)
{
	char go;

	spin = argc > 2 && strcmp(argv[1], "spin") == 0;
	if (spin)
		seconds = atof(argv[2]);
	if (read(0, &go, 1) != 1)
		return 1;
	level1();
	return 0;
}
