/* Test binary for watchpoints: maps a page at a fixed address (as bpftrace's own test program
 * does) so the address is known before it runs, then writes the first word argv[1] times and
 * reads it once. With a second argument it first waits for a byte on stdin (for tracing by pid);
 * with "func" as second argument it increments a malloc'd counter through increment() instead
 * ("fs": sleeping 0.3 s after each call). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define WATCHED ((void *)0x10000000)

/* For watchpoint:increment+arg1: the address is the one increment() is given. */
__attribute__((noinline)) void increment(__attribute__((unused)) int unused, int *i) { (*i)++; }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    if (argc > 2 && argv[2][0] == 'f') {  /* "func": n calls of increment, and n writes after each */
        int *i = malloc(sizeof(int));
        *i = 0;
        for (int k = 0; k < n; k++) {
            increment(0, i);
            if (argv[2][1] == 's')  /* "fs": give the tracer time to handle what increment() caused */
                usleep(300000);
            (*i)++;
        }
        printf("counted to %d\n", *i);
        return 0;
    }
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
