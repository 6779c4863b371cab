// A shared library with a semaphore-guarded USDT probe (its pc and semaphore are offsets
// into the .so, which is mapped at a random base).
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short pybpftestlib_inlib_semaphore __attribute__((unused, section(".probes")));

__attribute__((noinline)) int lib_probe(int x)
{
	int guarded = 0;

	if (pybpftestlib_inlib_semaphore) {
		guarded = 1;
		DTRACE_PROBE1(pybpftestlib, inlib, x * 2);
	}
	return guarded;
}
