/* Test binary for watchpoints: maps a page at a fixed address (as bpftrace's own test program
 * does) so the address is known before it runs, then writes the first word argv[1] times and
 * reads it once. With a second argument it first waits for a byte on stdin (for tracing by pid). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define WATCHED ((void *)0x10000000)

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    volatile long *p = mmap(WATCHED, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    if (argc > 2) {
        char go;
        printf("ready\n");
        fflush(stdout);
        if (read(0, &go, 1) != 1)
            return 2;
    }
    for (int i = 0; i < n; i++)
        p[0] = i + 1;
    long seen = p[0];
    printf("wrote %d times, last %ld\n", n, seen);
    return 0;
}
