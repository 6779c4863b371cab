/*
 * Reference consumer for bench/bench_ringbuf.py and bench/bench_perfbuf.py, built with
 * Debian's libbpf-dev:  gcc -O2 -o consumer consumer.c -lbpf
 *
 *   consumer ringbuf|perfbuf PINNED_MAP COUNT PROGRESS_FILE [PAGE_COUNT [WAKEUP_EVENTS]]
 *
 * Opens the pinned map, consumes COUNT records with libbpf's ring_buffer / perf_buffer
 * (callback per record, counting), writes how many it has consumed into the first 8 bytes of
 * PROGRESS_FILE after each poll (the producer paces itself on it so nothing is lost), and
 * prints "count=N lost=L seconds=S" timed from the first record to the last. WAKEUP_EVENTS > 1
 * (perf buffer only) opens the events with that perf_event_attr.wakeup_events through
 * perf_buffer__new_raw, as PerfBuffer(wakeup_events=...) does.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t *progress;
static long count, lost;
static double first_ts;
static uint64_t seq_sum;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void seen(const void *data)
{
	if (!count)
		first_ts = now();
	count++;
	seq_sum += *(const uint64_t *)data;
}

static int on_ring(void *ctx, void *data, size_t size)
{
	seen(data);
	return 0;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	seen(data);
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	lost += n;
}

struct raw_sample {
	struct perf_event_header header;
	__u32 size;
	char data[];
};

struct lost_record {
	struct perf_event_header header;
	__u64 id;
	__u64 lost;
};

static enum bpf_perf_event_ret on_raw(void *ctx, int cpu, struct perf_event_header *event)
{
	if (event->type == PERF_RECORD_SAMPLE)
		seen(((struct raw_sample *)event)->data);
	else if (event->type == PERF_RECORD_LOST)
		lost += ((struct lost_record *)event)->lost;
	return LIBBPF_PERF_EVENT_CONT;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct perf_buffer *pb = NULL;
	long want;
	int fd, pfd, is_ring;

	if (argc < 5) {
		fprintf(stderr, "usage: %s ringbuf|perfbuf PINNED_MAP COUNT PROGRESS_FILE [PAGE_COUNT]\n", argv[0]);
		return 2;
	}
	is_ring = !strcmp(argv[1], "ringbuf");
	want = atol(argv[3]);
	fd = bpf_obj_get(argv[2]);
	pfd = open(argv[4], O_RDWR);
	if (fd < 0 || pfd < 0) {
		perror("open");
		return 1;
	}
	progress = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	if (progress == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (is_ring)
		rb = ring_buffer__new(fd, on_ring, NULL, NULL);
	else if (argc > 6 && atoi(argv[6]) > 1) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.config = PERF_COUNT_SW_BPF_OUTPUT,
			.sample_type = PERF_SAMPLE_RAW,
			.sample_period = 1,
			.wakeup_events = atoi(argv[6]),
		};

		pb = perf_buffer__new_raw(fd, atoi(argv[5]), &attr, on_raw, NULL, NULL);
	} else
		pb = perf_buffer__new(fd, argc > 5 ? atoi(argv[5]) : 8, on_sample, on_lost, NULL, NULL);
	if (!rb && !pb) {
		perror("ring_buffer__new/perf_buffer__new");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (count < want) {
		int n = is_ring ? ring_buffer__poll(rb, 100) : perf_buffer__poll(pb, 100);

		if (n < 0) {
			fprintf(stderr, "poll failed: %d\n", n);
			return 1;
		}
		if (n == 0)	/* fewer than wakeup_events samples pending: no wakeup came */
			n = is_ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
		*progress = count;
	}
	printf("count=%ld lost=%ld seconds=%.6f seq_sum=%llu\n", count, lost, now() - first_ts,
	       (unsigned long long)seq_sum);
	ring_buffer__free(rb);
	perf_buffer__free(pb);
	return 0;
}
