/* Event generator for bench_trace.py: RATE getppid() syscalls per second for SECONDS, paced in
 * 1 ms steps. Its comm (the binary's name, "trgen") lets the traced programs select it. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long rate = argc > 1 ? atol(argv[1]) : 100000;
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    double start = now();
    long done = 0;
    for (;;) {
        double t = now() - start;
        if (t >= seconds) break;
        long want = (long)(t * rate) + rate / 1000;
        while (done < want) { syscall(SYS_getppid); done++; }
        if (rate < 20000)
            usleep(1000); /* low rates (launch tests) leave the CPUs to the tracer */
        else
            while (now() - start < t + 0.001) { }
    }
    return 0;
}
