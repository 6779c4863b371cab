/* Test binary for uprobe `args` from DWARF: parameters of several types, one of them a float
 * (passed in an SSE register, so the integer registers of the others do not move), and structs
 * passed by value (16 bytes: two integer registers; 24 bytes: on the stack). */
#include <stdio.h>
#include <stdlib.h>

struct pair { long a, b; };
struct big { long a, b, c; };

__attribute__((noinline)) int show(int n, const char *s, double ratio, unsigned char flag, long *where) {
    return printf("%d %s %.1f %u %p\n", n, s, ratio, flag, (void *)where) > 0;
}
__attribute__((noinline)) long after_struct(struct pair p, long x) { return p.a + p.b + x; }
__attribute__((noinline)) long after_big(struct big b, long y) { return b.a + b.b + b.c + y; }

int main(int argc, char **argv) {
    long slot = 0;
    int n = argc > 1 ? atoi(argv[1]) : 42;
    const char *s = argc > 2 ? argv[2] : "hello-args";
    show(n, s, 0.5, 7, &slot);
    struct pair p = {1, 2};
    struct big b = {1, 2, 3};
    return (int)(after_struct(p, 3) + after_big(b, 4)) - 16;
}
