/* Test binary for pybpf trace uprobes: known arguments, return values and strings. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

__attribute__((noinline)) long work(long a, long b) { return a * b + 1; }
__attribute__((noinline)) void greet(const char *s) { puts(s); }
__attribute__((noinline)) char *readline_like(const char *prompt) {
    static char line[64];
    strcpy(line, "echo typed-line");
    (void)prompt;
    return line;
}

volatile long sink;

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < n; i++) {
        greet("hello-uprobe");
        sink += readline_like("$ ")[0];
        sink += work(6, 7 + i);
    }
    return 0;
}
